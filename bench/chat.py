"""Time to the first streamed answer byte of a chat completion, minus the model's own latency.

    .venv/bin/python bench/chat.py [--home DIR] [--size 200000] [--questions 100]

The corpus is the retrieval benchmark's (``bench/retrieval.py``: real English sentences and
their vectors, ``--size`` chunks, built once under ``--home/<size>`` and shared with it). A
``ragserve serve`` process (workers=0) on that home answers with an assistant over the dataset
whose model is the fake OpenAI-compatible server of ``tests/helpers``, in this process, streaming
its reply at once. For each question (a new session each time, so no history and no question
refinement), the client measures the time from sending the request to the first answer event
(``data:`` with a non-empty answer; ragserve sends text in pieces of at least 16 tokens, which the
fake produces at once), and the fake measures its own time from receiving the model request to
its first streamed token. The difference is ragserve's part: auth, session, retrieval, prompt
assembly, the model call's overhead. Baseline in the same run: ``POST /api/v1/retrieval`` with the
assistant's settings, and the HTTP ping. Prints a table and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from retrieval import (  # type: ignore[import-not-found]
    Built,
    Questions,
    built_home,
    questions,
    sentence_pool,
    sentence_vectors,
    serving,
    summary,
    timed,
)

from helpers.fake_openai import FakeOpenAI

TARGET_OVER_RETRIEVAL_MS = 10.0
"""Issue 20: ragserve's part p50 at most the retrieval endpoint's p50 plus this."""
WARM_UP = 5
ANSWER = (
    "Based on the passages, the flow separates near the leading edge when the angle of attack "
    "grows, and the boundary layer thickens downstream of the transition point."
)


class TimedFake(FakeOpenAI):
    """The fake model, noting how long each streamed request took to its first token."""

    def __init__(self) -> None:
        super().__init__(reply=lambda _messages: ANSWER)
        self.first_token_seconds: list[float] = []
        self._lock = threading.Lock()

    def handle(self, path: str, api_key: str | None, body: dict[str, Any]) -> Any:
        started = time.perf_counter()
        answer = super().handle(path, api_key, body)
        if body.get("stream"):
            with self._lock:
                self.first_token_seconds.append(time.perf_counter() - started)
        return answer


def first_answer_seconds(client: httpx.Client, chat_id: str, question: str) -> float:
    session = client.post(f"/api/v1/chats/{chat_id}/sessions", json={"name": "bench"}).json()
    body = {"question": question, "stream": True, "session_id": session["data"]["id"]}
    started = time.perf_counter()
    elapsed = None
    with client.stream("POST", f"/api/v1/chats/{chat_id}/completions", json=body) as response:
        for line in response.iter_lines():
            if elapsed is None and line.startswith("data:"):
                data = json.loads(line[len("data:") :]).get("data")
                if isinstance(data, dict) and data.get("answer"):
                    elapsed = time.perf_counter() - started
    if elapsed is None:
        raise RuntimeError(f"no answer streamed for {question!r}")
    return elapsed


def run(built: Built, fake: TimedFake, count: int, pool: list[str]) -> dict[str, Any]:
    env = fake.server_env("sk-bench", chat_model="openai/bench-model")
    sequence = Questions(questions(pool))
    with serving(built, env, "chat-server.log") as client:
        created = client.post(
            "/api/v1/chats",
            json={
                "name": f"bench-{time.time_ns()}",
                "dataset_ids": [built.dataset_id],
                "llm": {"model_name": "openai/bench-model"},
                "prompt": {"empty_response": ""},  # every question reaches the model
            },
        ).json()
        if created.get("code") != 0:
            raise RuntimeError(f"cannot create the assistant: {created}")
        chat_id = created["data"]["id"]
        for _ in range(WARM_UP):
            first_answer_seconds(client, chat_id, sequence.next())
        fake.first_token_seconds.clear()
        totals = [first_answer_seconds(client, chat_id, sequence.next()) for _ in range(count)]
        model = list(fake.first_token_seconds)
        retrieval, _ = timed(
            count,
            lambda _: client.post(
                "/api/v1/retrieval",
                json={"question": sequence.next(), "dataset_ids": [built.dataset_id],
                      "page_size": 6, "highlight": False},
            ),
        )  # fmt: skip
        pings, _ = timed(count, lambda _: client.get("/v1/system/ping"))
    own = [total - llm for total, llm in zip(totals, model, strict=True)]
    return {
        "chunks": built.size,
        "first_answer_byte": summary(totals),
        "model_first_token": summary(model),
        "ragserve_part": summary(own),
        "baseline_retrieval_endpoint": retrieval,
        "baseline_ping": pings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="where built corpora are kept [a temp dir]")
    parser.add_argument("--size", type=int, default=200_000, help="chunks")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--documents", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ragserve-bench-") as temp, TimedFake() as fake:
        root = args.home or Path(temp)
        pool = sentence_pool(root / "sentences.json")
        vectors = sentence_vectors(pool, root / "sentence-vectors.npy")
        built = built_home(root / str(args.size), args.size, args.documents, pool, vectors)
        report = run(built, fake, args.questions, pool)
    print(f"\nchat completion at {report['chunks']} chunks, {args.questions} questions")
    print(f"{'measure':<34}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}")
    for name in ("first_answer_byte", "model_first_token", "ragserve_part",
                 "baseline_retrieval_endpoint", "baseline_ping"):  # fmt: skip
        row = report[name]
        print(f"{name:<34}{row['p50_ms']:>10.1f}{row['p95_ms']:>10.1f}{row['mean_ms']:>10.1f}")
    target = report["baseline_retrieval_endpoint"]["p50_ms"] + TARGET_OVER_RETRIEVAL_MS
    met = report["ragserve_part"]["p50_ms"] <= target
    print(
        f"target: ragserve's part p50 <= retrieval endpoint p50 + {TARGET_OVER_RETRIEVAL_MS:.0f} ms"
        f" = {target:.1f} ms: {'met' if met else 'MISSED'}"
    )
    result = {"bench": "chat", "python": platform.python_version(), "target_p50_ms": target,
              "met": met, **report}  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
