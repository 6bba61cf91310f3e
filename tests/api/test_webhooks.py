"""/api/v1/webhook/{id}, /webhook_test/{id} and /webhook_trace/{id}: the Begin's webhook
configuration (methods, auth, IP allow-list, rate limit, body size, schema, content type),
both execution modes, the test trace, missing agents and another tenant's."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import OctKey
from sqlalchemy import select

from api.test_agents import make_agent
from conftest import Account
from ragserve.db.models import Agent, AgentSession
from ragserve.runtime import Runtime

SECRET = "a-webhook-secret-long-enough"
SCHEMA = {
    "query": {"properties": {"event": {"type": "string"}}},
    "headers": {"properties": {"X-Source": {"type": "string"}}},
    "body": {
        "properties": {
            "name": {"type": "string"},
            "count": {"type": "number"},
            "urgent": {"type": "boolean"},
            "tags": {"type": "array<string>"},
        },
        "required": ["name"],
    },
}


def webhook_dsl(**begin: Any) -> dict[str, Any]:
    params = {"mode": "Webhook", "methods": ["POST"], "schema": SCHEMA, **begin}
    return {
        "components": {
            "begin": {
                "obj": {"component_name": "Begin", "params": params},
                "downstream": ["Message:Say"],
                "upstream": [],
            },
            "Message:Say": {
                "obj": {
                    "component_name": "Message",
                    "params": {
                        "content": [
                            "{begin@body.name} x{begin@body.count} "
                            "({begin@query.event}, {begin@headers.X-Source}, "
                            "urgent={begin@body.urgent})"
                        ]
                    },
                },
                "downstream": [],
                "upstream": ["begin"],
            },
        },
    }


SYNC = {"execution_mode": "Synchronously"}


def hook(account: Account, title: str = "hook", **begin: Any) -> str:
    return make_agent(account, title, webhook_dsl(**{**SYNC, **begin}))


def call(client: TestClient, agent: str, path: str = "webhook", **kwargs: Any) -> Any:
    kwargs.setdefault("json", {"name": "Ada", "count": "3"})
    return client.post(f"/api/v1/{path}/{agent}", **kwargs)


def refused(response: Any, message: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"code": 400, "message": message}


# --- running -------------------------------------------------------------------------------


def test_synchronous_run_answers_with_the_message(alice: Account, runtime: Runtime) -> None:
    agent = hook(alice)
    response = call(
        alice.client,
        agent,
        params={"event": "push", "ignored": "x"},
        headers={"x-source": "ci"},
        json={"name": "Ada", "count": "3", "urgent": "true", "extra": 1},
    )
    assert response.status_code == 200
    assert response.json() == {
        "message": "Ada x3 (push, ci, urgent=true)",
        "success": True,
        "code": 200,
    }
    with runtime.read() as session:
        [row] = session.scalars(select(AgentSession).where(AgentSession.agent_id == agent)).all()
        assert row.source == "webhook" and row.tenant_id == alice.id
        assert row.messages[-1]["content"] == "Ada x3 (push, ci, urgent=true)"
        begin = row.dsl["components"]["begin"]["obj"]["params"]["outputs"]
        assert begin["body"]["value"] == {"name": "Ada", "count": 3, "urgent": True, "tags": []}


def test_message_status_is_the_http_status(alice: Account) -> None:
    dsl = webhook_dsl(**SYNC)
    dsl["components"]["Message:Say"]["obj"]["params"]["status"] = "201"
    agent = make_agent(alice, "created", dsl)
    response = call(alice.client, agent)
    assert response.status_code == 201 and response.json()["code"] == 201


def test_a_failing_run_is_not_a_success(alice: Account) -> None:
    dsl = webhook_dsl(**SYNC)
    dsl["components"]["begin"]["obj"]["params"]["inputs"] = {
        "needed": {"name": "needed", "type": "line", "optional": False}
    }
    agent = make_agent(alice, "failing", dsl)
    response = call(alice.client, agent)
    assert response.status_code == 500
    body = response.json()
    assert body["success"] is False and body["code"] == 500
    assert body["message"].startswith("**ERROR**: Begin: the input `needed`")


def wait_for_answer(runtime: Runtime, agent: str) -> str:
    for _ in range(200):
        with runtime.read() as session:
            row = session.scalars(
                select(AgentSession).where(AgentSession.agent_id == agent)
            ).first()
            if row is not None and row.round:
                return str(row.messages[-1]["content"])
        time.sleep(0.05)
    raise AssertionError("the background run did not finish")


def test_immediately_answers_the_configured_response(alice: Account, runtime: Runtime) -> None:
    agent = make_agent(
        alice,
        "now",
        webhook_dsl(response={"status": 202, "body_template": '{"accepted": true}'}),
    )
    response = call(alice.client, agent)
    assert response.status_code == 202 and response.json() == {"accepted": True}
    assert wait_for_answer(runtime, agent) == "Ada x3 (, , urgent=false)"


def test_immediately_with_text_or_no_template(alice: Account, runtime: Runtime) -> None:
    text = make_agent(alice, "text", webhook_dsl(response={"body_template": "thanks"}))
    response = call(alice.client, text)
    assert response.status_code == 200 and response.text == "thanks"
    assert response.headers["content-type"].startswith("text/plain")
    empty = make_agent(alice, "empty", webhook_dsl())
    response = call(alice.client, empty)
    assert response.status_code == 200 and response.json() is None
    wait_for_answer(runtime, text)
    wait_for_answer(runtime, empty)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (500, "Invalid response status code: 500, must be between 200 and 399"),
        ("soon", "Invalid response status code: soon"),
    ],
)
def test_immediately_refuses_a_bad_status(alice: Account, status: Any, message: str) -> None:
    agent = make_agent(alice, "bad", webhook_dsl(response={"status": status}))
    refused(call(alice.client, agent), message)


def test_form_bodies(alice: Account) -> None:
    agent = hook(alice)
    form = call(alice.client, agent, json=None, data={"name": "Bo", "count": "2"})
    assert form.json()["message"] == "Bo x2 (, , urgent=false)"
    multipart = call(
        alice.client,
        agent,
        json=None,
        data={"name": "Cy", "count": "1.5"},
        files={"upload": ("a.txt", b"hi", "text/plain")},
    )
    assert multipart.json()["message"] == "Cy x1.5 (, , urgent=false)"


# --- refusals ------------------------------------------------------------------------------


def test_missing_agent_and_agent_without_webhook(alice: Account) -> None:
    refused(call(alice.client, "0" * 32), "Canvas not found.")
    plain = webhook_dsl()
    plain["components"]["begin"]["obj"]["params"]["mode"] = "conversational"
    agent = make_agent(alice, "plain", plain)
    refused(call(alice.client, agent), "Webhook not configured for this agent.")


def test_an_ingestion_pipeline_takes_no_webhook(alice: Account, runtime: Runtime) -> None:
    agent = hook(alice)
    with runtime.transaction() as session:
        row = session.get(Agent, agent)
        assert row is not None
        row.canvas_category = "dataflow_canvas"
    refused(call(alice.client, agent), "Dataflow can not be triggered by webhook.")


def test_method_not_allowed(alice: Account) -> None:
    agent = hook(alice)
    refused(
        alice.client.get(f"/api/v1/webhook/{agent}"),
        "HTTP method 'GET' not allowed for this webhook.",
    )
    anything = hook(alice, "any", methods=[])
    assert alice.client.put(f"/api/v1/webhook/{anything}", json={"name": "Di"}).status_code == 200


def test_a_dsl_that_cannot_run(alice: Account) -> None:
    dsl = webhook_dsl(**SYNC)
    dsl["components"]["Message:Say"]["downstream"] = ["Nowhere"]
    agent = make_agent(alice, "broken", dsl)
    response = call(alice.client, agent)
    assert response.status_code == 400 and "Nowhere" in response.json()["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"count": 1}, "body missing required field: name"),
        (
            {"name": "Ada", "count": "x"},
            "body.count auto-cast failed: Cannot convert 'x' to number",
        ),
        ({"name": 5}, "body.name type mismatch: expected string, got int"),
        (
            {"name": "Ada", "urgent": "maybe"},
            "body.urgent auto-cast failed: Cannot convert 'maybe' to boolean",
        ),
        ({"name": "Ada", "tags": [1]}, "body.tags type mismatch: expected array<string>, got list"),
    ],
)
def test_schema_refusals(alice: Account, body: dict[str, Any], message: str) -> None:
    refused(call(alice.client, hook(alice), json=body), message)


def test_content_type(alice: Account) -> None:
    agent = hook(alice, content_types="application/json")
    refused(
        call(alice.client, agent, json=None, data={"name": "Ed"}),
        "Invalid Content-Type: expect 'application/json', got 'application/x-www-form-urlencoded'",
    )
    assert call(alice.client, agent).status_code == 200


# --- security ------------------------------------------------------------------------------


def test_token_auth(alice: Account) -> None:
    security = {
        "auth_type": "token",
        "token": {"token_header": "X-Hook-Token", "token_value": "t0k"},
    }
    agent = hook(alice, security=security)
    refused(call(alice.client, agent), "Invalid token authentication")
    refused(
        call(alice.client, agent, headers={"X-Hook-Token": "nope"}), "Invalid token authentication"
    )
    assert call(alice.client, agent, headers={"x-hook-token": "t0k"}).status_code == 200


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basic_auth(alice: Account) -> None:
    security = {"auth_type": "basic", "basic_auth": {"username": "hook", "password": "pw"}}
    agent = hook(alice, security=security)
    refused(call(alice.client, agent), "Invalid Basic Auth credentials")
    refused(
        call(alice.client, agent, headers=basic("hook", "bad")), "Invalid Basic Auth credentials"
    )
    refused(
        call(alice.client, agent, headers={"Authorization": "Basic !!"}),
        "Invalid Basic Auth credentials",
    )
    assert call(alice.client, agent, headers=basic("hook", "pw")).status_code == 200


def token(claims: dict[str, Any], secret: str = SECRET) -> dict[str, str]:
    signed = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(secret))
    return {"Authorization": f"Bearer {signed}"}


def test_jwt_auth(alice: Account) -> None:
    config = {
        "secret": SECRET,
        "algorithm": "hs256",
        "audience": "hooks",
        "issuer": "ci",
        "required_claims": ["team"],
    }
    agent = hook(alice, security={"auth_type": "jwt", "jwt": config})
    good = {"aud": "hooks", "iss": "ci", "team": "a", "exp": int(time.time()) + 60}
    assert call(alice.client, agent, headers=token(good)).status_code == 200
    refused(call(alice.client, agent), "Missing Bearer token")
    refused(call(alice.client, agent, headers={"Authorization": "Bearer "}), "Empty Bearer token")
    expired = {**good, "exp": int(time.time()) - 60}
    refused(call(alice.client, agent, headers=token(expired)), "Invalid JWT: Signature has expired")
    refused(
        call(alice.client, agent, headers=token({**good, "aud": "elsewhere"})),
        "Invalid JWT: Invalid claim: 'aud'",
    )
    no_team = {k: v for k, v in good.items() if k != "team"}
    refused(call(alice.client, agent, headers=token(no_team)), "Missing JWT claim: team")
    wrong = call(alice.client, agent, headers=token(good, "another-secret-long-enough"))
    assert wrong.status_code == 400 and wrong.json()["message"].startswith("Invalid JWT: ")
    garbage = call(alice.client, agent, headers={"Authorization": "Bearer not.a.jwt"})
    assert garbage.status_code == 400 and garbage.json()["message"].startswith("Invalid JWT: ")


def test_jwt_configuration_refusals(alice: Account) -> None:
    reserved = hook(
        alice,
        "r",
        security={"auth_type": "jwt", "jwt": {"secret": SECRET, "required_claims": "sub"}},
    )
    refused(
        call(alice.client, reserved, headers=token({"sub": "x"})),
        "Reserved JWT claim cannot be required: sub",
    )
    unset = hook(alice, "u", security={"auth_type": "jwt", "jwt": {}})
    refused(call(alice.client, unset), "JWT secret not configured")
    other = hook(alice, "o", security={"auth_type": "hmac"})
    refused(call(alice.client, other), "Unsupported auth_type: hmac")


def test_ip_allow_list(alice: Account) -> None:
    agent = hook(alice, security={"ip_whitelist": ["10.0.0.0/8", "192.0.2.7"]})
    refused(call(alice.client, agent), "IP testclient is not allowed by whitelist")
    for address, allowed in (("10.1.2.3", True), ("192.0.2.7", True), ("192.0.2.8", False)):
        other = TestClient(alice.client.app, client=(address, 5000))
        try:
            response = call(other, agent)
        finally:
            other.close()
        if allowed:
            assert response.status_code == 200, response.text
        else:
            refused(response, f"IP {address} is not allowed by whitelist")


def test_rate_limit(alice: Account) -> None:
    agent = hook(alice, security={"rate_limit": {"limit": 2, "per": "hour"}})
    assert call(alice.client, agent).status_code == 200
    assert call(alice.client, agent).status_code == 200
    refused(
        call(alice.client, agent), "Rate limit error: Too many requests (rate limit exceeded)", 429
    )
    other = hook(alice, "other", security={"rate_limit": {"limit": 1, "per": "hour"}})
    assert call(alice.client, other).status_code == 200  # a bucket per agent
    bad = hook(alice, "bad", security={"rate_limit": {"limit": 1, "per": "week"}})
    refused(call(alice.client, bad), "Invalid rate_limit.per: week")
    guarded = hook(alice, "guarded", security={
        "rate_limit": {"limit": 2, "per": "day"},
        "auth_type": "token", "token": {"token_header": "X-T", "token_value": "right"}})  # fmt: skip
    for guess in ("a", "b"):  # wrong credentials count too
        refused(call(alice.client, guarded, headers={"X-T": guess}), "Invalid token authentication")
    refused(call(alice.client, guarded, headers={"X-T": "right"}),
            "Rate limit error: Too many requests (rate limit exceeded)", 429)  # fmt: skip
    zero = hook(alice, "zero", security={"rate_limit": {"limit": 0}})
    refused(call(alice.client, zero), "rate_limit.limit must be > 0")


def test_body_size(alice: Account) -> None:
    agent = hook(alice, security={"max_body_size": "1kb"})
    big = {"name": "x" * 2000}
    response = call(alice.client, agent, json=big)
    assert response.status_code == 400
    assert response.json()["message"].startswith("Request body too large: ")
    assert response.json()["message"].endswith(" > 1024")
    assert call(alice.client, agent).status_code == 200
    for size, message in (
        ("20mb", "max_body_size exceeds maximum allowed size (10MB)"),
        ("1.5mb", "Invalid max_body_size format"),
        ("10", "Invalid max_body_size format"),
    ):
        refused(call(alice.client, hook(alice, size, security={"max_body_size": size})), message)
    unlimited = hook(alice, "unlimited")
    huge = call(alice.client, unlimited, json=None, content=b"x" * (10 * 1024 * 1024 + 1))
    refused(huge, f"Request body too large: {10 * 1024 * 1024 + 1} > {10 * 1024 * 1024}")


# --- the test webhook and its trace ----------------------------------------------------------


def trace(account: Account, agent: str, **params: Any) -> Any:
    response = account.client.get(
        f"/api/v1/webhook_trace/{agent}", params=params, headers=account.api_headers
    )
    assert response.status_code == 200
    return response.json()


def test_test_webhook_records_a_trace(alice: Account) -> None:
    agent = hook(alice)
    start = trace(alice, agent)
    assert start["code"] == 0 and start["message"] == "success"
    since = start["data"]["next_since_ts"] - 1
    assert start["data"] == {**start["data"], "webhook_id": None, "events": [], "finished": False}
    assert trace(alice, agent, since_ts=since)["data"]["webhook_id"] is None
    response = call(alice.client, agent, "webhook_test")
    assert response.json()["message"] == "Ada x3 (, , urgent=false)"
    found = trace(alice, agent, since_ts=since)["data"]
    assert found["events"] == [] and not found["finished"]
    webhook_id = found["webhook_id"]
    page = trace(alice, agent, since_ts=found["next_since_ts"], webhook_id=webhook_id)["data"]
    kinds = [event["event"] for event in page["events"]]
    assert kinds[0] == "workflow_started" and kinds[-1] == "finished"
    assert "message" in kinds and "node_finished" in kinds
    assert page["events"][-1]["success"] is True and page["finished"] is True
    later = trace(alice, agent, since_ts=page["next_since_ts"], webhook_id=webhook_id)["data"]
    assert later["events"] == [] and later["finished"] is False
    gone = trace(alice, agent, since_ts=since, webhook_id="f" * 32)["data"]
    assert gone == {"webhook_id": "f" * 32, "events": [], "next_since_ts": since, "finished": True}


def test_production_webhook_records_no_trace(alice: Account) -> None:
    agent = hook(alice)
    since = trace(alice, agent)["data"]["next_since_ts"] - 1
    assert call(alice.client, agent).status_code == 200
    assert trace(alice, agent, since_ts=since)["data"]["webhook_id"] is None


def test_trace_belongs_to_the_agents_tenant(alice: Account, bob: Account) -> None:
    agent = hook(alice)
    for account, agent_id in ((bob, agent), (alice, "0" * 32)):
        assert trace(account, agent_id) == {"code": 102, "message": "Canvas not found."}
    anonymous = alice.client.get(f"/api/v1/webhook_trace/{agent}")
    assert anonymous.json()["code"] != 0


def test_another_tenants_agent_runs_for_its_own_tenant(
    alice: Account, bob: Account, runtime: Runtime
) -> None:
    """The webhook needs no credential: bob's call runs alice's agent as alice's."""
    agent = hook(
        alice, security={"auth_type": "token", "token": {"token_header": "X-T", "token_value": "v"}}
    )
    response = call(bob.client, agent, headers={**bob.api_headers, "X-T": "v"})
    assert response.status_code == 200
    with runtime.read() as session:
        [row] = session.scalars(select(AgentSession).where(AgentSession.agent_id == agent)).all()
        assert row.tenant_id == alice.id


def test_deleting_the_agent_deletes_its_traces(alice: Account) -> None:
    agent = hook(alice)
    since = trace(alice, agent)["data"]["next_since_ts"] - 1
    call(alice.client, agent, "webhook_test")
    alice.client.delete(f"/api/v1/agents/{agent}", headers=alice.api_headers)
    assert trace(alice, agent, since_ts=since) == {"code": 102, "message": "Canvas not found."}
