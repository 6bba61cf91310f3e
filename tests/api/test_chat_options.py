"""A chat assistant's question options (``prompt``: keyword, cross_languages, toc_enhance,
tavily_api_key, reasoning) acting on its answers, with the fake model server answering the
helper prompts (``helpers.fake_openai.option_reply``) and a fake Tavily server over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.conftest import Corpus
from api.test_completions import ask, make_chat, new_session, openai_chat
from api.test_parsing import new_dataset, parse, upload
from conftest import Account
from helpers.fake_openai import FAKE_CHAT_MODEL, FakeOpenAI
from helpers.fake_tavily import FakeTavily
from ragserve.app import create_app
from ragserve.rag import prompt
from ragserve.runtime import Runtime
from ragserve.settings import Settings

TERMS_ONLY = {"vector_similarity_weight": 0.0, "similarity_threshold": 0.1}
"""Full-text scores only: a chunk is found when the question's words are in it."""


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def tavily() -> Iterator[FakeTavily]:
    with FakeTavily() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI, tavily: FakeTavily) -> Settings:
    return Settings(
        home=tmp_path / "home",
        workers=0,
        default_chat_model=FAKE_CHAT_MODEL,
        llm_api_base=fake.base_url,
        llm_api_key="sk-test",
        tavily_base_url=tavily.base_url,
        research_max_rounds=2,
    )


def answer_of(account: Account, chat_id: str, question: str, **body: Any) -> dict[str, Any]:
    session_id = new_session(account, chat_id)
    result = ask(account, chat_id, session_id=session_id, question=question, stream=False, **body)
    assert result["code"] == 0, result
    data: dict[str, Any] = result["data"]
    return data


def documents_of(data: dict[str, Any]) -> list[str]:
    return [chunk["document_name"] for chunk in (data["reference"] or {}).get("chunks", [])]


def prompts_sent(fake: FakeOpenAI, template: str) -> list[dict[str, Any]]:
    """The chat requests whose system message is ``template`` (up to its first placeholder)."""
    start = template.split("{")[0]
    return [
        r.body
        for r in fake.requests
        if r.path == "/v1/chat/completions"
        and str(r.body["messages"][0]["content"]).startswith(start)
    ]


# --- keyword ---


def test_keyword_extraction_joins_the_full_text_query(
    alice: Account, corpus: Corpus, runtime: Runtime, fake: FakeOpenAI
) -> None:
    question = "Which loaf recipe works?"  # no word of it is in the corpus
    plain = make_chat(runtime, alice.id, [corpus.dataset_id], **TERMS_ONLY)
    assert documents_of(answer_of(alice, plain, question)) == []
    assert prompts_sent(fake, prompt.KEYWORDS_PROMPT) == []

    keyed = make_chat(
        runtime, alice.id, [corpus.dataset_id], prompt_config={"keyword": True}, **TERMS_ONLY
    )
    assert documents_of(answer_of(alice, keyed, question)) == ["bread.md"]  # "loaf" -> "bread"
    [sent] = prompts_sent(fake, prompt.KEYWORDS_PROMPT)
    assert sent["messages"][-1]["content"] == question


# --- cross_languages ---


def test_cross_languages_finds_english_chunks_for_a_chinese_question(
    alice: Account, corpus: Corpus, runtime: Runtime, fake: FakeOpenAI
) -> None:
    question = "鹤什么时候迁徙？"
    plain = make_chat(runtime, alice.id, [corpus.dataset_id], **TERMS_ONLY)
    assert documents_of(answer_of(alice, plain, question)) == []

    chat_id = make_chat(
        runtime,
        alice.id,
        [corpus.dataset_id],
        prompt_config={"cross_languages": ["English", "French"]},
        **TERMS_ONLY,
    )
    data = answer_of(alice, chat_id, question)
    assert documents_of(data) == ["cranes.md"]
    [sent] = prompts_sent(fake, prompt.TRANSLATE_PROMPT)
    assert "English, French" in sent["messages"][0]["content"]
    assert data["answer"].startswith(f"Fake answer to: {question}")  # the question as asked


