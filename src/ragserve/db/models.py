"""The metadata tables. RAGFlow's model: a user owns a tenant with the same id; a tenant owns
datasets, a dataset owns documents."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column, validates

from ragserve.db.base import ID_LENGTH, Record
from ragserve.db.memory_models import Memory, MemoryMessage  # noqa: F401  (its tables, here too)
from ragserve.domain import Permission, RunState, Validity


class TenantRole(enum.StrEnum):
    OWNER = "owner"
    NORMAL = "normal"
    INVITE = "invite"


class User(Record):
    __tablename__ = "user"

    email: Mapped[str] = mapped_column(String(255), unique=True)
    nickname: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    # Rotated on every login; the signed web session token carries it.
    access_token: Mapped[str] = mapped_column(String(64), index=True)
    avatar: Mapped[str | None] = mapped_column(Text, default=None)
    language: Mapped[str] = mapped_column(String(32), default="English")
    color_schema: Mapped[str] = mapped_column(String(32), default="Bright")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC+8\tAsia/Shanghai")
    last_login_time: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    login_channel: Mapped[str] = mapped_column(String(32), default="password")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)


class Tenant(Record):
    __tablename__ = "tenant"

    name: Mapped[str] = mapped_column(String(255))
    llm_id: Mapped[str] = mapped_column(String(255), default="")
    embd_id: Mapped[str] = mapped_column(String(255), default="")
    asr_id: Mapped[str] = mapped_column(String(255), default="")
    img2txt_id: Mapped[str] = mapped_column(String(255), default="")
    rerank_id: Mapped[str] = mapped_column(String(255), default="")
    tts_id: Mapped[str] = mapped_column(String(255), default="")
    parser_ids: Mapped[str] = mapped_column(String(512), default="")


class UserTenant(Record):
    __tablename__ = "user_tenant"

    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenant.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16), default=TenantRole.OWNER)


class ApiToken(Record):
    """An API key. Only a SHA-256 of the secret is stored; ``token_prefix`` is what lists show.
    The ``beta`` token of embedded widgets is kept readable, encrypted (``beta_secret``,
    ``services.secrets.SecretBox``), because listings show it as RAGFlow's do."""

    __tablename__ = "api_token"

    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenant.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(32))
    beta_hash: Mapped[str] = mapped_column(String(64), index=True)
    beta_secret: Mapped[str | None] = mapped_column(Text, default=None)
    dialog_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    source: Mapped[str | None] = mapped_column(String(16), default=None)


def _case_sensitive_name(length: int) -> String:
    """A name column compared byte-for-byte everywhere (MariaDB's default collation folds case
    and accents, which would make unique indexes disagree with SQLite and PostgreSQL)."""
    return String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


class Dataset(Record):
    """RAGFlow's knowledge base. Document and chunk counts are derived from the documents."""

    __tablename__ = "dataset"
    __table_args__ = (UniqueConstraint("tenant_id", "name_key"),)

    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenant.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    # The name folded to lower case: names are unique per tenant regardless of case.
    name_key: Mapped[str] = mapped_column(_case_sensitive_name(255))
    avatar: Mapped[str | None] = mapped_column(Text, default=None)
    language: Mapped[str] = mapped_column(String(32), default="English")
    description: Mapped[str | None] = mapped_column(Text, default=None)
    embedding_model: Mapped[str] = mapped_column(String(255))
    permission: Mapped[str] = mapped_column(String(16), default=Permission.ME)
    created_by: Mapped[str] = mapped_column(String(ID_LENGTH))
    similarity_threshold: Mapped[float] = mapped_column(Float, default=0.2)
    vector_similarity_weight: Mapped[float] = mapped_column(Float, default=0.3)
    chunk_method: Mapped[str] = mapped_column(String(32), default="naive")
    pipeline_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    parser_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    pagerank: Mapped[int] = mapped_column(Integer, default=0)


