"""A member's chat over a team dataset (fake OpenAI-compatible model): it answers from the
dataset while the member belongs to the team, and stops reaching it once removed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.test_completions import ask, make_chat, new_session, reply
from api.test_parsing import TEXT, new_dataset, parse, upload
from conftest import Account
from helpers.fake_openai import FakeOpenAI
from ragserve.runtime import Runtime
from ragserve.settings import Settings


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=reply) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI) -> Settings:
    return fake.settings(tmp_path / "home", "sk-test-key", "openai/fake-chat")


def test_a_removed_members_chat_no_longer_reaches_the_team_dataset(
    alice: Account, bob: Account, runtime: Runtime
) -> None:
    team = new_dataset(alice, name="shared", permission="team")
    document_id = upload(alice, team, "cranes.md", TEXT.encode())
    assert parse(alice, team, [document_id]) == {"code": 0}
    alice.post(f"/v1/tenant/{alice.id}/user", json={"email": bob.email})
    bob.client.put(f"/v1/tenant/agree/{alice.id}", headers=bob.web_headers)
    chat_id = make_chat(runtime, bob.id, [team])

    session_id = new_session(bob, chat_id)
    answer = ask(bob, chat_id, session_id=session_id, question="Tell me about cranes", stream=False)
    assert answer["code"] == 0, answer
    chunks = answer["data"]["reference"]["chunks"]
    assert chunks and chunks[0]["document_id"] == document_id

    removed = bob.client.delete(f"/v1/tenant/{alice.id}/user/{bob.id}", headers=alice.web_headers)
    assert removed.json()["data"] is True
    refused = ask(bob, chat_id, session_id=session_id, question="About cranes?", stream=False)
    assert refused == {"code": 102, "message": f"You don't own the dataset {team}."}
