"""Hostile request bodies over every route, and stored values that must not break later reads
(issue 21, points 2, 3 and 8).

The routes come from the app's own ``/openapi.json``, so a route added later is covered too.
Bodies are sent as raw JSON text, the way a fuzzer or a broken client sends them: ``json.dumps``
spells a lone surrogate as its ``\\ud800`` escape.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from api.test_parsing import TEXT, new_dataset, parse, upload
from conftest import Account
from ragserve.runtime import Runtime
from ragserve.schemas.json_values import MAX_DEPTH

LONE_SURROGATE = "String should not contain a lone surrogate"
FUZZ = settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
"""The app and account fixtures are shared by the examples: every request here is refused, or
only writes values that the test reads back."""
PATH_IDS = {"chunk_id": "0" * 16, "token": "ragflow-" + "0" * 32}
"""Ids of the right shape that name nothing; any other path parameter gets 32 zeros."""


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    body: str | None
    """``json``, ``form`` or None (no body)."""
    fields: tuple[str, ...]
    secured: bool

    @property
    def url(self) -> str:
        url = self.path
        for name in _path_names(self.path):
            url = url.replace("{" + name + "}", PATH_IDS.get(name, "0" * 32))
        return url

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _path_names(path: str) -> Iterator[str]:
    """Every ``{name}`` of the path, also several in one segment (``{memory_id}:{message_id}``)."""
    for match in re.finditer(r"\{(\w+)\}", path):
        yield match.group(1)


def operations(client: TestClient) -> list[Operation]:
    spec = client.get("/openapi.json").json()
    found = []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            content = operation.get("requestBody", {}).get("content", {})
            body = "json" if "application/json" in content else "form" if content else None
            schema = _resolve(spec, content.get("application/json", {}).get("schema", {}))
            fields = tuple(schema.get("properties", {}))
            secured = bool(operation.get("security"))
            found.append(Operation(method.upper(), path, body, fields, secured))
    return found


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    for alternative in schema.get("anyOf", []):  # an optional body: Model | None
        if "$ref" in alternative:
            return _resolve(spec, alternative)
    return schema


def send(
    client: TestClient, operation: Operation, content: bytes | None, **headers: str
) -> httpx.Response:
    return client.request(operation.method, operation.url, content=content, headers=headers)


def message(response: httpx.Response) -> str:
    body = response.json()
    if "error" in body and isinstance(body["error"], dict):  # the OpenAI-compatible routes
        return str(body["error"]["message"])
    return str(body["message"] if "message" in body else body["retmsg"])  # retmsg: early API


def code(response: httpx.Response) -> object:
    """The envelope's code: ``code``, or ``retcode`` on the early API's ``/v1/api`` routes."""
    body = response.json()
    return body["code"] if "code" in body else body.get("retcode")


# --- point 3: a lone surrogate in any string of any JSON body ----------------------------------

LONE = st.integers(0xD800, 0xDFFF).map(chr)
TEXT_CHARS = st.characters(codec="utf-8", exclude_categories=["Cs"])
NAMES = st.text(string.ascii_letters + "_", min_size=1, max_size=8)
LEAVES = st.none() | st.booleans() | st.integers() | st.text(TEXT_CHARS, max_size=6)
Path = tuple[str | int, ...]


@st.composite
def holding_a_surrogate(draw: st.DrawFn, depth: int = 0) -> tuple[Any, Path]:
    """A JSON value with one lone surrogate, in a string or in a key, and where it is (a key
    is reported at the object that holds it)."""
    kinds = ["text", "key", "list", "object"] if depth < 3 else ["text", "key"]
    kind = draw(st.sampled_from(kinds))
    if kind == "text":
        return draw(st.text(TEXT_CHARS, max_size=4)) + draw(LONE) + draw(
            st.text(TEXT_CHARS, max_size=4)
        ), ()
    if kind == "key":
        return {draw(NAMES) + draw(LONE): draw(LEAVES)}, ()
    inner, path = draw(holding_a_surrogate(depth + 1))
    if kind == "list":
        items = draw(st.lists(LEAVES, max_size=3))
        index = draw(st.integers(0, len(items)))
        items.insert(index, inner)
        return items, (index, *path)
    key = draw(NAMES)
    siblings = draw(st.dictionaries(NAMES.map(lambda name: f"{name}_"), LEAVES, max_size=2))
    return {**siblings, key: inner}, (key, *path)


def test_a_lone_surrogate_in_any_json_body_is_refused_naming_the_field(
    client: TestClient, alice: Account
) -> None:
    """Every route that takes JSON, the unauthenticated login first among them: a 101 (the
    OpenAI-compatible route: a 400) naming the field, never a 5xx, whatever the field. Alice
    is made an administrator, so that the admin API's bodies are read too."""
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.transaction() as session:
        session.execute(text("UPDATE user SET is_superuser = :yes"), {"yes": True})
    json_routes = [op for op in operations(client) if op.body == "json"]
    assert any(op.path == "/v1/user/login" for op in json_routes)
    beta = alice.post("/v1/system/new_token").json()["data"]["beta"]
    for operation in json_routes:
        # the embedded widgets' routes take the beta token only
        bot = operation.path.startswith(BOT_ROUTES)
        credential = {"Authorization": f"Bearer {beta}"} if bot else alice.api_headers
        refuses_every_lone_surrogate(client, credential, operation)