def test_cross_languages_and_keyword_together_cost_two_model_calls(
    alice: Account, corpus: Corpus, runtime: Runtime, fake: FakeOpenAI
) -> None:
    options = {"cross_languages": ["English"], "keyword": True}
    chat_id = make_chat(runtime, alice.id, [corpus.dataset_id], prompt_config=options, **TERMS_ONLY)
    before = len(fake.requests)
    assert documents_of(answer_of(alice, chat_id, "面包怎么烤？")) == ["bread.md"]
    chats = [r for r in fake.requests[before:] if r.path == "/v1/chat/completions"]
    assert len(chats) == 3  # translation, keywords, the answer


# --- toc_enhance ---

NOTES = (
    "# Migration\n\nWhooping cranes fly south every autumn.\n\n"
    "# Winter Feeding\n\nThey eat crabs and clams along the Texas coast.\n"
)


def parsed_notes(account: Account, **parser_config: Any) -> tuple[str, str]:
    config = {"chunk_token_num": 8, **parser_config}
    dataset_id = new_dataset(account, name="notes", parser_config=config)
    document_id = upload(account, dataset_id, "field-notes.md", NOTES.encode())
    assert parse(account, dataset_id, [document_id]) == {"code": 0}
    return dataset_id, document_id


def progress_of(account: Account, dataset_id: str, document_id: str) -> dict[str, Any]:
    response = account.client.get(
        f"/api/v1/datasets/{dataset_id}/documents",
        params={"id": document_id},
        headers=account.api_headers,
    )
    [document] = response.json()["data"]["docs"]
    assert document["run"] == "DONE", document["progress_msg"]
    result: dict[str, Any] = document
    return result


def test_toc_extracted_at_parse_time_pulls_in_a_sections_chunks(
    alice: Account, runtime: Runtime, fake: FakeOpenAI
) -> None:
    dataset_id, document_id = parsed_notes(alice, toc_extraction=True)
    document = progress_of(alice, dataset_id, document_id)
    assert "Table of contents: 2 headings." in document["progress_msg"]
    assert document["parser_config"]["toc_extraction"] is True
    [sent] = prompts_sent(fake, prompt.TOC_PROMPT)
    assert "[0] Migration | Whooping" in sent["messages"][1]["content"]

    question = "What about winter feeding?"
    plain = make_chat(runtime, alice.id, [dataset_id], top_n=8, **TERMS_ONLY)
    found = [c["content"] for c in answer_of(alice, plain, question)["reference"]["chunks"]]
    assert found and not any("Texas" in text for text in found)

    enhanced = make_chat(
        runtime,
        alice.id,
        [dataset_id],
        prompt_config={"toc_enhance": True},
        top_n=8,
        **TERMS_ONLY,
    )
    reference = answer_of(alice, enhanced, question)["reference"]
    contents = [chunk["content"] for chunk in reference["chunks"]]
    assert any("Texas" in text for text in contents)  # under "Winter Feeding", found by the TOC
    assert not any("autumn" in text for text in contents)  # "Migration" does not match
    assert reference["doc_aggs"][0]["doc_name"] == "field-notes.md"


def test_without_toc_extraction_no_model_call_and_toc_enhance_changes_nothing(
    alice: Account, runtime: Runtime, fake: FakeOpenAI
) -> None:
    dataset_id, document_id = parsed_notes(alice)
    document = progress_of(alice, dataset_id, document_id)
    assert "toc_extraction" not in document["parser_config"]
    assert "Table of contents" not in document["progress_msg"]
    assert prompts_sent(fake, prompt.TOC_PROMPT) == []
    chat_id = make_chat(
        runtime, alice.id, [dataset_id], prompt_config={"toc_enhance": True}, **TERMS_ONLY
    )
    found = answer_of(alice, chat_id, "What about winter feeding?")["reference"]["chunks"]
    assert found and not any("Texas" in chunk["content"] for chunk in found)


def test_toc_extraction_must_be_a_boolean(alice: Account) -> None:
    body = {"name": "bad", "parser_config": {"toc_extraction": "sometimes"}}
    result = alice.client.post("/api/v1/datasets", json=body, headers=alice.api_headers).json()
    assert result["code"] == 101 and "toc_extraction" in result["message"]


def test_toc_extraction_with_a_failing_model_still_parses(tmp_path: Path, fake: FakeOpenAI) -> None:
    refused = Settings(
        home=tmp_path / "refused",
        workers=0,
        default_chat_model=FAKE_CHAT_MODEL,
        llm_api_base=fake.base_url,
        llm_api_key="bad",  # the fake answers 401
    )
    with TestClient(create_app(refused), raise_server_exceptions=False) as client:
        account = Account(client, "carol@example.com")
        dataset_id, document_id = parsed_notes(account, toc_extraction=True)
        document = progress_of(account, dataset_id, document_id)
    assert "Table of contents skipped: " in document["progress_msg"]
    assert document["chunk_count"] > 0