class Document(Record):
    __tablename__ = "document"
    __table_args__ = (
        UniqueConstraint("dataset_id", "name"),
        # Covers the fingerprint of a dataset's documents (count, sum and max of update_time)
        # that validates cached metadata filters (services/metadata_scope.py).
        Index("ix_document_dataset_id_update_time", "dataset_id", "update_time"),
    )

    dataset_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("dataset.id", ondelete="CASCADE"), index=True
    )
    # The dataset's tenant, kept here so blob keys and scoping need no join.
    tenant_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    name: Mapped[str] = mapped_column(_case_sensitive_name(255))
    # The name case-folded in Python (SQL lower() is ASCII-only on SQLite), for keyword search.
    name_folded: Mapped[str] = mapped_column(String(255), default="")
    suffix: Mapped[str] = mapped_column(String(32), default="")
    type: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    thumbnail: Mapped[str] = mapped_column(Text, default="")
    source_type: Mapped[str] = mapped_column(String(32), default="local")
    created_by: Mapped[str] = mapped_column(String(ID_LENGTH))
    chunk_method: Mapped[str] = mapped_column(String(32))
    pipeline_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    parser_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    meta_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    token_count: Mapped[int] = mapped_column(Integer, default=0)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    progress_msg: Mapped[str] = mapped_column(Text, default="")
    process_begin_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    process_duration: Mapped[float] = mapped_column(Float, default=0.0)
    run: Mapped[str] = mapped_column(String(1), default=RunState.UNSTART.value)
    status: Mapped[str] = mapped_column(String(1), default=Validity.VALID.value)
    # The blob key of a file-manager file this document was converted from (its bytes are
    # shared, not copied); NULL: the document's own blob under ``<tenant>/<dataset>/<id>``.
    location: Mapped[str | None] = mapped_column(String(512), default=None)

    @validates("name")
    def _fold_name(self, _key: str, name: str) -> str:
        self.name_folded = name.casefold()
        return name

    @property
    def owns_blob(self) -> bool:
        """Whether deleting the document deletes its bytes (a file's are the file's)."""
        return self.location is None

    @property
    def blob_key(self) -> str:
        return self.location or f"{self.tenant_id}/{self.dataset_id}/{self.id}"


class File(Record):
    """A file or folder of a tenant's file manager (RAGFlow's ``file``). The root folder's id
    is the tenant's id and it is its own parent; names are unique within a folder."""

    __tablename__ = "file"
    __table_args__ = (UniqueConstraint("parent_id", "name"),)

    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenant.id", ondelete="CASCADE"), index=True
    )
    parent_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    name: Mapped[str] = mapped_column(_case_sensitive_name(255))
    # The name case-folded in Python, for keyword search (as ``Document.name_folded``).
    name_folded: Mapped[str] = mapped_column(String(255), default="")
    # The blob key of a stored file; "" for folders and virtual files.
    location: Mapped[str] = mapped_column(String(512), default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    type: Mapped[str] = mapped_column(String(16))
    source_type: Mapped[str] = mapped_column(String(32), default="")
    created_by: Mapped[str] = mapped_column(String(ID_LENGTH))

    @validates("name")
    def _fold_name(self, _key: str, name: str) -> str:
        self.name_folded = name.casefold()
        return name


class FileLink(Record):
    """A file converted into a dataset's document (RAGFlow's ``file2document``)."""

    __tablename__ = "file2document"

    file_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("file.id", ondelete="CASCADE"), index=True
    )
    document_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("document.id", ondelete="CASCADE"), index=True
    )


class StoreSyncAction(enum.StrEnum):
    """What the chunk store still has to do for a document (see ``ingest.store_sync``)."""

    PURGE = "purge"
    """Delete every chunk of the document (it was deleted, re-parsed, stopped, re-methoded)."""
    NAME = "name"
    """Give its chunks the document's current name."""
    AVAILABILITY = "availability"
    """Make its chunks (un)available as the document's current status says."""
    COUNTS = "counts"
    """Its chunks were edited: count them again into ``chunk_count`` and ``token_count``."""


