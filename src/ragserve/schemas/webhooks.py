"""Agent webhooks over HTTP (spec ragflow-api 2.9): the trace poll's query and answer."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field


def _number_or_none(value: Any) -> Any:
    """``since_ts`` as RAGFlow reads it (``type=float``): a value that is not a number is
    absent."""
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class WebhookTraceQuery(BaseModel):
    """Query of ``GET /api/v1/webhook_trace/{agent_id}``."""

    since_ts: Annotated[float | None, BeforeValidator(_number_or_none)] = Field(
        None, description="Epoch seconds: events after it. Absent: the answer gives now."
    )
    webhook_id: str | None = Field(
        None, description="The test call to read (from an earlier answer)."
    )


class WebhookTracePage(BaseModel):
    webhook_id: str | None = None
    events: list[dict[str, Any]] = Field(default_factory=list)
    next_since_ts: float
    finished: bool = False