# --- tavily_api_key: web search ---


def test_web_search_pages_join_the_knowledge_with_their_urls(
    alice: Account, corpus: Corpus, runtime: Runtime, tavily: FakeTavily
) -> None:
    chat_id = make_chat(
        runtime,
        alice.id,
        [corpus.dataset_id],
        prompt_config={"tavily_api_key": "tvly-secret"},
        **TERMS_ONLY,
    )
    data = answer_of(alice, chat_id, "Where do cranes stop during migration?")
    chunks = data["reference"]["chunks"]
    assert [c["document_name"] for c in chunks] == ["cranes.md", "Crane migration - Bird Atlas"]
    assert chunks[0]["url"] is None
    web = chunks[1]
    assert web["url"] == "https://birds.example/cranes/migration"
    assert web["content"].startswith("Sandhill cranes stop over")
    assert web["dataset_id"] == "" and web["similarity"] > 0
    names = {d["doc_name"] for d in data["reference"]["doc_aggs"]}
    assert "Crane migration - Bird Atlas" in names or "cranes.md" in names
    [request] = tavily.requests
    assert request.api_key == "tvly-secret"
    assert request.body["query"] == "Where do cranes stop during migration?"
    assert request.body["max_results"] == 5


def test_web_search_without_datasets_streams_a_final_reference(
    alice: Account, runtime: Runtime, tavily: FakeTavily
) -> None:
    chat_id = make_chat(runtime, alice.id, [], prompt_config={"tavily_api_key": "tvly-k"})
    session_id = new_session(alice, chat_id)
    events = ask(alice, chat_id, session_id=session_id, question="How to feed a sourdough?")
    [final] = [e["data"] for e in events[:-1] if e["data"].get("final") is True]
    [page] = final["reference"]["chunks"]
    assert page["url"] == "https://bread.example/sourdough"


def test_a_refused_web_search_key_answers_from_the_datasets(
    alice: Account, corpus: Corpus, runtime: Runtime, tavily: FakeTavily
) -> None:
    chat_id = make_chat(
        runtime,
        alice.id,
        [corpus.dataset_id],
        prompt_config={"tavily_api_key": "not-a-tavily-key"},
        **TERMS_ONLY,
    )
    data = answer_of(alice, chat_id, "Where do cranes stop during migration?")
    assert documents_of(data) == ["cranes.md"]
    assert len(tavily.requests) == 1  # asked, refused (401), left out


# --- reasoning: deep research ---


def research_chat(runtime: Runtime, account: Account, dataset_ids: list[str], **config: Any) -> str:
    return make_chat(
        runtime,
        account.id,
        dataset_ids,
        prompt_config={"reasoning": True, **config},
        **TERMS_ONLY,
    )


def test_deep_research_streams_its_steps_as_reasoning_then_the_answer(
    alice: Account, corpus: Corpus, runtime: Runtime, fake: FakeOpenAI
) -> None:
    chat_id = research_chat(runtime, alice, [corpus.dataset_id])
    session_id = new_session(alice, chat_id)
    question = "How do cranes migrate and how is bread baked?"
    events = ask(alice, chat_id, session_id=session_id, question=question)
    data = [event["data"] for event in events[:-1]]
    start = next(i for i, d in enumerate(data) if d.get("start_to_think"))
    end = next(i for i, d in enumerate(data) if d.get("end_to_think"))
    reasoning = "".join(d["answer"] for d in data[start + 1 : end])
    assert "Round 1, searching for:\n1. How do cranes migrate?\n2. how is bread baked?" in reasoning
    assert "- How do cranes migrate?: " in reasoning and "cranes.md" in reasoning
    assert "The findings are enough to answer." in reasoning
    answer = "".join(d["answer"] for d in data[end + 1 :] if d.get("final") is False)
    assert answer == f"Fake answer to: {question}"
    [final] = [d for d in data if d.get("final") is True]
    used = {chunk["document_name"] for chunk in final["reference"]["chunks"]}
    assert used == {"cranes.md", "bread.md"}  # every passage gathered, from both sub-questions

    # plan, review, answer: three calls; the answer's knowledge holds both passages
    [plan] = prompts_sent(fake, prompt.RESEARCH_PLAN_PROMPT)
    assert plan["messages"][-1]["content"] == question
    assert len(prompts_sent(fake, prompt.RESEARCH_CHECK_PROMPT)) == 1
    [answering] = [r.body for r in fake.requests if r.body.get("stream")]
    system = answering["messages"][0]["content"]
    assert "Whooping cranes" in system and "bake the bread" in system