class StoreSync(Record):
    """A chunk-store change committed with a metadata change and not yet known to be applied.

    The row is written in the transaction that changes the document and deleted by the one that
    applies it, so a failure between the two leaves it behind to be applied again. No foreign
    key: the row of a deleted document must outlive it until its chunks are gone.
    """

    __tablename__ = "store_sync"

    document_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    action: Mapped[str] = mapped_column(String(16))


class TaskStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class IngestTask(Record):
    """One parse of one document, or of a page range of it. The queue only carries task ids;
    this row is the truth: a worker claims it with a lease, renews the lease while it works, and
    a task whose lease ran out (its worker died) is queued again or failed.

    The tasks of one parse share ``parse_id`` (the first task's id). A long PDF is split into
    page ranges ``from_page``..``to_page`` (1-based, inclusive; 0 and 0 for the whole document).
    A finished range keeps its chunks in ``result`` until the parse's last task puts every
    range's chunks in place (see ``ingest.staging``)."""

    __tablename__ = "ingest_task"

    document_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("document.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_expires_at: Mapped[int] = mapped_column(BigInteger, default=0)  # epoch ms
    worker_id: Mapped[str] = mapped_column(String(64), default="")
    parse_id: Mapped[str] = mapped_column(String(ID_LENGTH), default="", index=True)
    from_page: Mapped[int] = mapped_column(Integer, default=0)
    to_page: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    result: Mapped[bytes | None] = mapped_column(
        LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"),
        default=None,
        deferred=True,
    )


class DatasetTask(Record):
    """A dataset-wide task (RAGFlow queues RAPTOR, GraphRAG and the mind map this way): one row
    per run, claimed by a worker with a lease like an ``IngestTask``. The newest row of a type
    is the dataset's ``<type>_task_id``; ``progress`` is 0..1, or -1 when it failed, and
    ``progress_msg`` its log."""

    __tablename__ = "dataset_task"
    __table_args__ = (Index("ix_dataset_task_dataset_id_task_type", "dataset_id", "task_type"),)

    dataset_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("dataset.id", ondelete="CASCADE")
    )
    tenant_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    task_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_expires_at: Mapped[int] = mapped_column(BigInteger, default=0)  # epoch ms
    worker_id: Mapped[str] = mapped_column(String(64), default="")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    progress_msg: Mapped[str] = mapped_column(Text, default="")
    begin_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    finish_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    process_duration: Mapped[float] = mapped_column(Float, default=0.0)
    chunk_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The chunks the task wrote (RAPTOR summaries)."""
    target: Mapped[str] = mapped_column(String(255), default="")
    """What the task works towards: a re-embedding's embedding model."""


class KnowledgeGraph(Record):
    """A dataset's knowledge graph (GraphRAG): the whole graph as node-link JSON, its community
    reports, and the entities' vectors (float32, one row per name of ``entity_names``) that
    ``use_kg`` searches; and the dataset's mind map. One row per dataset: a GraphRAG build
    replaces the graph's columns, a mind-map build ``mind_map``."""

    __tablename__ = "knowledge_graph"

    dataset_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("dataset.id", ondelete="CASCADE"), unique=True
    )
    tenant_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    graph: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reports: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    entity_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    vectors: Mapped[bytes] = mapped_column(
        LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"), default=b""
    )
    mind_map: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TenantModel(Record):
    """A model a tenant configured (RAGFlow's ``tenant_llm``): a provider key, a base URL, or a
    self-hosted model added by name. The key is stored encrypted (``services.secrets``)."""

    __tablename__ = "tenant_model"
    __table_args__ = (UniqueConstraint("tenant_id", "factory", "name"),)

    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenant.id", ondelete="CASCADE"), index=True
    )
    factory: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(255))
    model_type: Mapped[str] = mapped_column(String(32))
    api_key_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    api_base: Mapped[str] = mapped_column(String(1024), default="")
    max_tokens: Mapped[int] = mapped_column(Integer, default=8192)
    used_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(1), default="1")


