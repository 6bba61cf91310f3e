"""Schema fuzzing: schemathesis sends generated requests, valid and invalid, to every operation
of a real server's ``/openapi.json`` with a valid API token, and checks each answer:

* no HTTP 5xx;
* no traceback or Python exception text in any body;
* the response conforms to what the operation declares: a declared status code (or
  ``default``), a declared content type, and a body that validates against the schema.

Bounded: ``RAGSERVE_FUZZ_EXAMPLES`` examples per operation and mode (valid / invalid data),
with a fixed seed (``RAGSERVE_FUZZ_SEED``) so that CI runs the same requests each time; set
another seed locally to explore. Path ids of valid requests are those of real resources made
first (a dataset with a parsed document and a chunk, a chat with a session), so that success
bodies are checked too, not only "not found" envelopes.

Destructive operations run last, so that they do not empty the resources the others use: the
deletions (deepest resources first), then logout, then token deletion (which cannot guess the
test's token, but if it could, nothing would run after it).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers.fake_openai import FakeOpenAI
from helpers.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = int(os.environ.get("RAGSERVE_FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("RAGSERVE_FUZZ_SEED", "13"))
ONLY = re.compile(os.environ.get("RAGSERVE_FUZZ_ONLY", ""))
"""Fuzz only the operations whose label (``GET /api/v1/...``) this pattern finds (all: empty)."""
REQUEST_LOG = os.environ.get("RAGSERVE_FUZZ_LOG", "")
"""A file to append every request and its response to (JSON lines), to read what was sent."""
TIMEOUT_S = 30.0
BODY_SHOWN = 600
"""Characters of a response body shown in a failure report."""

# Text that only a leaked exception puts in a body: a traceback, a source line, or the name of a
# Python or driver exception class. RAGFlow's own messages never contain these.
_LEAK = re.compile(
    r"Traceback \(most recent call last\)"
    r'|File "[^"]+\.py", line \d+'
    r"|\b(?:ArithmeticError|AssertionError|AttributeError|BaseException|BlockingIOError"
    r"|BrokenPipeError|ConnectionError|EOFError|FileNotFoundError|ImportError|IndexError"
    r"|IntegrityError|IsADirectoryError|JSONDecodeError|KeyError|LookupError|MemoryError"
    r"|ModuleNotFoundError|NameError|NotADirectoryError|NotImplementedError|OperationalError"
    r"|OSError|OverflowError|PermissionError|ProgrammingError|RecursionError|ReferenceError"
    r"|RuntimeError|StatementError|StopIteration|TimeoutError|TypeError|UnboundLocalError"
    r"|UnicodeDecodeError|UnicodeEncodeError|UnicodeError|ValidationError|ValueError"
    r"|ZeroDivisionError|DetachedInstanceError|PendingRollbackError|InterfaceError)\b"
    r"|\b(?:sqlalchemy|psycopg|pymysql|pydantic_core|starlette|litellm)\.\w"
)


@dataclass
class Finding:
    operation: str
    check: str
    title: str
    detail: str
    request: str
    response: str
    count: int = 1

    def render(self) -> str:
        times = f" ({self.count} requests)" if self.count > 1 else ""
        lines = [f"--- {self.operation}: {self.check}: {self.title}{times}", self.detail.strip()]
        if self.request:
            lines += [f"request:  {self.request}", f"response: {self.response}"]
        return "\n".join(line for line in lines if line)


@dataclass
class Report:
    requests: int = 0
    by_operation: Counter[str] = field(default_factory=Counter)
    findings: dict[tuple[str, str, str], Finding] = field(default_factory=dict)

    def add(self, finding: Finding) -> None:
        key = (finding.operation, finding.check, finding.title)
        if key in self.findings:
            self.findings[key].count += 1
        else:
            self.findings[key] = finding

    @property
    def failures(self) -> list[Finding]:
        return list(self.findings.values())

    def render(self) -> str:
        lines = [
            f"schemathesis: {self.requests} requests to {len(self.by_operation)} operations, "
            f"{len(self.failures)} distinct failures"
        ]
        lines += [finding.render() for finding in self.failures]
        return "\n".join(lines)


@dataclass
class Resources:
    """Real ids to put in the path of valid requests, by path parameter name."""

    path: dict[str, str]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAI) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("schema-fuzz") / "home"
    with running_server(home, fake.server_env("sk-fuzz")) as running:
        yield running


def _ok(response: httpx.Response) -> Any:
    body = response.json()
    assert body["code"] == 0, body
    return body.get("data")


def make_resources(server: RunningServer) -> Resources:
    """A dataset with a parsed document and a chunk, a chat on it with a session, a memory
    with a turn."""
    client = httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {server.api_key}"},
        timeout=TIMEOUT_S,
    )
    with client:
        dataset_id = _ok(client.post("/api/v1/datasets", json={"name": "fuzz"}))["id"]
        (document,) = _ok(
            client.post(
                f"/api/v1/datasets/{dataset_id}/documents",
                files=[("file", ("owls.md", b"# Owls\n\nOwls hunt at night. They rest by day."))],
            )
        )
        document_id = document["id"]
        _ok(
            client.post(
                f"/api/v1/datasets/{dataset_id}/chunks", json={"document_ids": [document_id]}
            )
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            docs = _ok(client.get(f"/api/v1/datasets/{dataset_id}/documents"))["docs"]
            if docs[0]["run"] in {"DONE", "FAIL"}:
                break
            time.sleep(0.2)
        assert docs[0]["run"] == "DONE", docs[0]
        chunk = _ok(
            client.post(
                f"/api/v1/datasets/{dataset_id}/documents/{document_id}/chunks",
                json={"content": "Owls have soft feathers."},
            )
        )["chunk"]
        chat_id = _ok(
            client.post("/api/v1/chats", json={"name": "fuzz", "dataset_ids": [dataset_id]})
        )["id"]
        session_id = _ok(client.post(f"/api/v1/chats/{chat_id}/sessions", json={"name": "fuzz"}))[
            "id"
        ]
        memory = {"name": "fuzz", "memory_type": ["raw"], "embd_id": "openai/fake-embedding"}
        memory_id = _ok(client.post("/api/v1/memories", json={**memory, "llm_id": "x"}))["id"]
        turn = {"agent_id": "a", "session_id": "s", "user_input": "owls", "agent_response": "yes"}
        _ok(client.post("/api/v1/messages", json={"memory_id": [memory_id], **turn}))
        [message] = _ok(client.get("/api/v1/messages", params={"memory_id": memory_id}))
    return Resources(
        {
            "dataset_id": dataset_id,
            "document_id": document_id,
            "chunk_id": chunk["id"],
            "chat_id": chat_id,
            "session_id": session_id,
            "memory_id": memory_id,
            "message_id": str(message["message_id"]),
        }
    )


def run_order(label: str) -> tuple[int, int, str]:
    """Safe operations first; then deletions, deepest resource first; logout; token deletion."""
    method, path = label.split(" ", 1)
    if path.startswith("/v1/system/token/"):
        return (3, 0, label)
    if path == "/v1/user/logout":
        return (2, 0, label)
    if method == "DELETE":
        return (1, -path.count("/"), label)
    return (0, 0, label)


def fuzz(server: RunningServer, resources: Resources) -> Report:
    import requests
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, seed, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.core.failures import Failure, FailureGroup
    from schemathesis.core.result import Ok
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    schema = schemathesis.openapi.from_url(server.base_url + "/openapi.json")
    auth = {"Authorization": f"Bearer {server.api_key}"}
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    report = Report()
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Ok):
            if ONLY.search(result.ok().label):
                operations.append(result.ok())
        else:  # an operation schemathesis cannot read: /openapi.json itself is wrong there
            error = result.err()
            label = f"{getattr(error, 'method', '?')} {getattr(error, 'path', '?')}".upper()
            report.add(Finding(label, "valid_schema", "unreadable operation", str(error), "", ""))
    operations.sort(key=lambda operation: run_order(operation.label))

    def exercise(operation: Any, mode: GenerationMode) -> Callable[[], None]:
        path_ids = {
            name: resources.path[name]
            for name in (p.name for p in operation.path_parameters)
            if name in resources.path
        }
        strategy = operation.as_strategy(
            generation_mode=mode, path_parameters=path_ids if mode.is_positive else None
        )

        @seed(SEED)
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )
        @given(case=strategy)
        def one(case: Any) -> None:
            request = _request_line(case, auth)
            report.requests += 1
            report.by_operation[operation.label] += 1
            try:
                response = case.call(
                    base_url=server.base_url, session=session, headers=auth, timeout=TIMEOUT_S
                )
            except requests.RequestException as error:  # no answer: the server hung or died
                title = type(error).__name__
                report.add(Finding(operation.label, "answers", title, str(error), request, "-"))
                return
            shown = _response_line(response)
            if REQUEST_LOG:
                entry = {"operation": operation.label, "mode": mode.value}
                entry |= {"request": request, "response": shown}
                with Path(REQUEST_LOG).open("a", encoding="utf-8") as log:
                    log.write(json.dumps(entry) + "\n")
            leak = _LEAK.search(response.text or "")
            if leak is not None:
                report.add(
                    Finding(
                        operation.label,
                        "no_exception_text",
                        "exception text in the body",
                        f"found {leak.group(0)!r}",
                        request,
                        shown,
                    )
                )
            try:
                case.validate_response(response, checks=checks, headers=auth)
            except FailureGroup as group:
                for failure in group.exceptions:
                    report.add(_finding(operation.label, failure, request, shown))
            except Failure as failure:
                report.add(_finding(operation.label, failure, request, shown))

        return one

    with requests.Session() as session:
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    exercise(operation, mode)()
                except Unsatisfiable:
                    # nothing to make invalid (an operation without parameters or body)
                    assert not mode.is_positive, operation.label
    return report


def _finding(operation: str, failure: Any, request: str, response: str) -> Finding:
    check = next(iter(type(failure).checks), type(failure).__name__)
    # the message quotes the whole schema and body after this; the response line shows the body
    detail = str(failure.message).split("\n\nSchema:", 1)[0]
    return Finding(operation, check, failure.title, detail, request, response)


def _request_line(case: Any, auth: dict[str, str]) -> str:
    curl: str = case.as_curl_command(headers=auth)
    return curl.replace(auth["Authorization"], "Bearer $TOKEN")


def _response_line(response: Any) -> str:
    text: str = response.text or ""
    if len(text) > BODY_SHOWN:
        text = text[:BODY_SHOWN] + f"… ({len(response.text)} characters)"
    content_type = response.headers.get("content-type", ["?"])
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else "?"
    return f"HTTP {response.status_code} {content_type} {text}"


def _first_traceback(log: str) -> str:
    """The log line that reported the error and the last frames of its traceback."""
    lines = log.splitlines()
    end = next(
        (
            index
            for index, line in enumerate(lines[2:], start=2)
            if line and not line[0].isspace() and not line.startswith(("Traceback", "During"))
        ),
        len(lines) - 1,
    )
    return "\n".join([lines[0], "  …", *lines[max(1, end - 4) : end + 1]])


def test_every_operation_answers_as_its_schema_says(
    server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    resources = make_resources(server)
    started = time.monotonic()
    report = fuzz(server, resources)
    elapsed = time.monotonic() - started
    log = server.log
    if "unhandled error" in log:  # e.g. a stream that failed after its first bytes: no 5xx
        count = log.count("unhandled error")
        first = _first_traceback(log[log.index("unhandled error") :])
        report.add(Finding("(server log)", "no_unhandled_error", f"{count} logged", first, "", ""))
    summary = f"({elapsed:.0f} s, seed {SEED}, {MAX_EXAMPLES} examples per operation and mode)"
    assert report.requests > 0
    if report.failures:
        pytest.fail(f"{report.render()}\n{summary}", pytrace=False)
    with capsys.disabled():
        print(f"\n{report.render()}\n{summary}")
