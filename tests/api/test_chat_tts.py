"""Chats with ``tts`` on: ``audio_binary`` is the answer spoken by the tenant's TTS model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.test_completions import ask, make_chat, new_session
from api.test_speech import ALICE_KEY, speech_ready
from conftest import Account
from helpers.fake_openai import FAKE_CHAT_MODEL, FakeOpenAI, fake_audio
from ragserve.runtime import Runtime
from ragserve.settings import Settings


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI) -> Settings:
    return Settings(
        home=tmp_path / "home",
        workers=0,
        default_chat_model=FAKE_CHAT_MODEL,
        llm_api_base=fake.base_url,
        llm_api_key="sk-test",
    )


PLAIN = {"system": "You are a helpful assistant.", "parameters": []}


def spoken(fake: FakeOpenAI) -> list[str]:
    return [call.body["input"] for call in fake.requests if call.path == "/v1/audio/speech"]


def test_tts_chat_answers_carry_hex_audio(
    alice: Account, runtime: Runtime, fake: FakeOpenAI
) -> None:
    speech_ready(alice, fake.base_url, ALICE_KEY)
    chat_id = make_chat(runtime, alice.id, [], prompt_config={**PLAIN, "tts": True})
    session_id = new_session(alice, chat_id)

    result = ask(alice, chat_id, session_id=session_id, question="Hello?", stream=False)
    assert result["code"] == 0, result
    plain = result["data"]
    assert plain["answer"]
    assert plain["audio_binary"] == fake_audio(plain["answer"].strip()).hex()

    events = ask(alice, chat_id, session_id=session_id, question="Hello again?")
    deltas = [e["data"] for e in events[:-1]]
    assert deltas and all(d["answer"] for d in deltas)
    for delta in deltas:
        assert delta["audio_binary"] == fake_audio(delta["answer"].strip()).hex()
    assert spoken(fake)[-len(deltas) :] == [d["answer"].strip() for d in deltas]


def test_without_tts_or_without_a_model_no_audio(
    alice: Account, runtime: Runtime, fake: FakeOpenAI
) -> None:
    quiet = make_chat(runtime, alice.id, [], prompt_config={**PLAIN, "tts": False})
    talking = make_chat(runtime, alice.id, [], prompt_config={**PLAIN, "tts": True})
    for chat_id in (quiet, talking):  # talking, but the tenant has no TTS model
        session_id = new_session(alice, chat_id)
        plain = ask(alice, chat_id, session_id=session_id, question="Hi?", stream=False)
        assert plain["data"]["answer"] and plain["data"]["audio_binary"] is None
        events = ask(alice, chat_id, session_id=session_id, question="Hi?")
        assert all(e["data"]["audio_binary"] is None for e in events[:-1])
    speech_ready(alice, fake.base_url, ALICE_KEY)
    session_id = new_session(alice, quiet)
    ask(alice, quiet, session_id=session_id, question="Hi?", stream=False)
    assert spoken(fake) == ["Hello~ ragserve!"]  # only add_llm's test call
