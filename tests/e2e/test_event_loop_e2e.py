"""No route blocks the server's event loop (issue 13): while completions and a retrieval wait
for a model that does not answer, a real ``ragserve serve`` process keeps serving others.

The fake model server holds every answer to the key ``held`` until the test releases it, so
nothing here is timed. On a blocked loop the test cannot pass: either the held requests never
all reach the model (the loop is stuck in the first), or the requests sent meanwhile never get
an answer (``GUARD_S`` only ends such a hang).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from helpers.fake_openai import FakeOpenAI
from helpers.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

EMBEDDING_MODEL = "fake-embed@OpenAI-API-Compatible"
GUARD_S = 60.0
"""A bound on waits that only matters when something hangs; no assertion depends on it."""
FACT = "Kingfishers dive from a perch to catch small fish in clear streams."
CHAT_PATH = "/v1/chat/completions"
EMBED_PATH = "/v1/embeddings"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        server.release()  # the setup's model calls (parsing) are answered at once
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAI) -> Iterator[RunningServer]:
    """Chat and embedding models are the fake's, called with the key ``held``."""
    env = {**fake.server_env("held"), "RAGSERVE_DEFAULT_EMBEDDING_MODEL": EMBEDDING_MODEL}
    with running_server(tmp_path_factory.mktemp("event-loop") / "home", env) as running:
        yield running


@dataclass
class Setup:
    server: RunningServer
    dataset_id: str
    chats: dict[str, str]
    """label -> chat id: one over the dataset, one without datasets."""

    def url(self, path: str) -> str:
        return self.server.base_url + path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.server.api_key}"}

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.url(path), headers=self.headers, timeout=GUARD_S, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url(path), headers=self.headers, timeout=GUARD_S, **kwargs)

    def data(self, response: httpx.Response) -> Any:
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["code"] == 0, body
        return body.get("data")


@pytest.fixture(scope="module")
def setup(server: RunningServer) -> Setup:
    made = Setup(server, "", {})
    dataset = made.data(made.post("/api/v1/datasets", json={"name": "birds"}))
    assert dataset["embedding_model"] == EMBEDDING_MODEL
    made.dataset_id = dataset["id"]
    files = [("file", ("kingfishers.md", f"# Kingfishers\n\n{FACT}".encode()))]
    [document] = made.data(made.post(f"/api/v1/datasets/{made.dataset_id}/documents", files=files))
    parse = {"document_ids": [document["id"]]}
    made.data(made.post(f"/api/v1/datasets/{made.dataset_id}/chunks", json=parse))
    deadline = time.monotonic() + 120
    while True:
        listed = made.data(
            made.get(f"/api/v1/datasets/{made.dataset_id}/documents", params={"id": document["id"]})
        )
        if listed["docs"][0]["run"] == "DONE":
            break
        assert listed["docs"][0]["run"] != "FAIL", listed
        assert time.monotonic() < deadline, "parsing did not finish"
        time.sleep(0.3)
    prompt = {"similarity_threshold": 0, "empty_response": ""}  # the model always answers
    over_dataset = {"name": "over the dataset", "dataset_ids": [made.dataset_id], "prompt": prompt}
    without = {"name": "without datasets", "prompt": {"prompt": "Be brief.", "variables": []}}
    for label, body in (("over the dataset", over_dataset), ("without datasets", without)):
        made.chats[label] = made.data(made.post("/api/v1/chats", json=body))["id"]
    return made


def reply_to(question: str) -> str:
    return f"Fake answer to: {question}"