class Chat(Record):
    """A chat assistant (RAGFlow's ``dialog``), in ragserve's field names. Deleting one sets
    ``status`` to "0", as RAGFlow does."""

    __tablename__ = "chat"
    __table_args__ = (UniqueConstraint("tenant_id", "name_key"),)

    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenant.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the case-folded name while the chat is live, NULL once deleted: names are
    # unique per tenant among live chats, regardless of case and length.
    name_key: Mapped[str | None] = mapped_column(String(64), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    avatar: Mapped[str | None] = mapped_column(Text, default=None)
    language: Mapped[str] = mapped_column(String(32), default="English")
    llm_id: Mapped[str] = mapped_column(String(255), default="")
    llm_setting: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prompt_type: Mapped[str] = mapped_column(String(16), default="simple")
    prompt_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    similarity_threshold: Mapped[float] = mapped_column(Float, default=0.2)
    vector_similarity_weight: Mapped[float] = mapped_column(Float, default=0.3)
    top_n: Mapped[int] = mapped_column(Integer, default=6)
    top_k: Mapped[int] = mapped_column(Integer, default=1024)
    rerank_id: Mapped[str] = mapped_column(String(255), default="")
    do_refer: Mapped[str] = mapped_column(String(1), default="1")
    meta_data_filter: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dataset_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(1), default="1", index=True)