def test_deep_research_is_bounded_by_rounds(
    alice: Account, corpus: Corpus, runtime: Runtime, fake: FakeOpenAI
) -> None:
    chat_id = research_chat(runtime, alice, [corpus.dataset_id])
    data = answer_of(alice, chat_id, "Where are quasars?")
    assert data["answer"] == "Fake answer to: Where are quasars?"
    reviews = prompts_sent(fake, prompt.RESEARCH_CHECK_PROMPT)
    assert len(reviews) == 1  # research_max_rounds = 2: one review between the two rounds
    assert "(nothing found)" in reviews[0]["messages"][-1]["content"]
    chats = [r for r in fake.requests if r.path == "/v1/chat/completions"]
    assert len(chats) == 3  # plan, review, answer


def test_deep_research_searches_the_web_too(
    alice: Account, corpus: Corpus, runtime: Runtime, tavily: FakeTavily
) -> None:
    chat_id = research_chat(runtime, alice, [corpus.dataset_id], tavily_api_key="tvly-deep")
    data = answer_of(alice, chat_id, "How do cranes migrate and how to feed sourdough?")
    urls = {chunk["url"] for chunk in data["reference"]["chunks"]}
    assert urls == {
        None,
        "https://birds.example/cranes/migration",
        "https://bread.example/sourdough",
    }
    assert [r.body["query"] for r in tavily.requests] == [
        "How do cranes migrate?",
        "how to feed sourdough?",
    ]


def test_reasoning_per_request_overrides_the_chat(
    alice: Account, corpus: Corpus, runtime: Runtime, fake: FakeOpenAI
) -> None:
    plain = make_chat(runtime, alice.id, [corpus.dataset_id])
    session_id = new_session(alice, plain)
    events = ask(alice, plain, session_id=session_id, question="cranes?", reasoning=True)
    assert any(event["data"].get("start_to_think") for event in events[:-1])

    researching = research_chat(runtime, alice, [corpus.dataset_id])
    session_id = new_session(alice, researching)
    before = len(prompts_sent(fake, prompt.RESEARCH_PLAN_PROMPT))
    events = ask(alice, researching, session_id=session_id, question="cranes?", reasoning="false")
    assert not any(event["data"].get("start_to_think") for event in events[:-1])
    assert len(prompts_sent(fake, prompt.RESEARCH_PLAN_PROMPT)) == before


def test_deep_research_in_the_openai_stream_is_reasoning_content(
    alice: Account, corpus: Corpus, runtime: Runtime
) -> None:
    chat_id = research_chat(runtime, alice, [corpus.dataset_id])
    body = {"model": "m", "stream": True, "reference": True,
            "messages": [{"role": "user", "content": "How do cranes migrate?"}]}  # fmt: skip
    response = openai_chat(alice, chat_id, body)
    assert response.status_code == 200
    chunks = [
        json.loads(block[len("data:") :])
        for block in response.text.split("\n\n")
        if block.startswith("data:{")
    ]
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks]
    reasoning = "".join(d["reasoning_content"] or "" for d in deltas)
    content = "".join(d["content"] or "" for d in deltas)
    assert reasoning.startswith("Planning how to research") and "Round 1" in reasoning
    assert content == "Fake answer to: How do cranes migrate?"
    first_text = next(i for i, d in enumerate(deltas) if d["content"])
    assert all(not d["reasoning_content"] for d in deltas[first_text:])  # thinking came first
    assert deltas[-1]["reference"][0]["document_name"] == "cranes.md"


def test_other_tenants_datasets_stay_out_of_research(
    alice: Account, bob: Account, corpus: Corpus, runtime: Runtime
) -> None:
    chat_id = research_chat(runtime, bob, [corpus.dataset_id])  # alice's dataset in bob's chat
    session_id = new_session(bob, chat_id)
    result = ask(bob, chat_id, session_id=session_id, question="cranes?", stream=False)
    assert result["code"] == 102 and corpus.dataset_id in result["message"]
