"""FastAPI dependencies: the runtime, and the caller behind each credential scheme."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from ragserve.runtime import Runtime
from ragserve.services.auth import authenticate_api_key, authenticate_beta, authenticate_web
from ragserve.services.tenancy import Caller

_authorization = APIKeyHeader(
    name="Authorization",
    auto_error=False,
    description="`Bearer <API token>`; web routes also take the token that login returns.",
)

_beta_authorization = APIKeyHeader(
    name="Authorization",
    scheme_name="BetaToken",
    auto_error=False,
    description="`Bearer <beta>`: the `beta` of an API token, for the embedded widgets' "
    "routes (`/api/v1/chatbots|agentbots|searchbots`) only.",
)


async def get_runtime(request: Request) -> Runtime:
    # async: FastAPI would run a plain function in the thread pool, a hop per request
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def api_caller(
    runtime: RuntimeDep, authorization: Annotated[str | None, Depends(_authorization)]
) -> Caller:
    with runtime.read() as session:
        return authenticate_api_key(session, authorization)


def web_caller(
    runtime: RuntimeDep, authorization: Annotated[str | None, Depends(_authorization)]
) -> Caller:
    with runtime.read() as session:
        return authenticate_web(session, authorization, runtime.signer)


def beta_caller(
    runtime: RuntimeDep, authorization: Annotated[str | None, Depends(_beta_authorization)]
) -> Caller:
    with runtime.read() as session:
        return authenticate_beta(session, authorization)


AuthorizationHeader = Annotated[str | None, Depends(_authorization)]
ApiCaller = Annotated[Caller, Depends(api_caller)]
WebCaller = Annotated[Caller, Depends(web_caller)]
BetaCaller = Annotated[Caller, Depends(beta_caller)]
"""The tenant behind an embedded widget's beta token (``/api/v1/*bots`` only)."""
