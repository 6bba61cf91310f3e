"""Table blocks as text: column names, ``col: value`` rows, HTML, and row-wise splitting."""

from __future__ import annotations

import html
import re
import sys

from ragserve.ingest.chunkers.base import CountTokens
from ragserve.ingest.chunkers.split import fit
from ragserve.ingest.types import Block

Row = tuple[str, ...]


def _clean(cell: object) -> str:
    return re.sub(r"\s+", " ", str(cell)).strip()


def column_names(block: Block) -> list[str]:
    """The header cells (``Column N`` where a header cell is blank or missing), made unique."""
    width = max((len(row) for row in block.rows), default=0)
    header = [_clean(cell) for cell in block.rows[0]] if block.has_header and block.rows else []
    names: list[str] = []
    for index in range(width):
        name = (header[index] if index < len(header) else "") or f"Column {index + 1}"
        unique, suffix = name, 2
        while unique in names:
            unique, suffix = f"{name} ({suffix})", suffix + 1
        names.append(unique)
    return names


def data_rows(block: Block) -> list[Row]:
    """The rows after the header, without rows whose cells are all blank; cells cleaned."""
    rows = block.rows[1:] if block.has_header else block.rows
    cleaned = [tuple(_clean(cell) for cell in row) for row in rows]
    return [row for row in cleaned if any(row)]


def row_fields(names: list[str], row: Row) -> dict[str, str]:
    """``{column: value}`` for every column (``""`` for a missing cell)."""
    return {name: (row[i] if i < len(row) else "") for i, name in enumerate(names)}


def row_text(names: list[str] | None, row: Row) -> str:
    """``"col1: v1; col2: v2"`` without blank cells; just the values when there is no header."""
    if names is None:
        return "; ".join(cell for cell in row if cell)
    return "; ".join(f"{name}: {value}" for name, value in row_fields(names, row).items() if value)


def _html_row(cells: Row | list[str], tag: str) -> str:
    return "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>"


def render(block: Block, as_html: bool) -> str:
    """The whole table as text (one ``col: value`` line per row) or as one HTML table."""
    return "\n".join(table_parts(block, as_html, None, lambda _text: 0))


def _wrap(lead: str, head: str, lines: list[str], as_html: bool) -> str:
    body = "<table>" + head + "".join(lines) + "</table>" if as_html else "\n".join(lines)
    return f"{lead}\n{body}" if lead else body


def table_parts(
    block: Block, as_html: bool, budget: int | None, count_tokens: CountTokens, prefix: str = ""
) -> list[str]:
    """The table cut between rows into parts of at most ``budget`` tokens (``None``: no limit).

    HTML parts repeat the header row; text rows carry their column names anyway. ``prefix``
    (e.g. the heading above the table) starts the first part. A row too long for a part of its
    own is cut as text. A table without rows falls back to the block's ``text``.
    """
    limit = budget if budget is not None else sys.maxsize
    names = column_names(block) if block.has_header else None
    rows = data_rows(block)
    if not rows:
        text = "\n".join(t for t in (prefix, block.text.strip()) if t)
        return [part for part in fit(text, limit, limit, count_tokens) if part] if text else []
    head = _html_row(names, "th") if as_html and names else ""
    fixed = count_tokens(head) + (count_tokens("<table></table>") if as_html else 0)
    newline = count_tokens("\n")
    parts: list[str] = []
    current: list[str] = []
    lead = prefix
    lead_cost = count_tokens(prefix) + newline if prefix else 0
    used = fixed + lead_cost
    for row in rows:
        line = _html_row(row, "td") if as_html else row_text(names, row)
        cost = count_tokens(line) + (newline if current and not as_html else 0)
        if current and used + cost > limit:
            parts.append(_wrap(lead, head, current, as_html))
            current, lead, lead_cost = [], "", 0
            used, cost = fixed, count_tokens(line)
        if used + cost <= limit:
            current.append(line)
            used += cost
            continue
        pieces = fit(row_text(names, row), limit - lead_cost, limit, count_tokens)
        first = "\n".join(t for t in (lead, pieces[0]) if t)
        parts.extend(piece for piece in (first, *pieces[1:]) if piece)
        lead, lead_cost, used = "", 0, fixed
    if current:
        parts.append(_wrap(lead, head, current, as_html))
    return parts
