"""Free names for duplicates, RAGFlow style: ``a.txt`` -> ``a(1).txt``; ``a(1)`` -> ``a(2)``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

_NUMBERED = re.compile(r"^(.*)\((\d+)\)$", re.DOTALL)
MAX_NUMBER = 999_999
NAME_ATTEMPTS = 20
"""Free names tried by ``add_with_free_name`` while concurrent inserts take them first."""


def split_extension(name: str) -> tuple[str, str]:
    """``("a", ".txt")`` for ``a.txt``; a dotfile such as ``.env`` has no extension."""
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        return name, ""
    return stem, "." + extension


def truncate_utf8(text: str, max_bytes: int) -> str:
    return text.encode()[: max(0, max_bytes)].decode(errors="ignore")


def free_name(
    name: str,
    is_taken: Callable[[str], bool],
    *,
    keep_extension: bool = False,
    max_bytes: int | None = None,
) -> str:
    """``name`` if it is free, else the first free ``stem(n)[.ext]`` counting up from 1, or from
    one past ``n`` when the name is already numbered. Stems are cut so the result fits
    ``max_bytes`` (UTF-8)."""
    if not is_taken(name):
        return name
    stem, extension = split_extension(name) if keep_extension else (name, "")
    first = 1
    numbered = _NUMBERED.match(stem)
    if numbered:
        stem, first = numbered.group(1), int(numbered.group(2)) + 1
    for number in range(first, MAX_NUMBER + 1):
        suffix = f"({number}){extension}"
        base = stem if max_bytes is None else truncate_utf8(stem, max_bytes - len(suffix.encode()))
        candidate = base + suffix
        if not is_taken(candidate):
            return candidate
    raise ValueError(f"no free name for {name}")


def shortest_stem(name: str, *, keep_extension: bool, max_bytes: int | None) -> str:
    """The prefix every candidate of ``free_name`` starts with (for one prefix query)."""
    stem, extension = split_extension(name) if keep_extension else (name, "")
    numbered = _NUMBERED.match(stem)
    if numbered:
        stem = numbered.group(1)
    if max_bytes is None:
        return stem
    return truncate_utf8(stem, max_bytes - len(f"({MAX_NUMBER}){extension}".encode()))


def free_name_among(
    session: Session,
    column: InstrumentedAttribute[str],
    scope: ColumnElement[bool],
    name: str,
    max_bytes: int,
) -> str:
    """``free_name`` (extension kept) of ``name`` among the ``column`` values of the rows
    ``scope`` selects; only those sharing its shortest stem are read."""
    prefix = shortest_stem(name, keep_extension=True, max_bytes=max_bytes)
    taken = set(
        session.scalars(select(column).where(scope, column.startswith(prefix, autoescape=True)))
    )
    return free_name(name, taken.__contains__, keep_extension=True, max_bytes=max_bytes)


def add_with_free_name(
    session: Session,
    row: Any,
    free: Callable[[str], str],
    refused: Callable[[str], Exception],
) -> None:
    """Add ``row`` (it has a ``name``) under ``free(name)``; when a concurrent insert takes
    that name first (a unique index refuses it), under the next free one, up to
    ``NAME_ATTEMPTS`` times; then ``refused(name)`` is raised."""
    wanted = row.name
    for _ in range(NAME_ATTEMPTS):
        row.name = free(wanted)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            continue
        return
    raise refused(wanted)
