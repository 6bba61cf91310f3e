"""An agent's overhead: time to the first streamed answer byte of a Begin -> Retrieval -> LLM ->
Message agent, minus the model's own latency, next to a chat completion's in the same run.

    .venv/bin/python bench/agent.py [--home DIR] [--size 200000] [--questions 100]

The corpus is the retrieval benchmark's (``bench/retrieval.py``: real English sentences and
their vectors, ``--size`` chunks, built once under ``--home/<size>`` and shared with it and with
``bench/chat.py``). A ``ragserve serve`` process (workers=0) on that home has an assistant over
the dataset and an agent doing the same work (Retrieval with the assistant's settings, an LLM
whose system prompt holds the passages, a Message streaming it), both on the fake
OpenAI-compatible model of ``tests/helpers`` (``bench/chat.py``'s ``TimedFake``), in this
process, streaming its reply at once. Questions alternate between the two, each in a new
session (no history): the client measures the time from sending the request to the first
answer text (the chat's first ``data:`` with an answer, the agent's first ``message`` event with
content), and the fake its own time from receiving the model request to its first streamed
token. Each difference is ragserve's part; the target is the agent's part within
``TARGET_EXTRA_MS`` of the chat's (p50). Baseline in the same run: ``POST /api/v1/retrieval``
with the same settings, and the HTTP ping. Prints a table and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from chat import WARM_UP, TimedFake, first_answer_seconds  # type: ignore[import-not-found]
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

TARGET_EXTRA_MS = 10.0
MODEL = "openai/bench-model"
TOP_N = 6
SIMILARITY_THRESHOLD = 0.2
VECTOR_WEIGHT = 0.3
"""The assistant's retrieval defaults (``top_n`` 6, threshold 0.2, vector weight 0.3)."""


def agent_dsl(dataset_id: str) -> dict[str, Any]:
    def node(name: str, params: dict[str, Any], down: list[str]) -> dict[str, Any]:
        return {"obj": {"component_name": name, "params": params}, "downstream": down}

    return {
        "components": {
            "begin": node("Begin", {"prologue": ""}, ["Retrieval:Find"]),
            "Retrieval:Find": node("Retrieval", {
                "kb_ids": [dataset_id], "top_n": TOP_N,
                "similarity_threshold": SIMILARITY_THRESHOLD,
                "keywords_similarity_weight": 1 - VECTOR_WEIGHT}, ["LLM:Answer"]),
            "LLM:Answer": node("LLM", {
                "llm_id": MODEL,
                "sys_prompt": "Answer from these passages.\n{Retrieval:Find@formalized_content}",
            }, ["Message:Say"]),
            "Message:Say": node("Message", {"content": ["{LLM:Answer@content}"]}, []),
        }
    }  # fmt: skip


def first_agent_seconds(client: httpx.Client, agent_id: str, question: str) -> float:
    body = {"question": question, "stream": True}
    started = time.perf_counter()
    elapsed = None
    with client.stream("POST", f"/api/v1/agents/{agent_id}/completions", json=body) as response:
        for line in response.iter_lines():
            if elapsed is None and line.startswith("data:{"):
                event = json.loads(line[len("data:") :])
                if event.get("event") == "message" and event["data"].get("content"):
                    elapsed = time.perf_counter() - started
    if elapsed is None:
        raise RuntimeError(f"no agent answer streamed for {question!r}")
    return elapsed


def measured(fake: TimedFake, call: Callable[[], float]) -> tuple[float, float]:
    """The call's time to its first answer byte and its one model request's first token."""
    before = len(fake.first_token_seconds)
    total = call()
    model = fake.first_token_seconds[before:]
    if len(model) != 1:
        raise RuntimeError(f"expected one streamed model request, saw {len(model)}")
    return total, model[0]