BOT_ROUTES = ("/api/v1/chatbots/", "/api/v1/agentbots/", "/api/v1/searchbots/")


def refuses_every_lone_surrogate(
    client: TestClient, credential: dict[str, str], operation: Operation
) -> None:
    @FUZZ
    @given(field=st.sampled_from(operation.fields or ("anything",)), case=holding_a_surrogate())
    def refused(field: str, case: tuple[Any, Path]) -> None:
        value, path = case
        content = json.dumps({field: value}).encode()
        headers = {**credential, "Content-Type": "application/json"}
        response = send(client, operation, content, **headers)
        assert response.status_code < 500, (str(operation), response.text)
        where = ".".join(str(part) for part in (field, *path))
        line = f"Field: <{where}> - Message: <{LONE_SURROGATE}>"
        assert line in message(response), (str(operation), content, response.text)
        if operation.path.startswith(("/api/v1/chats_openai/", "/api/v1/agents_openai/")):
            assert response.status_code == 400
        else:
            assert code(response) == 101, (str(operation), response.text)

    refused()


def test_login_with_a_lone_surrogate(client: TestClient) -> None:
    response = client.post(
        "/v1/user/login",
        content=b'{"email":"\\ud800","password":"x"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "code": 101,
        "message": f"Field: <email> - Message: <{LONE_SURROGATE}> - Value: <\\ud800>",
        "data": None,
    }


def test_a_surrogate_pair_is_a_character_not_a_surrogate(
    client: TestClient, alice: Account
) -> None:
    content = b'{"name":"owl \\ud83e\\udd89"}'
    headers = {**alice.api_headers, "Content-Type": "application/json"}
    response = client.post("/api/v1/datasets", content=content, headers=headers)
    assert response.json()["data"]["name"] == "owl \U0001f989"


def test_a_surrogate_in_a_key_is_reported_at_its_object(client: TestClient, alice: Account) -> None:
    headers = {**alice.api_headers, "Content-Type": "application/json"}
    content = b'{"question":"x","dataset_ids":["a"],"metadata_condition":{"\\udc00k":1}}'
    response = client.post("/api/v1/retrieval", content=content, headers=headers)
    assert response.json() == {
        "code": 101,
        "message": f"Field: <metadata_condition> - Message: <{LONE_SURROGATE}> - Value: <\\udc00k>",
    }


def test_a_body_nested_too_deep_is_refused(client: TestClient, alice: Account) -> None:
    headers = {**alice.api_headers, "Content-Type": "application/json"}
    chat_id = client.post("/api/v1/chats", json={"name": "deep"}, headers=alice.api_headers)
    deep = "[" * MAX_DEPTH + "]" * MAX_DEPTH  # with the body and `llm`: two levels too deep
    content = f'{{"llm": {{"extra": {deep}}}}}'.encode()
    response = client.put(
        f"/api/v1/chats/{chat_id.json()['data']['id']}", content=content, headers=headers
    )
    body = response.json()
    assert body["code"] == 101
    assert f"Message: <JSON should be nested at most {MAX_DEPTH} levels deep>" in body["message"]
    assert body["message"].startswith("Field: <llm.extra.0.0")
    assert client.get("/api/v1/chats", headers=alice.api_headers).json()["code"] == 0


# --- point 8: the credential before the body, on every route -----------------------------------

