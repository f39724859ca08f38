"""A query's rows as the notebook shows them: an HTML table, and a text table for text-only front ends.

Every value goes through :func:`html.escape`: a database is data, and a ``<script>`` in a column
must show as text, never run in the student's page.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

TEXT_CELL_WIDTH = 40  # characters of a value in the text table, beyond which it is cut


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    more: int = 0  # rows of the result that are not in ``rows`` (over the display cap)

    def to_mimebundle(self) -> dict[str, str]:
        return {"text/html": to_html(self), "text/plain": to_text(self)}


def show_value(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return f"<BLOB de {len(value)} octets>"
    return str(value)


def summary(table: Table) -> str:
    """``(3 lignes)``; over the cap, ``1000 lignes affichées sur 1500 (500 de plus)``."""
    shown = len(table.rows)
    if table.more:
        return f"{shown} lignes affichées sur {shown + table.more} ({table.more} de plus)"
    if shown == 0:
        return "(aucune ligne)"
    return "(1 ligne)" if shown == 1 else f"({shown} lignes)"


def to_html(table: Table) -> str:
    head = "".join(f"<th>{html.escape(name)}</th>" for name in table.columns)
    body = "".join(
        "<tr>" + "".join(_html_cell(value) for value in row) + "</tr>" for row in table.rows)
    return (f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"<p><small>{html.escape(summary(table))}</small></p>")


def _html_cell(value: Any) -> str:
    text = html.escape(show_value(value))
    if value is None or isinstance(value, bytes):
        return f"<td><i>{text}</i></td>"
    if isinstance(value, (int, float)):
        return f'<td style="text-align: right">{text}</td>'
    return f"<td>{text}</td>"


def to_text(table: Table) -> str:
    header = [_cut(name) for name in table.columns]
    lines = [[_cut(show_value(value).replace("\n", " ")) for value in row] for row in table.rows]
    widths = [max([len(header[i]), *(len(line[i]) for line in lines)]) for i in range(len(header))]

    def line_of(cells: list[str]) -> str:
        return " | ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    rule = "-+-".join("-" * width for width in widths)
    return "\n".join([line_of(header), rule, *(line_of(line) for line in lines), summary(table)])


def _cut(text: str) -> str:
    return text if len(text) <= TEXT_CELL_WIDTH else text[:TEXT_CELL_WIDTH - 1] + "…"
