"""Auto keywords in a real server with a worker: a worker stopped in the middle of the step
gives the task back, and after a restart the task asks the model only about the chunks it had
not answered yet (the answers are in ``llm_cache``)."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import psutil
import pytest

from e2e.test_worker_restart import RELEASED, restart
from e2e.test_worker_tasks import Api
from helpers.fake_openai import FakeOpenAI
from helpers.processes import stop
from helpers.server import running_server
from ragserve.rag import prompt

pytestmark = pytest.mark.e2e

SIGNAL_S = 2.0
NOTES = "\n\n".join(f"Paragraph {n} tells of herons number {n}." for n in range(8))


def keyword_calls(fake: FakeOpenAI) -> list[str]:
    """The chunk texts the model was asked for keywords about, in order."""
    start = prompt.AUTO_KEYWORDS_PROMPT.split("{")[0]
    return [
        str(r.body["messages"][1]["content"])
        for r in fake.requests
        if r.path == "/v1/chat/completions"
        and str(r.body["messages"][0]["content"]).startswith(start)
    ]


def let_through(fake: FakeOpenAI, rounds: int) -> list[str]:
    """Answer the calls waiting, ``rounds`` times (the task's first call goes alone, then two
    at a time), and return once the next two wait; the texts answered."""
    for round_number in range(rounds):
        expected = 1 + 2 * round_number  # calls made so far, all waiting or answered
        waiting = 1 if round_number == 0 else 2
        deadline = time.monotonic() + 60
        while len(keyword_calls(fake)) < expected or len(fake.held()) < waiting:
            assert time.monotonic() < deadline, "the parse never reached the model"
            time.sleep(0.05)
        fake.release()
        fake.hold()
    deadline = time.monotonic() + 60
    while len(keyword_calls(fake)) < 1 + 2 * rounds or len(fake.held()) < 2:
        assert time.monotonic() < deadline, "the next calls never came"
        time.sleep(0.05)
    return keyword_calls(fake)[: 1 + 2 * (rounds - 1)]


def test_a_worker_stopped_mid_step_resumes_without_asking_again(tmp_path: Path) -> None:
    with FakeOpenAI() as fake:
        env = {
            **fake.server_env("held"),  # every model call waits for release()
            "RAGSERVE_WORKERS": "1",
            "RAGSERVE_TASK_LEASE": "900",  # recovered by the shutdown, never by the lease
            "RAGSERVE_CHUNK_LLM_CONCURRENCY": "2",
        }
        with running_server(tmp_path / "home", env) as server:
            api = Api(server)
            config = {"chunk_token_num": 8, "auto_keywords": 1}
            dataset_id = api.call(
                "POST", "/datasets", json={"name": "auto", "parser_config": config}
            )["id"]
            document_id = api.upload(dataset_id, "notes.txt", NOTES.encode())
            api.parse(dataset_id, document_id)
            answered = let_through(fake, rounds=3)  # 1 + 2 + 2 answers stored, 2 calls wait
            api.client.close()
            workers = psutil.Process(server.process.pid).children(recursive=True)
            for process in [server.process, *workers]:  # as a service manager stops a group
                process.send_signal(signal.SIGTERM)
            time.sleep(SIGNAL_S)  # the signal reaches the task's thread while its calls wait
            fake.release()
            assert server.process.wait(timeout=60) in (0, -signal.SIGTERM)
            _gone, alive = psutil.wait_procs(workers, timeout=60)
            assert not alive
        assert len(answered) == 5

        again = restart(server)
        try:
            api = Api(again)
            done = api.wait(dataset_id, document_id, 120)
            api.client.close()
        finally:
            stop(again.process)
    log = done["progress_msg"]
    assert done["run"] == "DONE", log
    assert RELEASED in log
    after = keyword_calls(fake)[len(answered) + 2 :]
    assert after and not set(after) & set(answered)  # no answered chunk asked again
    *_first, cached = (int(n) for n in re.findall(r"(\d+) answered from the cache\.", log))
    assert cached >= len(answered)  # the two calls under way at the stop may be kept too
