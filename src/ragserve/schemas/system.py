"""``/v1/system/*`` (spec 2.14): API tokens, the components' status and health, settings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Green = Literal["green", "red"]
Ok = Literal["ok", "nok"]
ELAPSED = "Milliseconds the check took, as text."
ERROR = "Why the check failed; absent when it passed."


class TokenPublic(BaseModel):
    """An API token. Its secret is shown once, when it is made; listings show its first 16
    characters, which also revoke it."""

    tenant_id: str
    token: str = Field(
        description="`ragflow-…`: the whole token when made, its first 16 characters in lists."
    )
    beta: str | None = Field(description="The token of embedded widgets (32 characters).")
    dialog_id: str | None
    source: str | None
    create_time: int = Field(description="Milliseconds since the epoch.")
    create_date: str | None = Field(description="RFC 1123, GMT.")
    update_time: int | None = Field(description="Milliseconds since the epoch; null when made.")
    update_date: str | None = Field(description="RFC 1123, GMT; null when made.")


class DatabaseStatus(BaseModel):
    database: str = Field(description="The backend: `sqlite`, `postgresql`, `mysql`.")
    status: Green
    elapsed: str = Field(description=ELAPSED)
    error: str | None = Field(None, exclude_if=lambda value: value is None, description=ERROR)


class StorageStatus(BaseModel):
    storage: str = Field(description="The blob store: `local` or `s3`.")
    status: Green
    elapsed: str = Field(description=ELAPSED)
    error: str | None = Field(None, exclude_if=lambda value: value is None, description=ERROR)


class EngineStatus(BaseModel):
    type: str = Field(description="The backend: `sqlite` (or `redis` for the queue).")
    status: Green
    elapsed: str = Field(description=ELAPSED)
    error: str | None = Field(None, exclude_if=lambda value: value is None, description=ERROR)


class SystemStatus(BaseModel):
    """Each component the server depends on, checked now."""

    database: DatabaseStatus = Field(description="The metadata database.")
    storage: StorageStatus = Field(description="Where uploaded files are kept.")
    doc_engine: EngineStatus = Field(description="The chunk store (full-text and vectors).")
    queue: EngineStatus = Field(description="The parsing task queue.")


class HealthTiming(BaseModel):
    elapsed: float = Field(description="Milliseconds the check took.")
    error: str | None = Field(
        description="Null when the component is up; otherwise only that it is down (the "
        "reason is in the server log, never in this public answer)."
    )


class Health(BaseModel):
    """Not enveloped; HTTP 500 when any component is down."""

    db: Ok = Field(description="The metadata database.")
    storage: Ok = Field(description="Where uploaded files are kept.")
    doc_engine: Ok = Field(description="The chunk store.")
    queue: Ok = Field(description="The parsing task queue.")
    status: Ok = Field(description="`ok` when every component is.")
    meta: dict[str, HealthTiming] = Field(
        serialization_alias="_meta", description="Each component's check, by the names above."
    )


class ServerConfig(BaseModel):
    """What a web client needs before logging in."""

    registerEnabled: bool = Field(description="Whether `/v1/user/register` accepts accounts.")
