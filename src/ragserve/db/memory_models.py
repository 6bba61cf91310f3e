"""The memory tables (RAGFlow 0.23's memory API): memories and their messages. Imported by
``db.models``, so that every table is on ``Base.metadata`` whichever module is imported."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from ragserve.db.base import ID_LENGTH, Base, Record
from ragserve.timeutil import now_ms


class Memory(Record):
    """A memory (RAGFlow 0.23's ``memory`` table): where agent turns are kept, and what the
    memory's chat model extracts from them. ``memory_type`` is RAGFlow's bit field (raw 1,
    semantic 2, episodic 4, procedural 8); ``memory_size`` caps the bytes of its messages.
    The rows go with their tenant, the messages with their memory."""

    __tablename__ = "memory"

    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenant.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(128), index=True)
    avatar: Mapped[str | None] = mapped_column(Text, default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    memory_type: Mapped[int] = mapped_column(Integer, default=1)
    storage_type: Mapped[str] = mapped_column(String(16), default="table")
    embd_id: Mapped[str] = mapped_column(String(255))
    llm_id: Mapped[str] = mapped_column(String(255))
    permissions: Mapped[str] = mapped_column(String(16), default="me")
    memory_size: Mapped[int] = mapped_column(BigInteger, default=5 * 1024 * 1024)
    forgetting_policy: Mapped[str] = mapped_column(String(16), default="FIFO")
    temperature: Mapped[float] = mapped_column(Float, default=0.5)
    system_prompt: Mapped[str] = mapped_column(Text, default="")
    user_prompt: Mapped[str] = mapped_column(Text, default="")


class MemoryMessage(Base):
    """One message of a memory, addressed as ``memory_id:id`` (RAGFlow's int message ids): a
    raw turn (``source_id`` 0), or an item the chat model extracted from the raw turn
    ``source_id``. ``extraction`` is the raw turn's task state (queued, running, done, failed:
    ``extraction_error``), held by a worker until ``extraction_lease`` (ms), tried
    ``extraction_attempts`` times; its items and its own ``embedding`` exist once it is done,
    and only embedded, enabled, unforgotten messages are searched. ``size`` counts toward the
    memory's ``memory_size``; ``tokens`` is the content tokenized for the term side of the
    search."""

    __tablename__ = "memory_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    memory_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("memory.id", ondelete="CASCADE"), index=True
    )
    message_type: Mapped[str] = mapped_column(String(16), default="raw")
    source_id: Mapped[int] = mapped_column(Integer, default=0, index=True)
    user_id: Mapped[str] = mapped_column(String(255), default="")
    agent_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    session_id: Mapped[str] = mapped_column(String(255), default="")
    content: Mapped[str] = mapped_column(Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"))
    tokens: Mapped[str] = mapped_column(
        Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"), default=""
    )
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    size: Mapped[int] = mapped_column(Integer, default=0)
    valid_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    invalid_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    forget_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    status: Mapped[bool] = mapped_column(Boolean, default=True)
    extraction: Mapped[str] = mapped_column(String(16), default="done")
    extraction_error: Mapped[str] = mapped_column(Text, default="")
    extraction_lease: Mapped[int] = mapped_column(BigInteger, default=0)
    extraction_attempts: Mapped[int] = mapped_column(Integer, default=0)
    create_time: Mapped[int] = mapped_column(BigInteger, default=now_ms, index=True)