INVALID_BODIES: list[tuple[str, bytes, str]] = [
    ("malformed JSON", b'{"name": ', "application/json"),
    ("a lone surrogate", b'{"name": "\\ud800", "question": "\\udfff"}', "application/json"),
    ("not an object", b"[1, 2]", "application/json"),
    (
        "wrong types",
        b'{"name": 5, "model": 1, "messages": {}, "dataset_ids": "x"}',
        "application/json",
    ),
    ("another content type", b"name=x", "text/plain"),
    ("a broken multipart body", b"--x\r\nbroken", "multipart/form-data"),
    ("too deep", b"[" * 100 + b"]" * 100, "application/json"),
]
CREDENTIALS = {"no credential": {}, "an unknown key": {"Authorization": "Bearer ragflow-unknown"}}


def _without_request_id(response: httpx.Response) -> tuple[int, str]:
    body = response.text
    request_id = response.headers.get("x-request-id", "")
    return response.status_code, body.replace(request_id, "") if request_id else body


@pytest.mark.parametrize("credential", list(CREDENTIALS))
def test_the_credential_is_checked_before_the_body_on_every_route(
    client: TestClient, credential: str
) -> None:
    headers = CREDENTIALS[credential]
    secured = [op for op in operations(client) if op.secured]
    assert any(op.path.startswith("/api/v1/chats_openai/") for op in secured)
    for operation in secured:
        refused = send(client, operation, None, **headers)  # no body: only the credential
        assert _is_an_auth_error(refused), (str(operation), refused.text)
        for problem, content, content_type in INVALID_BODIES:
            answer = send(client, operation, content, **headers, **{"Content-Type": content_type})
            assert _without_request_id(answer) == _without_request_id(refused), (
                str(operation),
                problem,
                answer.text,
            )


def test_an_invalid_query_waits_for_the_credential_too(client: TestClient) -> None:
    response = client.get("/api/v1/datasets", params={"page": "x", "page_size": "-1"})
    assert response.json() == {
        "code": 109,
        "message": "`Authorization` can't be empty",
        "data": False,
    }


BETA_REFUSALS = ('Authorization is not valid!"', 'Authentication error: API key is invalid!"')


def _is_an_auth_error(response: httpx.Response) -> bool:
    if response.status_code in (401, 403):
        return True
    if response.status_code == 200 and code(response) == 102:  # the widgets' beta token
        return message(response) in BETA_REFUSALS
    return response.status_code == 200 and code(response) == 109