class ChatSession(Record):
    """A conversation with a chat assistant: its messages and, per answer, the reference."""

    __tablename__ = "chat_session"

    chat_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("chat.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255), default="New session")
    user_id: Mapped[str] = mapped_column(String(255), default="")
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    answer_references: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class AuditEntry(Record):
    """One action taken through the admin API: who (the administrator's id and e-mail, kept
    as text so the entry outlives the account), what (``action``, its ``target`` and a short
    ``detail``), when (``create_time``) and whether it was allowed (``outcome``)."""

    __tablename__ = "audit_log"

    actor_id: Mapped[str] = mapped_column(String(ID_LENGTH), default="", index=True)
    actor_email: Mapped[str] = mapped_column(String(255), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(255), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    client_address: Mapped[str] = mapped_column(String(64), default="")


class SystemVariable(Record):
    """A system setting changed at run time through the admin API (RAGFlow's
    ``system_settings``). Absent: the value of the setting of the same name applies."""

    __tablename__ = "system_variable"

    name: Mapped[str] = mapped_column(String(64), unique=True)
    value: Mapped[str] = mapped_column(Text)
    """The value as JSON text."""
    updated_by: Mapped[str] = mapped_column(String(255), default="")


class Agent(Record):
    """An agent (RAGFlow's ``user_canvas``): a titled canvas DSL owned by a tenant. ``dsl`` is
    stored as the client sent it; it is validated when a session starts or a run begins."""

    __tablename__ = "user_canvas"
    __table_args__ = (UniqueConstraint("tenant_id", "title_key"),)

    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenant.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the title: titles are unique per tenant, exactly as written (RAGFlow's check).
    title_key: Mapped[str] = mapped_column(String(64))
    avatar: Mapped[str | None] = mapped_column(Text, default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    permission: Mapped[str] = mapped_column(String(16), default=Permission.ME)
    canvas_type: Mapped[str | None] = mapped_column(String(32), default=None)
    canvas_category: Mapped[str] = mapped_column(String(32), default="agent_canvas")
    dsl: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AgentVersion(Record):
    """A snapshot of an agent's DSL, written on create and on every DSL update; only the newest
    ``services.agents.KEPT_VERSIONS`` of an agent are kept (RAGFlow's ``user_canvas_version``)."""

    __tablename__ = "user_canvas_version"

    agent_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("user_canvas.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(255))
    dsl: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AgentSession(Record):
    """A conversation with an agent (RAGFlow's ``api_4_conversation`` with source "agent").
    ``dsl`` is the session's own copy of the canvas, carrying its state between turns
    (history, globals, the path of the last run, component outputs); later edits of the agent
    do not reach it. ``reference`` holds one entry per answer, in order."""

    __tablename__ = "agent_session"

    agent_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("user_canvas.id", ondelete="CASCADE"), index=True
    )
    # The agent's tenant, so every session lookup is scoped without a join.
    tenant_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    user_id: Mapped[str] = mapped_column(String(255), default="")
    source: Mapped[str] = mapped_column(String(16), default="agent")
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    reference: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    dsl: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    round: Mapped[int] = mapped_column(Integer, default=0)
    thumb_up: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[str | None] = mapped_column(Text, default=None)


class AuthChallenge(Record):
    """A short-lived secret of a sign-in or password-reset step, kept in the database so that
    any server process can finish a step another began: an OAuth state (with its PKCE
    verifier and nonce), a captcha, a reset code, a verified reset. ``lookup`` is a digest of
    what finds the row (the state, the e-mail address, the reset token), never the value."""

    __tablename__ = "auth_challenge"
    __table_args__ = (UniqueConstraint("kind", "lookup"),)

    kind: Mapped[str] = mapped_column(String(16))
    lookup: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_time: Mapped[int] = mapped_column(BigInteger, index=True)


class LlmCache(Record):
    """What a chat model answered to one prompt over one text at parse time (auto keywords,
    auto questions), so that parsing the same chunk again with the same model and prompt costs
    no model call. ``lookup`` is a digest of the tenant, the step, the model, the prompt and
    the text (``services.auto_keywords``); ``tokens`` is what the call cost. The rows go with
    their tenant."""

    __tablename__ = "llm_cache"

    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenant.id", ondelete="CASCADE"), index=True
    )
    lookup: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    answer: Mapped[list[str]] = mapped_column(JSON, default=list)
    tokens: Mapped[int] = mapped_column(Integer, default=0)


class SearchApp(Record):
    """A saved search app (RAGFlow's ``search`` table): a named ``search_config`` (datasets,
    thresholds, rerank, summary, related questions, mind map) of one tenant, made by
    ``created_by``. The rows go with their tenant."""

    __tablename__ = "search"

    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenant.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    avatar: Mapped[str | None] = mapped_column(Text, default=None)
    created_by: Mapped[str] = mapped_column(String(ID_LENGTH))
    search_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class McpServer(Record):
    """An external MCP server a tenant registered (RAGFlow's ``mcp_server`` table), whose tools
    Agent components may call: its URL and transport (``sse`` or ``streamable-http``), the HTTP
    ``headers`` sent to it (``$name`` placeholders filled from ``variables``) and, in
    ``variables["tools"]``, the tool list last fetched or cached. The rows go with their
    tenant."""

    __tablename__ = "mcp_server"

    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenant.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255), index=True)
    url: Mapped[str] = mapped_column(Text)
    server_type: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class WebhookTrace(Record):
    """The events of one call of an agent's test webhook (``/api/v1/webhook_test/{id}``), read
    back by ``/api/v1/webhook_trace/{id}`` (RAGFlow keeps them in Redis for 10 minutes;
    ``services.webhook_traces`` drops older ones). ``started`` is the call's start, in epoch
    seconds; each event carries its own ``ts``."""

    __tablename__ = "webhook_trace"

    agent_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("user_canvas.id", ondelete="CASCADE"), index=True
    )
    started: Mapped[float] = mapped_column(Float)
    events: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    finished: Mapped[bool] = mapped_column(Boolean, default=False)


class WebhookRate(Record):
    """An agent's webhook rate-limit bucket (Begin's ``security.rate_limit``): ``tokens`` left
    at ``checked`` (epoch seconds), refilled at ``limit / per`` a second. In the database so
    that every server process counts the same calls."""

    __tablename__ = "webhook_rate"

    agent_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("user_canvas.id", ondelete="CASCADE"), unique=True
    )
    tokens: Mapped[float] = mapped_column(Float)
    checked: Mapped[float] = mapped_column(Float)