def run(built: Built, fake: TimedFake, count: int, pool: list[str]) -> dict[str, Any]:
    env = fake.server_env("sk-bench", chat_model=MODEL)
    sequence = Questions(questions(pool))
    with serving(built, env, "agent-server.log") as client:
        created = client.post(
            "/api/v1/chats",
            json={
                "name": f"bench-{time.time_ns()}",
                "dataset_ids": [built.dataset_id],
                "llm": {"model_name": MODEL},
                "prompt": {"empty_response": "", "top_n": TOP_N,
                           "similarity_threshold": SIMILARITY_THRESHOLD,
                           "keywords_similarity_weight": 1 - VECTOR_WEIGHT},
            },
        ).json()  # fmt: skip
        if created.get("code") != 0:
            raise RuntimeError(f"cannot create the assistant: {created}")
        chat_id = created["data"]["id"]
        title = f"bench-{time.time_ns()}"
        dsl = agent_dsl(built.dataset_id)
        made = client.post("/api/v1/agents", json={"title": title, "dsl": dsl})
        if made.json().get("code") != 0:
            raise RuntimeError(f"cannot create the agent: {made.text}")
        agent_id = client.get("/api/v1/agents", params={"title": title}).json()["data"][0]["id"]

        def chat_call() -> float:
            return float(first_answer_seconds(client, chat_id, sequence.next()))

        def agent_call() -> float:
            return first_agent_seconds(client, agent_id, sequence.next())

        for _ in range(WARM_UP):
            chat_call()
            agent_call()
        chat: list[tuple[float, float]] = []
        agent: list[tuple[float, float]] = []
        for _ in range(count):  # alternating, so both see the same machine
            chat.append(measured(fake, chat_call))
            agent.append(measured(fake, agent_call))
        retrieval, _ = timed(
            count,
            lambda _: client.post(
                "/api/v1/retrieval",
                json={"question": sequence.next(), "dataset_ids": [built.dataset_id],
                      "page_size": TOP_N, "similarity_threshold": SIMILARITY_THRESHOLD,
                      "vector_similarity_weight": VECTOR_WEIGHT, "highlight": False},
            ),
        )  # fmt: skip
        pings, _ = timed(count, lambda _: client.get("/v1/system/ping"))
    report: dict[str, Any] = {"chunks": built.size}
    for name, pairs in (("chat", chat), ("agent", agent)):
        report[f"{name}_first_answer_byte"] = summary([total for total, _ in pairs])
        report[f"{name}_model_first_token"] = summary([model for _, model in pairs])
        report[f"{name}_ragserve_part"] = summary([total - model for total, model in pairs])
    report["baseline_retrieval_endpoint"] = retrieval
    report["baseline_ping"] = pings
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="where built corpora are kept [a temp dir]")
    parser.add_argument("--size", "--chunks", type=int, default=200_000, help="chunks")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--documents", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ragserve-bench-") as temp, TimedFake() as fake:
        root = args.home or Path(temp)
        pool = sentence_pool(root / "sentences.json")
        vectors = sentence_vectors(pool, root / "sentence-vectors.npy")
        built = built_home(root / str(args.size), args.size, args.documents, pool, vectors)
        report = run(built, fake, args.questions, pool)
    print(f"\nagent and chat at {report['chunks']} chunks, {args.questions} questions each")
    print(f"{'measure':<34}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}")
    for name in ("chat_first_answer_byte", "chat_model_first_token", "chat_ragserve_part",
                 "agent_first_answer_byte", "agent_model_first_token", "agent_ragserve_part",
                 "baseline_retrieval_endpoint", "baseline_ping"):  # fmt: skip
        row = report[name]
        print(f"{name:<34}{row['p50_ms']:>10.1f}{row['p95_ms']:>10.1f}{row['mean_ms']:>10.1f}")
    extra = report["agent_ragserve_part"]["p50_ms"] - report["chat_ragserve_part"]["p50_ms"]
    met = extra <= TARGET_EXTRA_MS
    print(f"agent's part minus chat's part, p50: {extra:.1f} ms")
    print(f"target: within {TARGET_EXTRA_MS:.0f} ms of the chat's: {'met' if met else 'MISSED'}")
    result = {"bench": "agent", "python": platform.python_version(),
              "target_extra_p50_ms": TARGET_EXTRA_MS, "agent_extra_p50_ms": round(extra, 2),
              "met": met, **report}  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
