"""A SQL cell cut into what the sqlite3 shell would run: SQL statements and dot commands, in order.

As in the sqlite3 shell, a line starting with ``.`` where no statement is under way is a dot
command (``.tables``, ``.open autre.db``); anything else is SQL, cut into statements with
:func:`sqlite3.complete_statement` (so a ``;`` inside a string, a comment or a trigger body does not
cut).  The last statement of a cell may lack its ``;``, as students write ``SELECT * FROM Communes``.
"""
from __future__ import annotations

import re
import shlex
import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class Statement:
    sql: str


@dataclass(frozen=True)
class DotCommand:
    name: str  # without its dot: "tables"
    arguments: tuple[str, ...]


ScriptItem = Statement | DotCommand

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?(\*/|\Z)", re.DOTALL)


def is_blank(sql: str) -> bool:
    """Only white space and comments: nothing for SQLite to run."""
    return not _COMMENTS.sub("", sql).strip()


def parse_dot_command(line: str) -> DotCommand:
    """``.open "mon fichier.db"`` → ``DotCommand("open", ("mon fichier.db",))`` (quotes as in a shell)."""
    try:
        words = shlex.split(line.strip()[1:])
    except ValueError:  # an unclosed quote: taken as it is
        words = line.strip()[1:].split()
    if not words:
        return DotCommand("", ())
    return DotCommand(words[0].lower(), tuple(words[1:]))


def split_script(text: str) -> list[ScriptItem]:
    items: list[ScriptItem] = []
    pending = ""
    for line in text.splitlines(keepends=True):
        if is_blank(pending) and line.lstrip().startswith("."):
            pending = ""
            items.append(parse_dot_command(line))
            continue
        pending += line
        statements, pending = _complete_statements(pending)
        items.extend(statements)
    if not is_blank(pending):
        items.append(Statement(pending.strip()))
    return items


def _complete_statements(text: str) -> tuple[list[Statement], str]:
    """The complete statements at the start of ``text``, and what is left after them."""
    statements: list[Statement] = []
    start = 0
    for index, char in enumerate(text):
        if char == ";" and sqlite3.complete_statement(text[start:index + 1]):
            sql = text[start:index + 1]
            if not is_blank(sql[:-1]):
                statements.append(Statement(sql.strip()))
            start = index + 1
    return statements, text[start:]
