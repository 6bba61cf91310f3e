"""``/v1/system/*``: API tokens, version, status and health (spec 2.14)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from fastapi.responses import PlainTextResponse

from ragserve import __version__
from ragserve.api.body import RagflowRoute
from ragserve.api.deps import RuntimeDep, WebCaller
from ragserve.api.envelope import WebResult
from ragserve.health import ProbeResult, run_probes
from ragserve.schemas.system import (
    DatabaseStatus,
    EngineStatus,
    Health,
    HealthTiming,
    ServerConfig,
    StorageStatus,
    SystemStatus,
    TokenPublic,
)
from ragserve.services import tokens, variables
from ragserve.services.secrets import SecretBox

router = APIRouter(prefix="/v1/system", tags=["system"], route_class=RagflowRoute)
logger = logging.getLogger(__name__)

HEALTHZ_NAMES = {"database": "db"}
"""``healthz`` calls the database ``db``; the other components keep their names."""
DOWN = "down; see the server log"
"""What ``healthz`` says of a failed component: never why (it answers anyone)."""


@router.post("/new_token", summary="Make an API token")
def new_token(runtime: RuntimeDep, caller: WebCaller) -> WebResult[TokenPublic]:
    """A new API token of the caller's tenant. Its whole secret is in this answer only: store
    it. Use it as `Authorization: Bearer <token>`."""
    with runtime.transaction() as session:
        made = tokens.create_token(session, caller, SecretBox(runtime.settings.signing_key()))
        return WebResult(data=tokens.created(made))


@router.get("/token_list", summary="List API tokens")
def token_list(runtime: RuntimeDep, caller: WebCaller) -> WebResult[list[TokenPublic]]:
    """The tenant's API tokens, oldest first, each by its first 16 characters, with its `beta`
    token (the credential of embedded widgets; made now if the token has none)."""
    with runtime.transaction() as session:
        box = SecretBox(runtime.settings.signing_key())
        return WebResult(data=tokens.listed(session, caller, box))


@router.delete("/token/{token}", summary="Revoke an API token")
def delete_token(
    runtime: RuntimeDep,
    caller: WebCaller,
    token: Annotated[str, Path(description="The whole token, or its first 16 characters.")],
) -> WebResult[bool]:
    """Revoke one of the tenant's tokens at once (another's, or none: 102 "Token not
    found!")."""
    with runtime.transaction() as session:
        tokens.revoke_token(session, caller, token)
    return WebResult(data=True)


@router.get("/version", summary="Server version")
def version(caller: WebCaller) -> WebResult[str]:
    """The version of ragserve answering."""
    return WebResult(data=__version__)


@router.get("/status", summary="Components' status")
def status(runtime: RuntimeDep, caller: WebCaller) -> WebResult[SystemStatus]:
    """Each component checked now: green or red, how long the check took, and why it failed
    (for logged-in users only)."""
    results = run_probes(runtime.probes())
    return WebResult(
        data=SystemStatus(
            database=DatabaseStatus(
                database=results["database"].kind, **_status(results["database"])
            ),
            storage=StorageStatus(storage=results["storage"].kind, **_status(results["storage"])),
            doc_engine=EngineStatus(
                type=results["doc_engine"].kind, **_status(results["doc_engine"])
            ),
            queue=EngineStatus(type=results["queue"].kind, **_status(results["queue"])),
        )
    )


def _status(result: ProbeResult) -> dict[str, Any]:
    return {
        "status": "green" if result.ok else "red",
        "elapsed": f"{result.elapsed_ms:.1f}",
        "error": result.error,
    }


@router.get(
    "/healthz",
    summary="Health check",
    responses={500: {"model": Health, "description": "A component is down."}},
)
def healthz(runtime: RuntimeDep, response: Response) -> Health:
    """For load balancers and probes, without credentials: `ok`/`nok` per component, HTTP
    500 when any is down. Says which component is down, never why (see the server log)."""
    results = run_probes(runtime.probes())
    states = {HEALTHZ_NAMES.get(name, name): result for name, result in results.items()}
    for name, result in states.items():
        if not result.ok:
            logger.warning("health check: %s is down: %s", name, result.error)
    healthy = all(result.ok for result in states.values())
    if not healthy:
        response.status_code = 500
    return Health.model_validate(
        {
            **{name: "ok" if result.ok else "nok" for name, result in states.items()},
            "status": "ok" if healthy else "nok",
            "meta": {
                name: HealthTiming(elapsed=result.elapsed_ms, error=None if result.ok else DOWN)
                for name, result in states.items()
            },
        }
    )


@router.get("/ping", response_class=PlainTextResponse, summary="Liveness")
def ping() -> str:
    """`pong`, without touching any component or credential."""
    return "pong"


@router.get("/config", summary="Server settings for web clients")
def config(runtime: RuntimeDep) -> WebResult[ServerConfig]:
    """Whether registration is open (the `register_enabled` variable); needs no credentials."""
    with runtime.read() as session:
        enabled = variables.register_enabled(session, runtime.settings)
    return WebResult(data=ServerConfig(registerEnabled=enabled))
