"""One SQLite database and the sqlite3 shell's dot commands, for the SQL kernel.

Jupyter starts a kernel in the notebook's folder, and a teacher hands out a notebook with its
database beside it: so the database opened at start is the first file of that folder, in sorted
order, named ``*.db``, ``*.sqlite``, ``*.sqlite3`` or ``*.db3``; with none, a database in memory
(``.databases`` says so).  The connection is in autocommit mode, so a statement that changes data
is written at once (and a student's own ``BEGIN; … COMMIT;`` still works).
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from capytale_kernels.sql_script import DotCommand, Statement, split_script
from capytale_kernels.tables import Table

DATABASE_PATTERNS = ("*.db", "*.sqlite", "*.sqlite3", "*.db3")
MAX_ROWS = 1000  # rows of a result shown; the others are counted
MAX_READ_DEPTH = 10  # .read of a file that .reads a file…

HELP = """\
Écrivez des requêtes SQL (SQLite), séparées par des « ; » ; le résultat de chaque requête
s'affiche sous forme de tableau. Commandes du shell sqlite3 reconnues :

  .tables [MOTIF]       liste les tables et les vues
  .schema [TABLE]       affiche les instructions CREATE (de toutes les tables, ou d'une seule)
  .databases            indique la base ouverte (son fichier, ou « en mémoire »)
  .open [FICHIER]       ouvre (ou crée) la base FICHIER, relative au dossier du notebook ;
                        sans FICHIER, une base vide en mémoire ; --readonly : en lecture seule
  .read FICHIER         exécute les requêtes du fichier FICHIER
  .headers on|off       accepté et sans effet (les en-têtes sont toujours affichés)
  .help                 cette aide

(English: SQL statements separated by ";", results shown as tables; dot commands above.)"""


class ShellError(Exception):
    """A dot command that cannot be done (unknown command, missing file): said to the student."""


@dataclass(frozen=True)
class Text:
    """What a dot command prints."""

    text: str


Output = Table | Text


class SqliteShell:
    def __init__(self, folder: Path):
        self.folder = folder
        self.path: Path | None = None
        self.readonly = False
        self.connection = self._connect(None, readonly=False)
        found = find_database(folder)
        if found is not None:
            self.open(found)

    def open(self, path: Path | None, readonly: bool = False) -> None:
        """Open ``path`` (created if missing, as the sqlite3 shell does), or a new database in memory."""
        connection = self._connect(path, readonly)
        self.connection.close()
        self.connection, self.path, self.readonly = connection, path, readonly

    def close(self) -> None:
        self.connection.close()

    def run(self, cell: str, depth: int = 0) -> Iterator[Output]:
        """Run a cell's statements and dot commands in order, yielding what each shows.

        Stops at the first error, raised (``sqlite3.Error`` or :class:`ShellError`) once what came
        before it has been yielded.
        """
        for item in split_script(cell):
            if isinstance(item, Statement):
                table = self.execute(item.sql)
                if table is not None:
                    yield table
            else:
                yield from self.dot_command(item, depth)

    def execute(self, sql: str) -> Table | None:
        """Run one statement: the rows it returns (capped at MAX_ROWS), or None if it returns none."""
        cursor = self.connection.execute(sql)
        try:
            if cursor.description is None:
                return None
            columns = tuple(column[0] for column in cursor.description)
            rows = tuple(cursor.fetchmany(MAX_ROWS))
            more = sum(1 for _row in cursor) if len(rows) == MAX_ROWS else 0
            return Table(columns, rows, more)
        finally:
            cursor.close()

    def dot_command(self, command: DotCommand, depth: int) -> Iterator[Output]:
        arguments = command.arguments
        if command.name == "tables":
            yield Text(self._tables(arguments[0] if arguments else "%"))
        elif command.name == "schema":
            yield Text(self._schema(arguments[0] if arguments else "%"))
        elif command.name == "databases":
            yield Text(self._databases())
        elif command.name == "open":
            self._open_command(arguments)
        elif command.name == "read":
            if len(arguments) != 1:
                raise ShellError("usage : .read FICHIER")
            if depth >= MAX_READ_DEPTH:
                raise ShellError(f".read imbriqués trop profondément ({MAX_READ_DEPTH})")
            yield from self.run(self._read(arguments[0]), depth + 1)
        elif command.name in ("headers", "header"):
            pass  # headers are always shown
        elif command.name == "help":
            yield Text(HELP)
        else:
            raise ShellError(f"commande inconnue : .{command.name} (voir .help)")

    def _connect(self, path: Path | None, readonly: bool) -> sqlite3.Connection:
        # Used by the kernel's main thread only, but closed at shutdown from its control thread.
        options: dict[str, Any] = {"isolation_level": None, "check_same_thread": False}
        if path is None:
            return sqlite3.connect(":memory:", **options)
        if readonly:
            return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, **options)
        return sqlite3.connect(path, **options)

    def _open_command(self, arguments: tuple[str, ...]) -> None:
        readonly = "--readonly" in arguments
        names = [argument for argument in arguments if argument != "--readonly"]
        unknown = [name for name in names if name.startswith("--")]
        if unknown or len(names) > 1:
            raise ShellError("usage : .open [--readonly] [FICHIER]")
        path = self.folder / names[0] if names else None
        try:
            self.open(path, readonly)
        except sqlite3.Error as exc:
            raise ShellError(f"impossible d'ouvrir {names[0]} : {exc}") from exc

    def _read(self, name: str) -> str:
        try:
            return (self.folder / name).read_text(encoding="utf-8")
        except OSError as exc:
            raise ShellError(f"impossible de lire {name} : {exc.strerror or exc}") from exc

    def _tables(self, pattern: str) -> str:
        names = [row[0] for row in self.connection.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'"
            " AND name LIKE ? ORDER BY name", (pattern,))]
        if not names:
            return "(aucune table)"
        return in_columns(names)

    def _schema(self, pattern: str) -> str:
        statements = [row[0] + ";" for row in self.connection.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
            " AND (name LIKE ?1 OR tbl_name LIKE ?1)"
            " ORDER BY tbl_name, type DESC, name", (pattern,))]
        return "\n".join(statements) if statements else "(aucune table)"

    def _databases(self) -> str:
        lines = []
        for _seq, name, file in self.connection.execute("PRAGMA database_list"):
            mode = "lecture seule" if self.readonly and name == "main" else "lecture/écriture"
            where = file or "(base en mémoire : aucun fichier .db dans le dossier du notebook)"
            lines.append(f"{name}: {where} ({mode})")
        return "\n".join(lines)


def find_database(folder: Path) -> Path | None:
    """The database a notebook's folder provides: the first, in sorted order, of its *.db, *.sqlite… files."""
    found = {path for pattern in DATABASE_PATTERNS for path in folder.glob(pattern) if path.is_file()}
    return min(found, key=lambda path: path.name) if found else None


def in_columns(names: list[str], width: int = 80) -> str:
    """Names side by side in columns, as the sqlite3 shell lists tables."""
    column = max(len(name) for name in names) + 2
    per_line = max(1, width // column)
    rows = [names[i:i + per_line] for i in range(0, len(names), per_line)]
    return "\n".join("".join(name.ljust(column) for name in row).rstrip() for row in rows)
