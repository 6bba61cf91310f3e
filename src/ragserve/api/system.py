"""``/v1/system/*``: API tokens, version, health (spec 2.14)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from ragserve import __version__
from ragserve.api.deps import RuntimeDep, WebCaller
from ragserve.api.envelope import web_result
from ragserve.db.models import ApiToken
from ragserve.health import ProbeResult, run_probes
from ragserve.services import tokens
from ragserve.timeutil import rfc1123

router = APIRouter(prefix="/v1/system", tags=["system"])


def token_wire(record: ApiToken, token: str, beta: str | None) -> dict[str, Any]:
    return {
        "tenant_id": record.tenant_id,
        "token": token,
        "beta": beta,
        "dialog_id": record.dialog_id,
        "source": record.source,
        "create_time": record.create_time,
        "create_date": rfc1123(record.create_date),
        "update_time": record.update_time,
        "update_date": rfc1123(record.update_date),
    }


@router.post("/new_token")
def new_token(runtime: RuntimeDep, caller: WebCaller) -> dict[str, Any]:
    with runtime.transaction() as session:
        made = tokens.create_token(session, caller)
    body = token_wire(made.record, made.token, made.beta)
    body.update(update_time=None, update_date=None)
    return web_result(body)


@router.get("/token_list")
def token_list(runtime: RuntimeDep, caller: WebCaller) -> dict[str, Any]:
    with runtime.read() as session:
        records = tokens.list_tokens(session, caller)
    return web_result([token_wire(record, record.token_prefix, None) for record in records])


@router.delete("/token/{token}")
def delete_token(runtime: RuntimeDep, caller: WebCaller, token: str) -> dict[str, Any]:
    with runtime.transaction() as session:
        tokens.revoke_token(session, caller, token)
    return web_result(True)


@router.get("/version")
def version(caller: WebCaller) -> dict[str, Any]:
    return web_result(__version__)


@router.get("/status")
def status(runtime: RuntimeDep, caller: WebCaller) -> dict[str, Any]:
    results = run_probes(runtime.probes())
    return web_result({name: _status_wire(name, result) for name, result in results.items()})


@router.get("/healthz")
def healthz(runtime: RuntimeDep) -> JSONResponse:
    """Not enveloped: ``{"db": "ok", …, "status": "ok"}``, HTTP 500 when anything is down."""
    results = run_probes(runtime.probes())
    body: dict[str, Any] = {
        _HEALTHZ_NAMES.get(name, name): "ok" if result.ok else "nok"
        for name, result in results.items()
    }
    healthy = all(result.ok for result in results.values())
    body["status"] = "ok" if healthy else "nok"
    body["_meta"] = {
        _HEALTHZ_NAMES.get(name, name): {"elapsed": result.elapsed_ms, "error": result.error}
        for name, result in results.items()
    }
    return JSONResponse(body, status_code=200 if healthy else 500)


@router.get("/ping", response_class=PlainTextResponse)
def ping() -> str:
    return "pong"


@router.get("/config")
def config(runtime: RuntimeDep) -> dict[str, Any]:
    return web_result({"registerEnabled": runtime.settings.register_enabled})


_HEALTHZ_NAMES = {"database": "db"}
# RAGFlow names the backend under a different key per component.
_STATUS_KIND_KEYS = {"database": "database", "storage": "storage"}


def _status_wire(name: str, result: ProbeResult) -> dict[str, Any]:
    body: dict[str, Any] = {
        _STATUS_KIND_KEYS.get(name, "type"): result.kind,
        "status": "green" if result.ok else "red",
        "elapsed": f"{result.elapsed_ms:.1f}",
    }
    if result.error is not None:
        body["error"] = result.error
    return body
