"""Speech models through LiteLLM: text to speech (``litellm.speech``) and speech to text
(``litellm.transcription``). Both calls block; callers run them off the event loop."""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from typing import Any

from ragserve.errors import RagserveError
from ragserve.models.embedding import litellm_model_string
from ragserve.models.provider import ProviderModel, litellm_module, scrub
from ragserve.models.registry import split_model_id

AUDIO_CHUNK = 8192
"""Bytes per piece of a streamed TTS answer."""


class SpeechError(RagserveError):
    """A speech model could not answer; the message is safe to show (no secrets)."""


class LiteLLMSpeech(ProviderModel):
    """A text-to-speech model."""

    def synthesize(self, text: str, *, voice: str = "alloy") -> Iterator[bytes]:
        """The audio (mp3) of ``text``: the provider is called now (``SpeechError`` when it
        fails), the bytes are handed out in pieces."""
        try:
            response = litellm_module().speech(
                model=self.model, input=text, voice=voice, response_format="mp3", **self.options()
            )
            return _pieces(response)
        except Exception as exc:
            raise SpeechError(_failure(self, f"TTS model {self.name}", exc)) from None


class LiteLLMTranscription(ProviderModel):
    """A speech-to-text model."""

    def transcribe(self, filename: str, audio: bytes) -> str:
        """The text spoken in ``audio`` (``filename`` tells the provider its format)."""
        try:
            response = litellm_module().transcription(
                model=self.model, file=(filename, audio), **self.options()
            )
        except Exception as exc:
            raise SpeechError(_failure(self, f"ASR model {self.name}", exc)) from None
        text = getattr(response, "text", None)
        return text if isinstance(text, str) else ""


def _failure(model: ProviderModel, what: str, exc: Exception) -> str:
    """A key-free message for a failed call. ``litellm.speech`` and ``litellm.transcription``
    raise the OpenAI client's own errors rather than LiteLLM's: those with an HTTP status are
    worded here as ``ProviderModel.failure`` words LiteLLM's, the others are left to it."""
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int) or type(exc).__module__.startswith("litellm"):
        return model.failure(what, exc)
    if status in (401, 403):
        return (
            f"{what}: the provider rejected the API key "
            "(check the key set for this model's factory)."
        )
    if status == 429:
        return f"{what}: rate limit or quota exceeded at the provider; try again later."
    if status == 404:
        return f"{what}: the provider does not know this model."
    body = getattr(exc, "body", None)
    detail = body.get("message") if isinstance(body, dict) else None
    reason = scrub(str(detail), model.api_key) if detail else f"HTTP {status}"
    return f"{what}: the provider refused: {reason}"


def _pieces(response: Any) -> Iterator[bytes]:
    iter_bytes = getattr(response, "iter_bytes", None)
    if callable(iter_bytes):
        yield from iter_bytes(AUDIO_CHUNK)
        return
    content = getattr(response, "content", b"")
    for start in range(0, len(content), AUDIO_CHUNK):
        yield content[start : start + AUDIO_CHUNK]


def _model_string(model_id: str) -> str:
    name, factory = split_model_id(model_id)
    return name if factory is None and "/" in name else litellm_model_string(name, factory)


def speech_model_for(
    model_id: str,
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    timeout: float = 60,
    max_retries: int = 2,
) -> LiteLLMSpeech:
    """The TTS model named by a RAGFlow id (``tts-1@OpenAI``) or a LiteLLM model string."""
    return LiteLLMSpeech(
        _model_string(model_id),
        api_key=api_key,
        api_base=api_base,
        timeout=timeout,
        max_retries=max_retries,
        name=model_id,
    )


def transcription_model_for(
    model_id: str,
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    timeout: float = 60,
    max_retries: int = 2,
) -> LiteLLMTranscription:
    """The ASR model named by a RAGFlow id (``whisper-1@OpenAI``) or a LiteLLM model string."""
    return LiteLLMTranscription(
        _model_string(model_id),
        api_key=api_key,
        api_base=api_base,
        timeout=timeout,
        max_retries=max_retries,
        name=model_id,
    )


def silence_wav(seconds: float = 0.1, rate: int = 16000) -> bytes:
    """A short silent WAV (16-bit mono): what an ASR model is tested with."""
    samples = int(seconds * rate)
    data = b"\x00\x00" * samples
    out = io.BytesIO()
    out.write(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE")
    out.write(b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16))
    out.write(b"data" + struct.pack("<I", len(data)) + data)
    return out.getvalue()
