"""Speech with the tenant's default models (spec 2.13): ``tts_id`` reads text out,
``asr_id`` writes audio down. The model must be one the tenant configured (``/v1/llm``); its
credentials are the tenant's (``services.models.credentials``). Provider calls block: callers
run these functions in the thread pool."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import PurePath
from typing import BinaryIO

from ragserve.db.models import Tenant
from ragserve.errors import ArgumentError, DataError, PayloadTooLarge
from ragserve.models.registry import ModelType, plain_model_id
from ragserve.models.speech import (
    LiteLLMSpeech,
    LiteLLMTranscription,
    SpeechError,
    speech_model_for,
    transcription_model_for,
)
from ragserve.runtime import Runtime
from ragserve.schemas.speech import TranscriptEvent
from ragserve.services.models import credentials, model_exists

AUDIO_EXTENSIONS = (".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".webm", ".opus", ".wma")
"""The audio formats ``/sequence2txt`` accepts (RAGFlow's list), by file extension."""

MAX_AUDIO_BYTES = 25 * 1024 * 1024
"""The largest audio file transcribed: OpenAI's limit for its transcription API."""

NO_TTS = "No default TTS model is set"
NO_ASR = "No default ASR model is set"


def _tenant_model(
    runtime: Runtime, tenant_id: str, model_type: ModelType, missing: str
) -> tuple[str, str | None, str | None]:
    """``(model id, api key, api base)`` of the tenant's default model of this type."""
    with runtime.read() as session:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            raise DataError("Tenant not found!")
        model_id = tenant.tts_id if model_type == ModelType.TTS else tenant.asr_id
        if not model_id:
            raise DataError(missing)
        if not model_exists(session, runtime.settings, tenant_id, model_id, model_type):
            raise DataError(f"Unauthorized model: <{model_id}>")
        api_key, api_base = credentials(session, runtime.settings, tenant_id, model_id)
    return model_id, api_key, api_base


def tts_model(runtime: Runtime, tenant_id: str) -> LiteLLMSpeech:
    model_id, api_key, api_base = _tenant_model(runtime, tenant_id, ModelType.TTS, NO_TTS)
    return speech_model_for(
        plain_model_id(model_id),
        api_key=api_key,
        api_base=api_base,
        timeout=runtime.settings.llm_timeout,
        max_retries=runtime.settings.llm_max_retries,
    )


def asr_model(runtime: Runtime, tenant_id: str) -> LiteLLMTranscription:
    model_id, api_key, api_base = _tenant_model(runtime, tenant_id, ModelType.SPEECH2TEXT, NO_ASR)
    return transcription_model_for(
        plain_model_id(model_id),
        api_key=api_key,
        api_base=api_base,
        timeout=runtime.settings.llm_timeout,
        max_retries=runtime.settings.llm_max_retries,
    )


def speak(runtime: Runtime, tenant_id: str, text: str) -> Iterator[bytes]:
    """The audio of ``text``. The provider is called before this returns, so a failure is
    an error envelope rather than a broken stream."""
    return tts_model(runtime, tenant_id).synthesize(text)


def read_audio(filename: str, content: BinaryIO) -> tuple[str, bytes]:
    """The upload's name and bytes, once its format and size are acceptable."""
    extension = PurePath(filename).suffix.lower()
    if extension not in AUDIO_EXTENSIONS:
        raise ArgumentError(f"Unsupported audio format: {extension or filename}")
    audio = content.read(MAX_AUDIO_BYTES + 1)
    if len(audio) > MAX_AUDIO_BYTES:
        raise PayloadTooLarge(f"Audio file is too large: the limit is {MAX_AUDIO_BYTES} bytes.")
    if not audio:
        raise ArgumentError("The audio file is empty.")
    return PurePath(filename).name, audio


def transcribe(runtime: Runtime, tenant_id: str, filename: str, audio: bytes) -> str:
    return asr_model(runtime, tenant_id).transcribe(filename, audio)


def transcript_events(model: LiteLLMTranscription, filename: str, audio: bytes) -> Iterator[str]:
    """A streamed transcription as ``data: {...}`` lines: the text as one ``final`` event, or
    an ``error`` event with the (key-free) reason. A plain generator: Starlette runs it in the
    thread pool."""
    try:
        event = TranscriptEvent(event="final", text=model.transcribe(filename, audio))
    except SpeechError as error:
        event = TranscriptEvent(event="error", text=error.message)
    yield f"data: {json.dumps(event.model_dump(mode='json'), ensure_ascii=False)}\n\n"
