"""Chats over table datasets answer with a computed table: the fake model writes SQL for the
question (``helpers.fake_openai._sql_reply``), the rows are queried read-only, and the answer
is a markdown table with a Source column (none for a count)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openai import OpenAI

from api.test_completions import ask, make_chat, new_session
from api.test_parsing import new_dataset, parse, upload
from conftest import Account
from helpers.fake_openai import FakeOpenAI
from ragserve.rag.prompt import TABLE_SQL_PROMPT
from ragserve.runtime import Runtime
from ragserve.settings import Settings

FRUIT = b"name,price,colour\nApple,3,red\nBanana,1,yellow\nCherry,5,red\n"
MORE = b"name,price,colour\nDate,7,brown\n"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI) -> Settings:
    return fake.settings(tmp_path / "home", "sk-test")


def table_dataset(account: Account, method: str = "table") -> str:
    dataset_id = new_dataset(account, name=f"fruit-{method}", chunk_method=method)
    ids = [
        upload(account, dataset_id, "fruit.csv", FRUIT),
        upload(account, dataset_id, "more.csv", MORE),
    ]
    assert parse(account, dataset_id, ids) == {"code": 0}
    return dataset_id


def answer_of(account: Account, chat_id: str, question: str) -> dict[str, Any]:
    session_id = new_session(account, chat_id)
    result = ask(account, chat_id, question=question, session_id=session_id, stream=False)
    assert result["code"] == 0, result
    data: dict[str, Any] = result["data"]
    return data


def sql_calls(fake: FakeOpenAI) -> list[dict[str, Any]]:
    start = TABLE_SQL_PROMPT.split("{")[0]
    return [
        r.body
        for r in fake.requests
        if r.path == "/v1/chat/completions"
        and str(r.body["messages"][0]["content"]).startswith(start)
    ]


def test_a_column_question_is_answered_with_a_table(
    alice: Account, runtime: Runtime, fake: FakeOpenAI
) -> None:
    chat_id = make_chat(runtime, alice.id, [table_dataset(alice)])
    data = answer_of(alice, chat_id, "What is the price of Cherry?")
    assert data["answer"] == "| price | Source |\n|---|---|\n| 5 | fruit.csv |"
    [call] = sql_calls(fake)
    schema = call["messages"][0]["content"]
    assert '- "price" INTEGER (e.g. 3, 1, 5)' in schema and '- "name" TEXT' in schema


def test_a_count_has_no_source_and_the_stream_carries_the_table(
    alice: Account, runtime: Runtime
) -> None:
    chat_id = make_chat(runtime, alice.id, [table_dataset(alice)])
    assert answer_of(alice, chat_id, "How many fruits are there?")["answer"] == (
        "| rows_found |\n|---|\n| 4 |"
    )
    session_id = new_session(alice, chat_id)
    events = ask(alice, chat_id, question="How many fruits?", session_id=session_id)
    said = "".join(e["data"]["answer"] for e in events if isinstance(e["data"], dict))
    assert "| rows_found |\n|---|\n| 4 |" in said


def test_a_failing_query_is_retried_once_with_the_error(
    alice: Account, runtime: Runtime, fake: FakeOpenAI
) -> None:
    chat_id = make_chat(runtime, alice.id, [table_dataset(alice)])
    data = answer_of(alice, chat_id, "A broken question")
    assert data["answer"] == "| rows_found |\n|---|\n| 4 |"
    _first, retry = sql_calls(fake)
    assert retry["messages"][-1]["content"].startswith('The query failed: near "SELEC"')
    assert retry["messages"][-2] == {"role": "assistant", "content": "SELEC nothing"}


def test_no_rows_falls_back_to_the_passages(
    alice: Account, runtime: Runtime, fake: FakeOpenAI
) -> None:
    chat_id = make_chat(runtime, alice.id, [table_dataset(alice)])
    data = answer_of(alice, chat_id, "Which fruit costs nothing?")  # the query finds no row
    assert len(sql_calls(fake)) == 1
    assert data["answer"].startswith("Fake answer to:")  # answered from the passages


def test_other_datasets_answer_from_passages(
    alice: Account, runtime: Runtime, fake: FakeOpenAI
) -> None:
    chat_id = make_chat(runtime, alice.id, [table_dataset(alice, "naive")])
    data = answer_of(alice, chat_id, "How many fruits are there?")
    assert not data["answer"].startswith("|")
    assert sql_calls(fake) == []


def test_the_openai_compatible_route_answers_with_the_table(
    alice: Account, runtime: Runtime
) -> None:
    chat_id = make_chat(runtime, alice.id, [table_dataset(alice)])
    client = OpenAI(
        api_key=alice.api_key,
        base_url=f"{alice.client.base_url}/api/v1/chats_openai/{chat_id}",
        http_client=alice.client,  # type: ignore[arg-type]
    )
    try:
        reply = client.chat.completions.create(
            model="model", messages=[{"role": "user", "content": "How many fruits are there?"}]
        )
    finally:
        client.close()
    assert reply.choices[0].message.content == "| rows_found |\n|---|\n| 4 |"
