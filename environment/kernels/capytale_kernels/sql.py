"""The SQL kernel: SQLite (Python's ``sqlite3``) behind metakernel, with the sqlite3 shell's dot commands.

``python -m capytale_kernels.sql -f {connection_file}`` (the ``sql`` kernelspec, the name that SQL
notebooks such as Basthon's carry).  Cells are raw SQL (``SELECT * FROM Communes``) and dot commands
(``.tables``); which database is open is :mod:`capytale_kernels.sqlite_shell`'s business.  A query's
rows are shown as a table (HTML, escaped, and text); the last one is the cell's result.  An error
(``no such table: Communes``) is the cell's error, so that "stop on error" works.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from metakernel import ExceptionWrapper

from capytale_kernels import __version__
from capytale_kernels.base import CapytaleKernel
from capytale_kernels.sqlite_shell import ShellError, SqliteShell, Text
from capytale_kernels.tables import Table

KEYWORDS = (
    "SELECT", "FROM", "WHERE", "GROUP BY", "HAVING", "ORDER BY", "LIMIT", "OFFSET", "DISTINCT",
    "JOIN", "INNER JOIN", "LEFT JOIN", "ON", "AS", "AND", "OR", "NOT", "IN", "IS NULL", "LIKE",
    "BETWEEN", "UNION", "INTERSECT", "EXCEPT", "COUNT", "SUM", "AVG", "MIN", "MAX", "INSERT INTO",
    "VALUES", "UPDATE", "SET", "DELETE FROM", "CREATE TABLE", "PRIMARY KEY", "FOREIGN KEY",
    "REFERENCES", "DROP TABLE", "ASC", "DESC",
)
DOT_COMMANDS = (".tables", ".schema", ".databases", ".open", ".read", ".headers", ".help")


class SQLKernel(CapytaleKernel):
    implementation = "capytale-sql"
    implementation_version = __version__
    language = "sql"
    language_version = sqlite3.sqlite_version
    banner = f"SQL (SQLite {sqlite3.sqlite_version})"
    app_name = "capytale_sql"
    language_info = {
        "name": "sql",
        "mimetype": "text/x-sql",
        "file_extension": ".sql",
        "codemirror_mode": "sql",
        "pygments_lexer": "sql",
        "version": sqlite3.sqlite_version,
    }
    identifier_regex = r"\.?[^\d\W][\w\.]*"  # so that ".tab" completes to ".tables"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sqlite = SqliteShell(Path(os.getcwd()))

    def do_execute_direct(self, code: str, silent: bool = False) -> Any:
        held: Table | Text | None = None  # the last output is the cell's result: each is shown when the next comes
        try:
            for output in self.sqlite.run(code):
                if held is not None and not silent:
                    self._show(held)
                held = output
        except (sqlite3.Error, ShellError) as exc:
            if held is not None and not silent:
                self._show(held)
            name = type(exc).__name__
            message = str(exc)
            return ExceptionWrapper(name, message, [f"{name}: {message}"])
        if isinstance(held, Table):
            return held.to_mimebundle()
        if held is not None and not silent:
            self._show(held)
        return None

    def _show(self, output: Table | Text) -> None:
        if isinstance(output, Table):
            self.send_response(self.iopub_socket, "display_data",
                               {"data": output.to_mimebundle(), "metadata": {}})
        else:
            self.send_response(self.iopub_socket, "stream", {"name": "stdout", "text": output.text + "\n"})

    def get_completions(self, info: dict[str, Any]) -> list[str]:
        """Dot commands, keywords, and the database's tables and columns that start with what was typed."""
        typed = info.get("obj", "")
        if typed.startswith("."):
            return [command for command in DOT_COMMANDS if command.startswith(typed)]
        words = [*KEYWORDS, *self._names()]
        prefix = typed.lower()
        return sorted({word for word in words if word.lower().startswith(prefix)}) if prefix else []

    def _names(self) -> list[str]:
        try:
            tables = [row[0] for row in self.sqlite.connection.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
            columns = [row[1] for table in tables for row in self.sqlite.connection.execute(
                f"PRAGMA table_info({_quoted(table)})")]
        except sqlite3.Error:
            return []
        return [*tables, *columns]

    def release(self) -> None:
        self.sqlite.close()


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def main() -> None:
    SQLKernel.run_as_main()


if __name__ == "__main__":
    main()
