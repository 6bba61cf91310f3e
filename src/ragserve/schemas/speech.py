"""Bodies and answers of the speech routes (``/api/v1/tts``, ``/api/v1/sequence2txt``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from ragserve.errors import RetCode
from ragserve.schemas.common import fixed_message


class TtsRequest(BaseModel):
    """``{text}``: what the tenant's TTS model reads out. Other keys are ignored, as RAGFlow."""

    text: Any = Field(None, validate_default=True, description="The text to speak (not empty).")

    @field_validator("text", mode="before")
    @classmethod
    def _not_empty(cls, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise fixed_message(RetCode.ARGUMENT_ERROR, "`text` is required.")
        return value


class Transcript(BaseModel):
    """The text of a non-streamed transcription."""

    text: str


class TranscriptEvent(BaseModel):
    """One event of a streamed transcription (``data: {...}``): the whole text once as
    ``final``, or ``error`` with the reason."""

    event: Literal["final", "error"]
    text: str
