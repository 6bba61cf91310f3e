"""Declarative base and the columns every RAGFlow table has (id, create/update time and date)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ragserve.timeutil import new_id, now_ms, utc_now

ID_LENGTH = 32

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Record(Base):
    """A row with a 32-hex id and RAGFlow's four timestamp columns (UTC, naive in the DB)."""

    __abstract__ = True

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    create_time: Mapped[int] = mapped_column(BigInteger, default=now_ms, index=True)
    create_date: Mapped[datetime] = mapped_column(
        DateTime, default=lambda: utc_now().replace(tzinfo=None)
    )
    update_time: Mapped[int] = mapped_column(BigInteger, default=now_ms, onupdate=now_ms)
    update_date: Mapped[datetime] = mapped_column(
        DateTime,
        default=lambda: utc_now().replace(tzinfo=None),
        onupdate=lambda: utc_now().replace(tzinfo=None),
    )
