"""POST /api/v1/chats/{chat_id}/completions against a fake OpenAI-compatible model over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.conftest import Corpus
from conftest import Account
from helpers.fake_openai import FakeOpenAI
from ragserve.db.models import Chat, ChatSession
from ragserve.runtime import Runtime
from ragserve.settings import Settings

SYSTEM = "Answer from the knowledge base.\n{knowledge}\nBe brief."
CRANES = "Whooping cranes migrate across North America every autumn."


def reply(messages: list[dict[str, Any]]) -> str:
    """Restate the knowledge when asked about cranes; think aloud when asked to."""
    question = str(messages[-1]["content"])
    if "Suggest" in str(messages[0]["content"]):
        return "1. crane migration\n2) whooping crane\nnot numbered\n3. bird legs"
    if "Rewrite the user's last question" in str(messages[0]["content"]):
        return question.splitlines()[-1].removeprefix("user: ")
    if "think" in question:
        return "<think>Let me see.</think>The answer is 42."
    if "cite" in question:
        return "Cranes are large birds (ID: 0). They migrate [ID: 7]."
    if "crane" in question.lower():
        return f"{CRANES} That is all I know about it."
    return f"Fake answer to: {question}"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=reply) as server:
        yield server


@pytest.fixture
def llm_key() -> str:
    return "sk-test-key"


@pytest.fixture
def chat_model() -> str:
    return "openai/fake-chat"


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI, llm_key: str, chat_model: str) -> Settings:
    return fake.settings(tmp_path / "home", llm_key, chat_model)


def make_chat(runtime: Runtime, tenant_id: str, dataset_ids: list[str], **fields: Any) -> str:
    prompt_config = {
        "system": SYSTEM,
        "prologue": "Hello there!",
        "parameters": [{"key": "knowledge", "optional": False}],
        "empty_response": "",
        "quote": True,
        "refine_multiturn": True,
        **fields.pop("prompt_config", {}),
    }
    with runtime.transaction() as session:
        chat = Chat(
            tenant_id=tenant_id,
            name="assistant",
            dataset_ids=dataset_ids,
            prompt_config=prompt_config,
            llm_setting={"temperature": 0.1, "max_tokens": 256},
            **fields,
        )
        session.add(chat)
        session.flush()
        return chat.id


def ask(account: Account, chat_id: str, **body: Any) -> Any:
    response = account.client.post(
        f"/api/v1/chats/{chat_id}/completions", json=body, headers=account.api_headers
    )
    assert response.status_code == 200
    if body.get("stream", True) is False:
        return response.json()
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["x-accel-buffering"] == "no"
    events = [block for block in response.text.split("\n\n") if block]
    assert all(block.startswith("data:{") for block in events), events
    return [json.loads(block[len("data:") :]) for block in events]


def new_session(account: Account, chat_id: str) -> str:
    result = ask(account, chat_id, stream=False)
    assert result["code"] == 0
    session_id: str = result["data"]["session_id"]
    return session_id


def stored(runtime: Runtime, session_id: str) -> ChatSession:
    with runtime.read() as session:
        row = session.get(ChatSession, session_id)
        assert row is not None
        session.expunge(row)
        return row


def test_without_a_session_the_prologue_opens_one(
    alice: Account, corpus: Corpus, runtime: Runtime
) -> None:
    chat_id = make_chat(runtime, alice.id, [corpus.dataset_id])
    events = ask(alice, chat_id, question="ignored")
    assert events[1] == {"code": 0, "message": "", "data": True}
    opening = events[0]["data"]
    assert opening["answer"] == "Hello there!" and opening["reference"] == {}
    assert opening["id"] is None and opening["audio_binary"] is None
    row = stored(runtime, opening["session_id"])
    assert row.chat_id == chat_id
    [opener] = row.messages
    assert (opener["role"], opener["content"]) == ("assistant", "Hello there!")
    plain = ask(alice, chat_id, stream=False)["data"]
    assert plain["answer"] == "Hello there!" and plain["session_id"] != opening["session_id"]


def test_streamed_answer_with_reference_and_stored_exchange(
    alice: Account, corpus: Corpus, runtime: Runtime, fake: FakeOpenAI
) -> None:
    chat_id = make_chat(runtime, alice.id, [corpus.dataset_id])
    session_id = new_session(alice, chat_id)
    events = ask(alice, chat_id, session_id=session_id, question="How do cranes travel?")

    assert events[-1] == {"code": 0, "data": True}
    deltas = [e["data"] for e in events[:-1] if e["data"].get("final") is False]
    [final] = [e["data"] for e in events[:-1] if e["data"].get("final") is True]
    assert "".join(d["answer"] for d in deltas) == f"{CRANES} That is all I know about it."
    assert deltas[0]["answer"] == "Whooping "  # the first piece at once, then 16-token pieces
    assert len(deltas) == 3  # 1 + 16 tokens + the rest
    assert all(d["reference"] == {"chunks": []} and d["session_id"] == session_id for d in deltas)
    assert len({d["id"] for d in deltas} | {final["id"]}) == 1
    assert final["answer"] == ""
    reference = final["reference"]
    assert reference["chunks"][0]["document_name"] == "cranes.md"
    assert set(reference["chunks"][0]) == {
        "id", "content", "document_id", "document_name", "dataset_id", "image_id", "positions",
        "url", "similarity", "vector_similarity", "term_similarity", "doc_type",
    }  # fmt: skip
    assert reference["doc_aggs"] == [
        {"doc_name": "cranes.md", "doc_id": corpus.documents["cranes.md"], "count": 1}
    ]
    assert "### Query:" in final["prompt"] and "How do cranes travel?" in final["prompt"]

    [call] = [r.body for r in fake.requests if r.path == "/v1/chat/completions"]
    assert call["stream"] is True and call["max_tokens"] == 256
    system = call["messages"][0]["content"]
    assert system.startswith("Answer from the knowledge base.") and "cranes.md" in system
    assert "[ID:n]" in system  # citation instructions
    assert [m["role"] for m in call["messages"]] == ["system", "user"]

    row = stored(runtime, session_id)
    assert [m["role"] for m in row.messages] == ["assistant", "user", "assistant"]
    assert row.messages[1]["content"] == "How do cranes travel?"
    answer = row.messages[2]["content"]
    assert answer.startswith(CRANES[:-1]) and "[ID:0]" in answer  # inserted by similarity
    assert row.answer_references[0]["chunks"][0]["id"] == reference["chunks"][0]["id"]


def test_non_stream_answer_normalises_and_checks_citations(
    alice: Account, corpus: Corpus, runtime: Runtime
) -> None:
    chat_id = make_chat(runtime, alice.id, [corpus.dataset_id])
    session_id = new_session(alice, chat_id)
    result = ask(alice, chat_id, session_id=session_id, question="cite cranes", stream=False)
    data = result["data"]
    assert result["code"] == 0
    assert data["answer"] == "Cranes are large birds [ID:0]. They migrate ."
    assert data["reference"]["chunks"] and data["session_id"] == session_id


def test_follow_up_questions_carry_the_history(
    alice: Account, corpus: Corpus, runtime: Runtime, fake: FakeOpenAI
) -> None:
    chat_id = make_chat(runtime, alice.id, [corpus.dataset_id])
    session_id = new_session(alice, chat_id)
    ask(alice, chat_id, session_id=session_id, question="Tell me about cranes", stream=False)
    ask(alice, chat_id, session_id=session_id, question="And engines?", stream=False)
    calls = [r.body for r in fake.requests if r.path == "/v1/chat/completions"]
    refine = [c for c in calls if not c.get("stream")]
    assert len(refine) == 1 and "And engines?" in refine[0]["messages"][1]["content"]
    last = [c for c in calls if c.get("stream")][-1]["messages"]
    assert [m["role"] for m in last] == ["system", "user", "assistant", "user"]
    assert len(stored(runtime, session_id).messages) == 5


def test_reasoning_is_split_out(alice: Account, corpus: Corpus, runtime: Runtime) -> None:
    chat_id = make_chat(runtime, alice.id, [corpus.dataset_id])
    session_id = new_session(alice, chat_id)
    events = ask(alice, chat_id, session_id=session_id, question="think about cranes")
    data = [e["data"] for e in events[:-1]]
    starts = [i for i, d in enumerate(data) if d.get("start_to_think")]
    ends = [i for i, d in enumerate(data) if d.get("end_to_think")]
    assert len(starts) == 1 and len(ends) == 1 and starts[0] < ends[0]
    reasoning = "".join(d["answer"] for d in data[starts[0] + 1 : ends[0]])
    answer = "".join(d["answer"] for d in data[ends[0] + 1 :] if d.get("final") is False)
    assert reasoning == "Let me see." and answer == "The answer is 42."
    assert stored(runtime, session_id).messages[-1]["content"] == "The answer is 42."


def test_empty_response_when_nothing_is_found(
    alice: Account, corpus: Corpus, runtime: Runtime, fake: FakeOpenAI
) -> None:
    chat_id = make_chat(runtime, alice.id, [corpus.dataset_id], similarity_threshold=0.99,
                        prompt_config={"empty_response": "Nothing found."})  # fmt: skip
    session_id = new_session(alice, chat_id)
    data = ask(alice, chat_id, session_id=session_id, question="cranes", stream=False)["data"]
    assert data["answer"] == "Nothing found."
    assert not [r for r in fake.requests if r.path == "/v1/chat/completions"]


def test_chat_without_datasets_just_chats(alice: Account, runtime: Runtime) -> None:
    chat_id = make_chat(runtime, alice.id, [], prompt_config={"system": "Be nice.",
                        "parameters": []})  # fmt: skip
    session_id = new_session(alice, chat_id)
    events = ask(alice, chat_id, session_id=session_id, question="hello")
    assert all(e["data"] is True or e["data"]["final"] is False for e in events)
    text = "".join(e["data"]["answer"] for e in events[:-1])
    assert text == "Fake answer to: hello"


@pytest.mark.parametrize("chat_model", [""])
def test_without_a_chat_model_the_answer_is_extractive(
    alice: Account, corpus: Corpus, runtime: Runtime
) -> None:
    chat_id = make_chat(runtime, alice.id, [corpus.dataset_id])
    session_id = new_session(alice, chat_id)
    data = ask(alice, chat_id, session_id=session_id, question="bread oven", stream=False)["data"]
    assert data["answer"].startswith("No generative model is configured")
    assert "Knead the dough" in data["answer"] and "[ID:0]" in data["answer"]
    assert data["reference"]["chunks"][0]["document_name"] == "bread.md"


@pytest.mark.parametrize("llm_key", ["bad-key"])
def test_provider_failure_gives_an_error_event_and_keeps_the_question(
    alice: Account, corpus: Corpus, runtime: Runtime
) -> None:
    chat_id = make_chat(runtime, alice.id, [corpus.dataset_id])
    session_id = new_session(alice, chat_id)
    events = ask(alice, chat_id, session_id=session_id, question="cranes")
    error = events[-2]
    assert error["code"] == 500 and "rejected the API key" in error["message"]
    assert error["data"]["answer"].startswith("**ERROR**: ") and "bad-key" not in error["message"]
    assert events[-1] == {"code": 0, "data": True}
    messages = stored(runtime, session_id).messages
    assert messages[-2]["content"] == "cranes" and messages[-1]["role"] == "assistant"
    failed = ask(alice, chat_id, session_id=session_id, question="cranes", stream=False)
    assert failed["code"] == 100 and "rejected the API key" in failed["message"]


@pytest.mark.parametrize("llm_key", ["midway"])
def test_failure_midway_keeps_what_was_said(
    alice: Account, corpus: Corpus, runtime: Runtime
) -> None:
    chat_id = make_chat(runtime, alice.id, [corpus.dataset_id])
    session_id = new_session(alice, chat_id)
    events = ask(alice, chat_id, session_id=session_id, question="Tell me about cranes")
    said = "".join(e["data"]["answer"] for e in events if isinstance(e["data"], dict)
                   and e["data"].get("final") is False)  # fmt: skip
    assert said and CRANES.startswith(said.strip())
    assert events[-2]["code"] == 500 and events[-1] == {"code": 0, "data": True}
    assert stored(runtime, session_id).messages[-1]["content"] == said


def test_document_filters_and_variables(alice: Account, corpus: Corpus, runtime: Runtime) -> None:
    chat_id = make_chat(runtime, alice.id, [corpus.dataset_id], prompt_config={
        "system": "{knowledge} Speak like a {style}.",
        "parameters": [{"key": "knowledge", "optional": False}, {"key": "style", "optional": False}],
    })  # fmt: skip
    session_id = new_session(alice, chat_id)
    body = {"session_id": session_id, "question": "bake the bread", "stream": False}
    missing = ask(alice, chat_id, **body)
    assert missing["code"] != 0 and "style" in missing["message"]
    bread = corpus.documents["bread.md"]
    data = ask(alice, chat_id, **body, style="pirate", doc_ids=bread)["data"]
    assert {c["document_id"] for c in data["reference"]["chunks"]} == {bread}
    bad = ask(alice, chat_id, **body, style="pirate", metadata_condition="x")
    assert bad == {"code": 102, "message": "metadata_condition must be an object."}


def test_other_tenants_chats_and_sessions(
    alice: Account, bob: Account, corpus: Corpus, runtime: Runtime
) -> None:
    chat_id = make_chat(runtime, alice.id, [corpus.dataset_id])
    other_chat = make_chat(runtime, alice.id, [corpus.dataset_id])
    session_id = new_session(alice, chat_id)
    assert ask(bob, chat_id, stream=False) == {
        "code": 102, "message": f"You don't own the chat {chat_id}"
    }  # fmt: skip
    assert ask(alice, "nope", stream=False)["code"] == 102
    result = ask(alice, other_chat, session_id=session_id, question="x", stream=False)
    assert result == {"code": 102, "message": f"You don't own the session {session_id}"}


# --- OpenAI-compatible: /api/v1/chats_openai/{chat_id}/chat/completions ------------------------


def openai_chat(account: Account, chat_id: str, body: Any, key: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {key or account.api_key}"}
    return account.client.post(
        f"/api/v1/chats_openai/{chat_id}/chat/completions", json=body, headers=headers
    )


def test_openai_non_stream(alice: Account, corpus: Corpus, runtime: Runtime) -> None:
    chat_id = make_chat(runtime, alice.id, [corpus.dataset_id])
    body = {"model": "anything", "stream": False,
            "messages": [{"role": "system", "content": "ignored"},
                         {"role": "user", "content": "How do cranes travel?"}]}  # fmt: skip
    response = openai_chat(alice, chat_id, body)
    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "chat.completion" and data["model"] == "anything"
    assert data["id"] == f"chatcmpl-{chat_id}"
    [choice] = data["choices"]
    assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].startswith("Whooping cranes")
    assert "reference" not in choice["message"] and "[ID:" not in choice["message"]["content"]
    usage = data["usage"]
    assert usage["completion_tokens"] > 0 and usage["prompt_tokens"] == 6  # the question only
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]

    for where in ({"reference": True}, {"extra_body": {"reference": True}}):
        cited = openai_chat(alice, chat_id, {**body, **where}).json()["choices"][0]["message"]
        assert cited["reference"][0]["document_name"] == "cranes.md"
        assert "[ID:0]" in cited["content"]


def test_openai_stream(alice: Account, corpus: Corpus, runtime: Runtime) -> None:
    chat_id = make_chat(runtime, alice.id, [corpus.dataset_id])
    body = {"model": "m", "reference": True, "stream": True,
            "messages": [{"role": "user", "content": "think about cranes"}]}  # fmt: skip
    response = openai_chat(alice, chat_id, body)
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    blocks = [b for b in response.text.split("\n\n") if b]
    assert blocks[-1] == "data:[DONE]"
    chunks = [json.loads(b[len("data:") :]) for b in blocks[:-1]]
    assert {c["id"] for c in chunks} == {f"chatcmpl-{chat_id}"}
    assert len({c["created"] for c in chunks}) == 1
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    deltas = [c["choices"][0]["delta"] for c in chunks[:-1]]
    assert "".join(d["reasoning_content"] or "" for d in deltas) == "Let me see."
    assert "".join(d["content"] or "" for d in deltas) == "The answer is 42."
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    assert 10 <= last["usage"]["completion_tokens"] <= 20  # summed over the streamed pieces
    assert last["choices"][0]["delta"]["final_content"] == "The answer is 42."
    assert isinstance(last["choices"][0]["delta"]["reference"], list)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, 400,
         "required argument are missing: model; "),
        ({"model": "m", "messages": [{"role": "assistant", "content": "x"}]}, 400,
         "The last content of this conversation is not from user."),
        ({"model": "m", "messages": "x"}, 400, "You have to provide messages."),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "extra_body": 3}, 400,
         "extra_body must be an object."),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}],
          "metadata_condition": []}, 400, "metadata_condition must be an object."),
    ],
)  # fmt: skip
def test_openai_validation(
    alice: Account, corpus: Corpus, runtime: Runtime, body: Any, status: int, message: str
) -> None:
    chat_id = make_chat(runtime, alice.id, [corpus.dataset_id])
    response = openai_chat(alice, chat_id, body)
    assert response.status_code == status
    assert response.json()["error"]["message"] == message


def test_openai_auth_isolation_and_models(
    alice: Account, bob: Account, corpus: Corpus, runtime: Runtime
) -> None:
    chat_id = make_chat(runtime, alice.id, [corpus.dataset_id])
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    unauthorised = openai_chat(alice, chat_id, body, key="ragflow-wrong")
    assert unauthorised.status_code == 401
    assert unauthorised.json()["error"]["code"] == "invalid_api_key"
    foreign = openai_chat(bob, chat_id, body)
    assert foreign.status_code == 404
    assert foreign.json()["error"]["message"] == f"You don't own the chat {chat_id}"

    models = alice.client.get(f"/api/v1/chats_openai/{chat_id}/models", headers=alice.api_headers)
    assert models.json() == {"object": "list", "data": [
        {"id": chat_id, "object": "model", "created": 0, "owned_by": "ragserve"}]}  # fmt: skip
    hidden = bob.client.get(f"/api/v1/chats_openai/{chat_id}/models", headers=bob.api_headers)
    assert hidden.status_code == 404


@pytest.mark.parametrize("llm_key", ["limited"])
def test_openai_provider_errors(alice: Account, corpus: Corpus, runtime: Runtime) -> None:
    chat_id = make_chat(runtime, alice.id, [corpus.dataset_id])
    body = {"model": "m", "messages": [{"role": "user", "content": "cranes"}]}
    failed = openai_chat(alice, chat_id, body)  # stream defaults to false, as in OpenAI
    assert failed.status_code == 502 and "rate limit" in failed.json()["error"]["message"]
    streamed = openai_chat(alice, chat_id, {**body, "stream": True}).text
    [*_, last] = [json.loads(e[len("data:") :]) for e in streamed.split("\n\n") if e]
    assert last["error"]["type"] == "api_error" and "rate limit" in last["error"]["message"]
    assert "**ERROR**" not in streamed and "[DONE]" not in streamed


@pytest.mark.parametrize("llm_key", ["midway"])
def test_openai_stream_failing_midway_ends_with_an_error_object(
    alice: Account, corpus: Corpus, runtime: Runtime
) -> None:
    """What was said streams as content; the failure is OpenAI's error object, never content,
    and no ``[DONE]`` follows (the OpenAI SDK raises on it)."""
    chat_id = make_chat(runtime, alice.id, [corpus.dataset_id])
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "cranes"}]}
    response = openai_chat(alice, chat_id, body)
    assert response.status_code == 200
    events = [json.loads(e[len("data:") :]) for e in response.text.split("\n\n") if e]
    *pieces, failure = events
    said = "".join(p["choices"][0]["delta"]["content"] or "" for p in pieces)
    assert said and CRANES.startswith(said.strip())
    assert failure == {"error": {"message": failure["error"]["message"], "type": "api_error",
                                 "param": None, "code": None}}  # fmt: skip
    assert "server had an error" in failure["error"]["message"]
    assert "**ERROR**" not in response.text and "[DONE]" not in response.text


# --- /api/v1/sessions/ask and /related_questions ---------------------------------------------


def test_ask_over_datasets(alice: Account, corpus: Corpus, bob: Account) -> None:
    response = alice.client.post(
        "/api/v1/sessions/ask",
        json={"question": "How do cranes travel?", "dataset_ids": [corpus.dataset_id]},
        headers=alice.api_headers,
    )
    blocks = [json.loads(b[len("data:") :]) for b in response.text.split("\n\n") if b]
    assert blocks[-1] == {"code": 0, "message": "", "data": True}
    deltas = [b["data"] for b in blocks[:-1] if b["data"]["final"] is False]
    [final] = [b["data"] for b in blocks[:-1] if b["data"]["final"] is True]
    assert "".join(d["answer"] for d in deltas).startswith("Whooping cranes")
    assert final["answer"] == "" and final["reference"]["chunks"][0]["document_name"] == "cranes.md"

    def error(account: Account, body: Any) -> Any:
        return account.client.post(
            "/api/v1/sessions/ask", json=body, headers=account.api_headers
        ).json()

    assert error(alice, {"dataset_ids": [corpus.dataset_id]}) == {
        "code": 102, "message": "`question` is required."
    }  # fmt: skip
    assert error(alice, {"question": "x"})["message"] == "`dataset_ids` is required."
    assert error(alice, {"question": "x", "dataset_ids": "a"})["message"] == (
        "`dataset_ids` should be a list."
    )
    assert error(bob, {"question": "x", "dataset_ids": [corpus.dataset_id]})["message"] == (
        f"You don't own the dataset {corpus.dataset_id}."
    )
    empty = alice.client.post(
        "/api/v1/datasets", json={"name": "empty"}, headers=alice.api_headers
    ).json()["data"]["id"]
    assert error(alice, {"question": "x", "dataset_ids": [empty]})["message"] == (
        f"The dataset {empty} doesn't own parsed file"
    )


def test_related_questions(alice: Account) -> None:
    def related(body: Any) -> Any:
        return alice.client.post(
            "/api/v1/sessions/related_questions", json=body, headers=alice.api_headers
        ).json()

    assert related({"question": "cranes", "industry": "birding"}) == {
        "code": 0, "data": ["crane migration", "whooping crane", "bird legs"]
    }  # fmt: skip
    assert related({}) == {"code": 102, "message": "`question` is required."}


@pytest.mark.parametrize("chat_model", [""])
def test_related_questions_need_a_chat_model(alice: Account) -> None:
    result = alice.client.post(
        "/api/v1/sessions/related_questions", json={"question": "x"}, headers=alice.api_headers
    ).json()
    assert result == {"code": 102, "message": "No chat model is configured for this tenant."}