def test_the_openai_route_answers_401_before_reading_the_body(client: TestClient) -> None:
    """The issue's own example: no token and a body without `model` and `messages`."""
    for headers in CREDENTIALS.values():
        response = client.post(
            "/api/v1/chats_openai/abc/chat/completions", json={}, headers=headers
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"


def test_with_a_valid_credential_the_body_errors_are_unchanged(
    client: TestClient, alice: Account
) -> None:
    headers = {**alice.api_headers, "Content-Type": "text/plain"}
    assert client.post("/api/v1/datasets", content=b"name=x", headers=headers).json() == {
        "code": 101,
        "message": "Unsupported content type: Expected application/json, got text/plain",
    }
    headers["Content-Type"] = "application/json"
    assert client.post("/api/v1/retrieval", content=b"{bad", headers=headers).json() == {
        "code": 101,
        "message": "Malformed JSON syntax: Missing commas/brackets or invalid encoding",
    }
    headers["Content-Type"] = "multipart/form-data"
    dataset_id = new_dataset(alice)
    response = client.post(
        f"/api/v1/datasets/{dataset_id}/documents", content=b"--x\r\nbroken", headers=headers
    )
    assert (response.status_code, response.json()["code"]) == (400, 100)


# --- point 2: nothing stored can break a later read --------------------------------------------


@dataclass
class Stored:
    """A dataset with a parsed document, a chunk of it and a chat on it."""

    dataset_id: str
    document_id: str
    chunk_id: str
    chat_id: str


@pytest.fixture
def stored(alice: Account) -> Stored:
    dataset_id = new_dataset(alice)
    document_id = upload(alice, dataset_id, "cranes.md", TEXT.encode())
    assert parse(alice, dataset_id, [document_id]) == {"code": 0}
    chunks = alice.client.get(
        f"/api/v1/datasets/{dataset_id}/documents/{document_id}/chunks", headers=alice.api_headers
    ).json()
    chat = alice.client.post(
        "/api/v1/chats", json={"name": "c", "dataset_ids": [dataset_id]}, headers=alice.api_headers
    ).json()
    return Stored(dataset_id, document_id, chunks["data"]["chunks"][0]["id"], chat["data"]["id"])


def reads(alice: Account, stored: Stored) -> dict[str, httpx.Response]:
    """Every read that shows the values of 2a, 2b and 2c."""
    get, post = alice.client.get, alice.client.post
    headers = alice.api_headers
    base = f"/api/v1/datasets/{stored.dataset_id}"
    return {
        "chats": get("/api/v1/chats", headers=headers),
        "documents": get(f"{base}/documents", headers=headers),
        "document": get(f"{base}/documents/{stored.document_id}", headers=headers),
        "summary": get(f"{base}/metadata/summary", headers=headers),
        "chunks": get(f"{base}/documents/{stored.document_id}/chunks", headers=headers),
        "retrieval": post(
            "/api/v1/retrieval",
            json={"dataset_ids": [stored.dataset_id], "question": "cranes"},
            headers=headers,
        ),
        "dify": post(
            "/api/v1/dify/retrieval",
            json={
                "knowledge_id": stored.dataset_id,
                "query": "cranes",
                "retrieval_setting": {"top_k": 3, "score_threshold": 0},
            },
            headers=headers,
        ),
    }


def assert_readable(alice: Account, stored: Stored) -> dict[str, Any]:
    answers = reads(alice, stored)
    for name, response in answers.items():
        assert response.status_code == 200, (name, response.text)
        if name == "document":  # a download: the file itself
            continue
        if name != "dify":
            assert response.json()["code"] == 0, (name, response.text)
    return {name: r.json() for name, r in answers.items() if name != "document"}


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(st.characters(codec="utf-8"), max_size=6)
    | LONE,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.text(st.characters(codec="utf-8"), max_size=4) | LONE, inner, max_size=3
        )
    ),
    max_leaves=12,
)
"""Any JSON, lone surrogates, NaN and huge integers included."""


def raw_put(alice: Account, url: str, body: dict[str, Any]) -> httpx.Response:
    headers = {**alice.api_headers, "Content-Type": "application/json"}
    return alice.client.put(url, content=json.dumps(body).encode(), headers=headers)


def test_no_chat_setting_can_break_the_chat_list(alice: Account, stored: Stored) -> None:
    """2a: whatever `llm`, `prompt` or `meta_data_filter` holds, the chat list still reads."""

    @FUZZ
    @given(key=st.sampled_from(["llm", "prompt", "meta_data_filter"]), value=JSON_VALUES)
    def put_then_read(key: str, value: Any) -> None:
        answer = raw_put(alice, f"/api/v1/chats/{stored.chat_id}", {key: {"extra": value}})
        assert answer.status_code == 200 and answer.json()["code"] in (0, 101, 102), answer.text
        listed = alice.client.get("/api/v1/chats", headers=alice.api_headers)
        assert listed.status_code == 200 and listed.json()["code"] == 0, listed.text

    put_then_read()


def test_no_metadata_can_break_the_document_reads(alice: Account, stored: Stored) -> None:
    """2b: whatever `meta_fields` is sent, an answer is not a 500 and every read still works;
    a refused change is not saved."""
    url = f"/api/v1/datasets/{stored.dataset_id}/documents/{stored.document_id}"

    @FUZZ
    @given(value=JSON_VALUES)
    def put_then_read(value: Any) -> None:
        before = assert_readable(alice, stored)["documents"]["data"]["docs"][0]["meta_fields"]
        answer = raw_put(alice, url, {"meta_fields": {"k": value}})
        assert answer.status_code == 200, answer.text
        after = assert_readable(alice, stored)["documents"]["data"]["docs"][0]["meta_fields"]
        if answer.json()["code"] != 0:
            assert after == before

    put_then_read()


