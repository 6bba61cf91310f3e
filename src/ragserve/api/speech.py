"""Speech (spec 2.13): ``/api/v1/tts`` reads text out with the tenant's default TTS model,
``/api/v1/sequence2txt`` writes audio down with its default ASR model, both through LiteLLM.

The routes are plain functions (run in the thread pool) and the audio and events are plain
generators, so the blocking provider calls never run on the event loop."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, File, Form, UploadFile
from fastapi.responses import StreamingResponse

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import ErrorBody, WebResult, event_stream
from ragserve.api.openapi import event_stream_responses
from ragserve.errors import ArgumentError
from ragserve.schemas.speech import Transcript, TranscriptEvent, TtsRequest
from ragserve.services import speech

router = APIRouter(prefix="/api/v1", tags=["speech"], route_class=RagflowRoute)

AUDIO_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

TRANSCRIPT_RESPONSES = event_stream_responses(
    TranscriptEvent,
    'With `stream=true`: server-sent events `data: {"event": "final", "text": ...}` '
    '(or `error`). Otherwise the envelope with `{"text": ...}`, or an error envelope.',
    json_model=WebResult[Transcript],
)


@router.post(
    "/tts",
    summary="Text to speech",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The audio (`audio/mpeg`), streamed; or an error envelope.",
            "content": {
                "audio/mpeg": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}},
            },
        }
    },
)
def tts(
    runtime: RuntimeDep, caller: ApiCaller, request: Annotated[TtsRequest, Body()]
) -> StreamingResponse:
    """`text` read out by the tenant's default TTS model (`tts_id`). Without one: 102 "No
    default TTS model is set"; a provider failure is an error envelope with its reason."""
    audio = speech.speak(runtime, caller.tenant_id, request.text)
    return StreamingResponse(audio, media_type="audio/mpeg", headers=AUDIO_HEADERS)


@router.post(
    "/sequence2txt",
    summary="Speech to text",
    response_model=None,
    responses={**TRANSCRIPT_RESPONSES, 413: {"model": ErrorBody}},
)
def sequence2txt(
    runtime: RuntimeDep,
    caller: ApiCaller,
    file: Annotated[
        UploadFile | None,
        File(
            description="The audio: .wav .mp3 .m4a .aac .flac .ogg .webm .opus .wma, "
            "at most 25 MiB."
        ),
    ] = None,
    stream: Annotated[str, Form(description='"true" for server-sent events.')] = "false",
) -> WebResult[Transcript] | StreamingResponse:
    """The text spoken in `file`, by the tenant's default ASR model (`asr_id`). Without one:
    102 "No default ASR model is set"; another extension: 101 "Unsupported audio format"."""
    if file is None:
        raise ArgumentError("No file part!")
    name, audio = speech.read_audio(file.filename or "", file.file)
    if stream.strip().lower() == "true":
        model = speech.asr_model(runtime, caller.tenant_id)
        return event_stream(speech.transcript_events(model, name, audio))
    text = speech.transcribe(runtime, caller.tenant_id, name, audio)
    return WebResult(data=Transcript(text=text))  # RAGFlow answers with its web envelope here
