"""Envelope and error shapes: unknown routes, bad bodies, oversized bodies, crashes, CORS."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Body, Request
from fastapi.testclient import TestClient
from pydantic import Field

from conftest import Account
from ragserve.api.body import JSON_ONLY
from ragserve.app import create_app
from ragserve.schemas.common import StrictModel
from ragserve.settings import Settings


class Payload(StrictModel):
    name: str = Field(max_length=5)
    size: int = 1


probe = APIRouter()


@probe.post("/api/v1/probe/strict", dependencies=JSON_ONLY)
def strict(payload: Annotated[Payload, Body()]) -> dict[str, Any]:
    return {"code": 0, "data": payload.model_dump()}


@probe.get("/api/v1/probe/crash")
def crash() -> dict[str, Any]:
    raise RuntimeError("secret internals /etc/passwd")


@probe.post("/api/v1/probe/echo")
async def echo(request: Request) -> dict[str, Any]:
    return {"code": 0, "data": len(await request.body())}


@pytest.fixture(autouse=True)
def _probe_routes(client: TestClient) -> None:
    client.app.include_router(probe)  # type: ignore[attr-defined]


def test_unknown_route_is_http_404_json(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {
        "code": 404,
        "message": "Not Found: /api/v1/nothing-here",
        "data": None,
        "error": "Not Found",
    }


def test_wrong_method_is_http_405_json(client: TestClient) -> None:
    response = client.delete("/v1/user/info")
    assert response.status_code == 405
    assert response.json()["message"] == "Method Not Allowed: DELETE /v1/user/info"


def test_trailing_slash_is_tolerated(client: TestClient) -> None:
    assert client.get("/v1/system/ping/").text == "pong"


def test_crash_gives_generic_message_with_request_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="ragserve.api"):
        response = client.get("/api/v1/probe/crash")
    assert response.status_code == 500
    body = response.json()
    request_id = response.headers["X-Request-ID"]
    assert body == {
        "code": 100,
        "message": f"Internal server error (request id {request_id}).",
        "data": None,
    }
    assert "secret internals" not in response.text and "Traceback" not in response.text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert request_id in logged
    assert any(record.exc_info for record in caplog.records)


def test_every_response_has_a_request_id(client: TestClient) -> None:
    first = client.get("/v1/system/ping").headers["X-Request-ID"]
    second = client.get("/nowhere").headers["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_strict_body_validation_lines(client: TestClient) -> None:
    response = client.post("/api/v1/probe/strict", json={"name": "toolong", "size": "1", "x": 1})
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 101
    assert body["message"].split("\n") == [
        "Field: <name> - Message: <String should have at most 5 characters> - Value: <toolong>",
        "Field: <size> - Message: <Input should be a valid integer> - Value: <1>",
        "Field: <x> - Message: <Extra inputs are not permitted> - Value: <1>",
    ]
    assert "data" not in body


def test_validation_value_is_truncated(client: TestClient) -> None:
    body = client.post("/api/v1/probe/strict", json={"name": "y" * 200}).json()
    assert body["message"] == (
        "Field: <name> - Message: <String should have at most 5 characters> - Value: <"
        + "y" * 125
        + "...>"
    )


@pytest.mark.parametrize(
    ("content", "content_type", "message"),
    [
        (
            b"{bad",
            "application/json",
            "Malformed JSON syntax: Missing commas/brackets or invalid encoding",
        ),
        (
            b"",
            "application/json",
            "Malformed JSON syntax: Missing commas/brackets or invalid encoding",
        ),
        (b'"text"', "application/json", "Invalid request payload: expected object, got str"),
        (b"[1]", "application/json", "Invalid request payload: expected object, got list"),
        (
            b"\xff\xfe",
            "application/json",
            "Malformed JSON syntax: Missing commas/brackets or invalid encoding",
        ),
        (
            b"name=x",
            "text/plain",
            "Unsupported content type: Expected application/json, got text/plain",
        ),
    ],
)
def test_bad_json_bodies(
    client: TestClient, content: bytes, content_type: str, message: str
) -> None:
    response = client.post(
        "/api/v1/probe/strict", content=content, headers={"Content-Type": content_type}
    )
    assert response.json() == {"code": 101, "message": message}


def test_web_route_bad_json(client: TestClient) -> None:
    response = client.post(
        "/v1/user/register", content=b"[1,2", headers={"Content-Type": "application/json"}
    )
    assert response.json() == {
        "code": 101,
        "message": "Malformed JSON syntax: Missing commas/brackets or invalid encoding",
        "data": None,
    }


@pytest.fixture
def small_client(tmp_path: Path) -> Any:
    settings = Settings(home=tmp_path / "h", max_body_size=1000)
    app = create_app(settings)
    app.include_router(probe)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_body_within_limit(small_client: TestClient) -> None:
    assert small_client.post("/api/v1/probe/echo", content=b"x" * 1000).json()["data"] == 1000


def test_declared_oversized_body_is_refused_up_front(small_client: TestClient) -> None:
    response = small_client.post("/api/v1/probe/echo", content=b"x" * 1001)
    assert response.status_code == 413
    assert response.json() == {
        "code": 400,
        "message": "Request body is too large: the limit is 1000 bytes.",
    }


def test_streamed_oversized_body_is_refused(small_client: TestClient) -> None:
    def chunks() -> Any:
        for _ in range(10):
            yield b"x" * 300

    response = small_client.post("/api/v1/probe/echo", content=chunks())
    assert response.status_code == 413
    assert response.json()["message"] == "Request body is too large: the limit is 1000 bytes."


def test_oversized_form_upload_is_refused(small_client: TestClient) -> None:
    response = small_client.post(
        "/v1/user/register", files={"file": ("a.txt", b"x" * 5000)}, data={"nickname": "n"}
    )
    assert response.status_code == 413


def test_cors_preflight(client: TestClient) -> None:
    response = client.options(
        "/v1/user/login",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] in ("*", "https://app.example")


def test_cors_can_be_switched_off(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(home=tmp_path / "h", cors_origins=[]))) as client:
        response = client.get("/v1/system/ping", headers={"Origin": "https://app.example"})
        assert "access-control-allow-origin" not in response.headers


def test_openapi_docs(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert "/v1/user/login" in schema["paths"]
    operation_ids = {
        operation["operationId"] for path in schema["paths"].values() for operation in path.values()
    }
    assert "user-login" in operation_ids and "system-new_token" in operation_ids


# --- RAGFlow's non-pydantic handlers (spec 0.5): empty is {}, other types are form fields --------


def test_an_empty_body_reads_as_an_empty_object(client: TestClient, alice: Account) -> None:
    body = client.post("/api/v1/retrieval", headers=alice.api_headers).json()
    assert body == {"code": 102, "message": "`dataset_ids` is required."}


def test_a_form_body_reads_as_its_fields(client: TestClient, alice: Account) -> None:
    form = {"email": alice.email, "password": alice.password}
    body = client.post("/v1/user/login", data=form).json()
    assert (body["code"], body["message"]) == (0, "Welcome back!")


def test_a_body_of_another_type_has_no_fields(client: TestClient, alice: Account) -> None:
    headers = {**alice.api_headers, "Content-Type": "text/plain"}
    body = client.post("/api/v1/retrieval", content=b"question=x", headers=headers).json()
    assert body == {"code": 102, "message": "`dataset_ids` is required."}


def test_strict_routes_keep_their_own_reading(client: TestClient, alice: Account) -> None:
    """Dataset create is pydantic-validated (spec 0.6): no body is malformed JSON."""
    headers = {**alice.api_headers, "Content-Type": "application/json"}
    body = client.post("/api/v1/datasets", headers=headers).json()
    assert body == {
        "code": 101,
        "message": "Malformed JSON syntax: Missing commas/brackets or invalid encoding",
    }
