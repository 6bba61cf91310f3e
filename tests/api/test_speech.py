"""``/api/v1/tts`` and ``/api/v1/sequence2txt`` with the tenant's default speech models, against
the fake OpenAI-compatible server over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import Account
from helpers.fake_openai import FakeOpenAI, fake_audio, fake_transcript
from ragserve.models.speech import SpeechError, speech_model_for, transcription_model_for
from ragserve.services.speech import MAX_AUDIO_BYTES

ALICE_KEY = "sk-alice-0123456789abcdef"
BOB_KEY = "sk-bob-fedcba9876543210"
FACTORY = "OpenAI-API-Compatible"
TTS = f"fake-tts@{FACTORY}"
ASR = f"fake-whisper@{FACTORY}"
AUDIO = b"RIFF" + bytes(range(256)) * 8


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def add_model(account: Account, base_url: str, key: str, name: str, model_type: str) -> None:
    result = account.post("/v1/llm/add_llm", json={
        "llm_factory": FACTORY, "llm_name": name, "model_type": model_type,
        "api_base": base_url, "api_key": key}).json()  # fmt: skip
    assert result["code"] == 0, result


def set_defaults(account: Account, **models: str) -> None:
    info = account.get("/v1/user/tenant_info").json()["data"]
    result = account.post("/v1/user/set_tenant_info", json={**info, **models}).json()
    assert result["code"] == 0, result


def speech_ready(account: Account, base_url: str, key: str) -> None:
    add_model(account, base_url, key, "fake-tts", "tts")
    add_model(account, base_url, key, "fake-whisper", "speech2text")
    set_defaults(account, tts_id=TTS, asr_id=ASR)


def tts(account: Account, body: Any) -> Any:
    return account.client.post("/api/v1/tts", headers=account.api_headers, json=body)


def transcribe(account: Account, name: str = "hello.wav", audio: bytes = AUDIO,
               **form: str) -> Any:  # fmt: skip
    files = {"file": (name, audio, "application/octet-stream")}
    return account.client.post(
        "/api/v1/sequence2txt", headers=account.api_headers, files=files, data=form
    )


def events(response: Any) -> list[dict[str, Any]]:
    lines = [line for line in response.text.split("\n") if line]
    assert all(line.startswith("data: ") for line in lines), lines
    return [json.loads(line[len("data: ") :]) for line in lines]


def test_tts_streams_the_tenants_model_audio(alice: Account, fake: FakeOpenAI) -> None:
    speech_ready(alice, fake.base_url, ALICE_KEY)
    response = tts(alice, {"text": "Hello there"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/mpeg"
    assert response.content == fake_audio("Hello there")
    call = fake.requests[-1]
    assert call.path == "/v1/audio/speech" and call.api_key == ALICE_KEY
    assert call.body["model"] == "fake-tts" and call.body["input"] == "Hello there"


def test_sequence2txt_plain_and_streamed(alice: Account, fake: FakeOpenAI) -> None:
    speech_ready(alice, fake.base_url, ALICE_KEY)
    plain = transcribe(alice).json()
    assert plain == {"code": 0, "data": {"text": fake_transcript(AUDIO)}, "message": "success"}
    call = fake.requests[-1]
    assert call.path == "/v1/audio/transcriptions" and call.api_key == ALICE_KEY
    assert call.body["file"]["filename"] == "hello.wav"
    assert call.body["model"] == "fake-whisper"

    streamed = transcribe(alice, "hello.MP3", stream="true")
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert events(streamed) == [{"event": "final", "text": fake_transcript(AUDIO)}]
    assert transcribe(alice, stream="false").json()["data"] == {"text": fake_transcript(AUDIO)}


def test_no_default_model(alice: Account, fake: FakeOpenAI) -> None:
    assert tts(alice, {"text": "Hello"}).json() == {
        "code": 102, "message": "No default TTS model is set"}  # fmt: skip
    assert transcribe(alice).json() == {"code": 102, "message": "No default ASR model is set"}
    assert transcribe(alice, stream="true").json() == {
        "code": 102, "message": "No default ASR model is set"}  # fmt: skip
    assert fake.requests == []


def test_bad_input(alice: Account, fake: FakeOpenAI) -> None:
    speech_ready(alice, fake.base_url, ALICE_KEY)
    calls = len(fake.requests)
    required = {"code": 101, "message": "`text` is required."}
    assert tts(alice, {"text": ""}).json() == required
    assert tts(alice, {"text": "   "}).json() == required
    assert tts(alice, {}).json() == required
    assert tts(alice, {"text": 3}).json() == required

    no_file = alice.client.post(
        "/api/v1/sequence2txt", headers=alice.api_headers, data={"stream": "false"}
    )
    assert no_file.json() == {"code": 101, "message": "No file part!"}
    assert transcribe(alice, "notes.txt").json() == {
        "code": 101, "message": "Unsupported audio format: .txt"}  # fmt: skip
    assert transcribe(alice, "noextension").json() == {
        "code": 101, "message": "Unsupported audio format: noextension"}  # fmt: skip
    assert transcribe(alice, audio=b"").json() == {
        "code": 101, "message": "The audio file is empty."}  # fmt: skip
    huge = transcribe(alice, audio=b"\0" * (MAX_AUDIO_BYTES + 1))
    assert huge.status_code == 413
    assert huge.json() == {
        "code": 400,
        "message": f"Audio file is too large: the limit is {MAX_AUDIO_BYTES} bytes.",
    }
    assert len(fake.requests) == calls


def test_another_tenants_model_is_not_usable(
    alice: Account, bob: Account, fake: FakeOpenAI
) -> None:
    speech_ready(bob, fake.base_url, BOB_KEY)
    set_defaults(alice, tts_id=TTS, asr_id=ASR)
    calls = len(fake.requests)
    assert tts(alice, {"text": "Hello"}).json() == {
        "code": 102, "message": f"Unauthorized model: <{TTS}>"}  # fmt: skip
    assert transcribe(alice).json() == {"code": 102, "message": f"Unauthorized model: <{ASR}>"}
    assert len(fake.requests) == calls  # bob's key never used for alice
    # bob's own calls still work
    assert tts(bob, {"text": "Hi"}).content == fake_audio("Hi")


def test_provider_failure_is_a_clear_error(alice: Account) -> None:
    with FakeOpenAI() as gone:
        speech_ready(alice, gone.base_url, ALICE_KEY)
        base_url = gone.base_url
    # the provider is down now
    spoken = tts(alice, {"text": "Hello"})
    assert spoken.status_code == 200
    body = spoken.json()
    assert body["code"] == 100
    assert body["message"] == f"TTS model {TTS}: cannot reach the provider at {base_url}."
    heard = transcribe(alice).json()
    assert heard["message"] == f"ASR model {ASR}: cannot reach the provider at {base_url}."
    assert events(transcribe(alice, stream="true")) == [
        {"event": "error", "text": f"ASR model {ASR}: cannot reach the provider at {base_url}."}
    ]
    for text in (body["message"], heard["message"]):
        assert ALICE_KEY not in text and "Traceback" not in text and "Error(" not in text


def test_add_llm_tests_speech_models(alice: Account, fake: FakeOpenAI) -> None:
    add_model(alice, fake.base_url, ALICE_KEY, "fake-tts", "tts")
    add_model(alice, fake.base_url, ALICE_KEY, "fake-whisper", "speech2text")
    assert [call.path for call in fake.requests] == [
        "/v1/audio/speech", "/v1/audio/transcriptions"]  # fmt: skip
    refused = alice.post("/v1/llm/add_llm", json={
        "llm_factory": FACTORY, "llm_name": "x", "model_type": "tts",
        "api_base": fake.base_url, "api_key": "bad-0123456789abcdef"}).json()  # fmt: skip
    assert refused["code"] == 102 and "0123456789" not in refused["message"]


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("bad-0123456789abcdef", "the provider rejected the API key (check the key set for "
         "this model's factory)."),
        ("limited", "rate limit or quota exceeded at the provider; try again later."),
    ],
)  # fmt: skip
def test_provider_status_errors_are_worded(fake: FakeOpenAI, key: str, reason: str) -> None:
    speaker = speech_model_for(TTS, api_key=key, api_base=fake.base_url, max_retries=0)
    with pytest.raises(SpeechError) as raised:
        speaker.synthesize("Hello")
    assert raised.value.message == f"TTS model {TTS}: {reason}"
    listener = transcription_model_for(ASR, api_key=key, api_base=fake.base_url, max_retries=0)
    with pytest.raises(SpeechError) as heard:
        listener.transcribe("a.wav", AUDIO)
    assert heard.value.message == f"ASR model {ASR}: {reason}"