def test_no_positions_can_break_the_chunk_reads(alice: Account, stored: Stored) -> None:
    """2c: positions are lists of five integers; anything else is refused and not stored."""
    url = (
        f"/api/v1/datasets/{stored.dataset_id}/documents/{stored.document_id}"
        f"/chunks/{stored.chunk_id}"
    )
    for refused in ([1, 2], [None], [[1, 2]], [[1, 2, 3, 4, 5, 6]], [[1, 2, 3, 4, None]]):
        answer = raw_put(alice, url, {"positions": refused})
        assert answer.json()["code"] == 101, (refused, answer.text)
        assert "Field: <positions>" in answer.json()["message"]
    assert raw_put(alice, url, {"positions": [[1, 2, 3, 4, 5]]}).json() == {"code": 0}

    @FUZZ
    @given(value=JSON_VALUES)
    def put_then_read(value: Any) -> None:
        raw_put(alice, url, {"positions": value})
        chunk = assert_readable(alice, stored)["chunks"]["data"]["chunks"][0]
        assert all(len(box) == 5 for box in chunk["positions"])

    put_then_read()


# --- point 2: a bad value already stored (by an older version) spoils only itself --------------


def test_a_surrogate_stored_in_a_chat_reads_as_a_replacement_character(
    alice: Account, stored: Stored, runtime: Runtime
) -> None:
    other = alice.client.post("/api/v1/chats", json={"name": "fine"}, headers=alice.api_headers)
    bad = '{"extra": "owl \\ud800", "\\udfffkey": 1}'
    with runtime.transaction() as session:
        session.execute(
            text(
                "UPDATE chat SET llm_setting = :bad, prompt_config = :bad, "
                "meta_data_filter = :bad WHERE id = :id"
            ),
            {"bad": bad, "id": stored.chat_id},
        )
    listed = alice.client.get("/api/v1/chats", headers=alice.api_headers).json()
    assert listed["code"] == 0
    chats = {chat["id"]: chat for chat in listed["data"]}
    assert set(chats) == {stored.chat_id, other.json()["data"]["id"]}
    assert chats[stored.chat_id]["llm"]["extra"] == "owl \ufffd"


def test_metadata_stored_with_a_surrogate_or_too_deep_spoils_only_itself(
    alice: Account, stored: Stored, runtime: Runtime
) -> None:
    deep = "[" * 300 + "]" * 300
    bad = f'{{"topic": "owl \\ud800", "fine": "yes", "deep": {deep}}}'
    with runtime.transaction() as session:
        session.execute(
            text("UPDATE document SET meta_fields = :bad WHERE id = :id"),
            {"bad": bad, "id": stored.document_id},
        )
    answers = assert_readable(alice, stored)
    meta = answers["documents"]["data"]["docs"][0]["meta_fields"]
    assert (meta["topic"], meta["fine"]) == ("owl \ufffd", "yes")
    assert json.dumps(meta["deep"]).count("[") < MAX_DEPTH
    assert answers["dify"]["records"], answers["dify"]


def test_positions_stored_malformed_are_left_out_of_the_reads(
    alice: Account, stored: Stored, runtime: Runtime
) -> None:
    (record,) = runtime.chunks.get([stored.chunk_id], [alice.id])
    for positions in ([None], [1, 2], [[1, 2]], [[1, 2, 3, 4, 5], None, "x", [1, 2, 3, 4, 5.5]]):
        runtime.chunks.update(replace(record, positions=positions))
        answers = assert_readable(alice, stored)
        chunk = answers["chunks"]["data"]["chunks"][0]
        expected = [[1, 2, 3, 4, 5]] if len(positions) == 4 else []
        assert chunk["positions"] == expected
        assert answers["retrieval"]["data"]["chunks"][0]["positions"] == expected


# --- point 5: a new session's name and user id are bounded as on the session routes ------------


@pytest.mark.parametrize("field", ["name", "user_id"])
def test_completion_without_a_session_bounds_the_new_sessions_fields(
    alice: Account, stored: Stored, field: str
) -> None:
    body = {"question": "hi", "stream": False, field: "x" * 300}
    response = alice.client.post(
        f"/api/v1/chats/{stored.chat_id}/completions", json=body, headers=alice.api_headers
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["code"] == 101
    assert answer["message"].startswith(
        f"Field: <{field}> - Message: <String should have at most 255 characters>"
    )
    sessions = alice.client.get(
        f"/api/v1/chats/{stored.chat_id}/sessions", headers=alice.api_headers
    ).json()
    assert sessions == {"code": 0, "data": []}
    body[field] = "x" * 255
    response = alice.client.post(
        f"/api/v1/chats/{stored.chat_id}/completions", json=body, headers=alice.api_headers
    )
    assert response.json()["code"] == 0