def events(response: httpx.Response) -> list[Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    blocks = [block for block in response.text.split("\n\n") if block]
    assert all(block.startswith("data:") for block in blocks), blocks
    return [block[len("data:") :] for block in blocks]


@pytest.mark.parametrize(
    ("label", "waiting_at"),
    [
        # every question is embedded first: the requests wait inside the retrieval
        ("over the dataset", [EMBED_PATH] * 5),
        # nothing to retrieve: the completions wait for the model's answer itself
        ("without datasets", [CHAT_PATH] * 4 + [EMBED_PATH]),
    ],
)
def test_requests_are_served_while_model_calls_wait(
    setup: Setup, fake: FakeOpenAI, label: str, waiting_at: list[str]
) -> None:
    chat_id = setup.chats[label]
    native = f"/api/v1/chats/{chat_id}/completions"
    openai = f"/api/v1/chats_openai/{chat_id}/chat/completions"
    sessions = [
        setup.data(setup.post(f"/api/v1/chats/{chat_id}/sessions", json={"name": f"s{n}"}))["id"]
        for n in range(2)
    ]
    # distinct questions: a question vector asked before could come from a cache
    questions = {
        kind: f"Where do kingfishers catch small fish ({label}, {kind})?"
        for kind in ("native", "native stream", "openai", "openai stream", "retrieval")
    }

    def native_call(session_id: str, kind: str, stream: bool) -> Callable[[], httpx.Response]:
        body = {"session_id": session_id, "question": questions[kind], "stream": stream}
        return lambda: setup.post(native, json=body)

    def openai_call(kind: str, stream: bool) -> Callable[[], httpx.Response]:
        messages = [{"role": "user", "content": questions[kind]}]
        return lambda: setup.post(
            openai, json={"model": "m", "messages": messages, "stream": stream}
        )

    retrieval_body = {
        "question": questions["retrieval"],
        "dataset_ids": [setup.dataset_id],
        "similarity_threshold": 0,
    }
    calls = {
        "native": native_call(sessions[0], "native", False),
        "native stream": native_call(sessions[1], "native stream", True),
        "openai": openai_call("openai", False),
        "openai stream": openai_call("openai stream", True),
        "retrieval": lambda: setup.post("/api/v1/retrieval", json=retrieval_body),
    }
    fake.hold()
    try:
        with ThreadPoolExecutor(len(calls)) as pool:
            held: dict[str, Future[httpx.Response]] = {
                kind: pool.submit(call) for kind, call in calls.items()
            }
            waiting = fake.wait_held(len(calls), timeout=GUARD_S)
            assert sorted(request.path for request in waiting) == sorted(waiting_at)

            # all five wait for the model; the server still answers everything else
            ping = httpx.get(setup.url("/v1/system/ping"), timeout=GUARD_S)
            assert (ping.status_code, ping.text) == (200, "pong")
            listed = setup.data(setup.get("/api/v1/datasets"))
            assert setup.dataset_id in [dataset["id"] for dataset in listed]
            files = [("file", (f"late {label}.md", b"# Late\n\nUploaded while models wait."))]
            [uploaded] = setup.data(
                setup.post(f"/api/v1/datasets/{setup.dataset_id}/documents", files=files)
            )
            assert uploaded["name"] == f"late {label}.md"
            assert not [kind for kind, future in held.items() if future.done()]

            fake.release()
            responses = {kind: future.result(timeout=GUARD_S) for kind, future in held.items()}
    finally:
        fake.release()

    answer = setup.data(responses["native"])
    assert answer["session_id"] == sessions[0]
    assert answer["answer"].startswith(reply_to(questions["native"]))

    streamed = [json.loads(event) for event in events(responses["native stream"])]
    assert streamed[-1] == {"code": 0, "data": True}
    said = [e["data"]["answer"] for e in streamed[:-1] if e["data"].get("final") is False]
    assert "".join(said) == reply_to(questions["native stream"])

    completion = responses["openai"]
    assert completion.status_code == 200, completion.text
    message = completion.json()["choices"][0]["message"]
    assert message == {"role": "assistant", "content": reply_to(questions["openai"])}

    chunks = events(responses["openai stream"])
    assert chunks[-1] == "[DONE]"
    deltas = [json.loads(chunk)["choices"][0]["delta"] for chunk in chunks[:-1]]
    assert "".join(d["content"] or "" for d in deltas) == reply_to(questions["openai stream"])

    found = setup.data(responses["retrieval"])
    assert found["chunks"] and FACT in found["chunks"][0]["content"]


def test_speech_calls_wait_off_the_event_loop(setup: Setup, fake: FakeOpenAI) -> None:
    fake.release()  # adding a model tests it with one call
    for name, model_type in (("fake-tts", "tts"), ("fake-whisper", "speech2text")):
        body = {"llm_factory": "OpenAI-API-Compatible", "llm_name": name,
                "model_type": model_type, "api_base": fake.base_url, "api_key": "held"}  # fmt: skip
        assert setup.data(setup.post("/v1/llm/add_llm", json=body)) is True
    info = setup.data(setup.get("/v1/user/tenant_info"))
    models = {"tts_id": "fake-tts@OpenAI-API-Compatible",
              "asr_id": "fake-whisper@OpenAI-API-Compatible"}  # fmt: skip
    assert setup.data(setup.post("/v1/user/set_tenant_info", json={**info, **models})) is True

    def heard(stream: str) -> Callable[[], httpx.Response]:
        files = {"file": ("a.wav", b"RIFF-audio", "application/octet-stream")}
        return lambda: setup.post("/api/v1/sequence2txt", files=files, data={"stream": stream})

    calls = {
        "tts": lambda: setup.post("/api/v1/tts", json={"text": "Kingfishers"}),
        "asr": heard("false"),
        "asr stream": heard("true"),
    }
    fake.hold()
    try:
        with ThreadPoolExecutor(len(calls)) as pool:
            held = {kind: pool.submit(call) for kind, call in calls.items()}
            waiting = fake.wait_held(len(calls), timeout=GUARD_S)
            assert sorted(request.path for request in waiting) == [
                "/v1/audio/speech", "/v1/audio/transcriptions", "/v1/audio/transcriptions"]  # fmt: skip
            ping = httpx.get(setup.url("/v1/system/ping"), timeout=GUARD_S)
            assert (ping.status_code, ping.text) == (200, "pong")
            assert not [kind for kind, future in held.items() if future.done()]
            fake.release()
            responses = {kind: future.result(timeout=GUARD_S) for kind, future in held.items()}
    finally:
        fake.release()
    assert responses["tts"].headers["content-type"] == "audio/mpeg"
    assert responses["tts"].content.startswith(b"ID3")
    assert setup.data(responses["asr"])["text"].startswith("Heard 10 bytes")
    [event] = [json.loads(line) for line in events(responses["asr stream"])]
    assert event["event"] == "final" and event["text"].startswith("Heard 10 bytes")
