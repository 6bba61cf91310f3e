"""One page of a web list that RAGFlow sorts and filters the same way (``/v1/mcp_server/list``,
``/v1/search/list``): ``keywords`` in the name (any case), sorted by ``orderby``
(``create_time``, ``update_time`` or ``name``; then the id) newest first unless ``desc`` is
``false``, and every row when ``page`` or ``page_size`` is 0."""

from __future__ import annotations

from typing import Any, Protocol, TypeVarTuple

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

Row = TypeVarTuple("Row")


class NamedListQuery(Protocol):
    @property
    def keywords(self) -> str: ...
    @property
    def orderby(self) -> str: ...
    @property
    def desc(self) -> str: ...
    @property
    def page(self) -> int: ...
    @property
    def page_size(self) -> int: ...


def named_page(
    session: Session, statement: Select[*Row], table: Any, query: NamedListQuery
) -> tuple[Select[*Row], int]:
    """``statement`` (over ``table``, a model with ``id``, ``name``, ``create_time`` and
    ``update_time``) filtered, sorted and cut to the page; and how many rows match in all."""
    if query.keywords:
        statement = statement.where(
            func.lower(table.name).contains(query.keywords.lower(), autoescape=True)
        )
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    column = {
        "create_time": table.create_time,
        "update_time": table.update_time,
        "name": table.name,
    }.get(query.orderby, table.create_time)
    descending = query.desc.lower() != "false"
    statement = statement.order_by(
        column.desc() if descending else column.asc(),
        table.id.desc() if descending else table.id.asc(),
    )
    if query.page and query.page_size:
        statement = statement.offset((query.page - 1) * query.page_size).limit(query.page_size)
    return statement, total
