"""Agent webhooks (spec ragflow-api 1.6, 2.9): ``/api/v1/webhook/{agent_id}``,
``/api/v1/webhook_test/{agent_id}`` (no credential: the agent's Begin configures the
security) and ``GET /api/v1/webhook_trace/{agent_id}`` (the test calls' events)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.datastructures import UploadFile
from starlette.formparsers import FormParser, MultiPartParser

from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import ErrorBody, WebResult
from ragserve.errors import WebhookRefused
from ragserve.schemas.webhooks import WebhookTracePage, WebhookTraceQuery
from ragserve.services import webhook_traces, webhooks
from ragserve.services.webhook_security import MAX_BODY_LIMIT, WebhookRequest

router = APIRouter(prefix="/api/v1", tags=["agent webhooks"])

METHODS = ["POST", "GET", "PUT", "PATCH", "DELETE", "HEAD"]
AgentId = Annotated[str, Path(description="The agent's id.")]
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


@dataclass(frozen=True)
class WebhookCall:
    request: WebhookRequest
    form: dict[str, Any] | None


async def _body(request: Request) -> bytes:
    """The body, refused past 10MB (the largest ``max_body_size``) without reading on."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_LIMIT:
        raise WebhookRefused(f"Request body too large: {declared} > {MAX_BODY_LIMIT}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_LIMIT:
            raise WebhookRefused(f"Request body too large: {size} > {MAX_BODY_LIMIT}")
        chunks.append(chunk)
    return b"".join(chunks)


async def _form(request: Request, body: bytes) -> dict[str, Any] | None:
    """A form body's fields (a file part as its file name; files are not kept)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in FORM_TYPES:
        return None

    async def replay() -> AsyncGenerator[bytes, None]:
        yield body

    try:
        if kind == FORM_TYPES[0]:
            form = await MultiPartParser(request.headers, replay()).parse()
        else:
            form = await FormParser(request.headers, replay()).parse()
    except Exception:  # a malformed form is an empty body, as RAGFlow reads it
        return {}
    fields: dict[str, Any] = {}
    for key, value in form.multi_items():
        fields.setdefault(key, value.filename if isinstance(value, UploadFile) else value)
    await form.close()
    return fields


async def read_call(request: Request) -> WebhookCall:
    body = await _body(request)
    form = await _form(request, body)
    client = request.client.host if request.client else ""
    return WebhookCall(
        WebhookRequest(
            method=request.method,
            client_host=client,
            headers=request.headers,
            query=dict(request.query_params),
            body=body,
        ),
        form,
    )


Call = Annotated[WebhookCall, Depends(read_call)]
WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "`Immediately`: the configured status and body; otherwise the "
          "run's `{message, success, code}` with `code` as the status."},
    400: {"model": ErrorBody, "description": "Refused: `{code: 400, message}`."},
    413: {"model": ErrorBody, "description": "A body over 10MB."},
    429: {"model": ErrorBody, "description": "Over the webhook's rate limit."},
    500: {"description": "Not `Immediately`: the run failed (`success: false`)."},
}  # fmt: skip


def _answer(answer: webhooks.WebhookAnswer) -> Response:
    if answer.media_type == "text/plain":
        return PlainTextResponse(str(answer.content), status_code=answer.status)
    return JSONResponse(answer.content, status_code=answer.status)


def webhook(runtime: RuntimeDep, agent_id: AgentId, call: Call) -> Response:
    """Start the agent whose Begin is in Webhook mode, after its security checks; the
    request's query, headers and body (as its schema keeps them) are the Begin's outputs."""
    return _answer(webhooks.call(runtime, agent_id, call.request, call.form))


def webhook_test(runtime: RuntimeDep, agent_id: AgentId, call: Call) -> Response:
    """As the webhook, and the run's events are kept for `webhook_trace` (10 minutes)."""
    return _answer(webhooks.call(runtime, agent_id, call.request, call.form, test=True))


# one route per method: each is its own operation in the OpenAPI document
for _method in METHODS:
    router.add_api_route(
        "/webhook/{agent_id}",
        webhook,
        methods=[_method],
        name=f"webhook_{_method.lower()}",
        response_class=JSONResponse,
        responses=WEBHOOK_RESPONSES,
        summary=f"Call an agent's webhook ({_method})",
    )
    router.add_api_route(
        "/webhook_test/{agent_id}",
        webhook_test,
        methods=[_method],
        name=f"webhook_test_{_method.lower()}",
        response_class=JSONResponse,
        responses=WEBHOOK_RESPONSES,
        summary=f"Call an agent's webhook, recording its events ({_method})",
    )


@router.get("/webhook_trace/{agent_id}", summary="Read a test webhook call's events")
def webhook_trace(
    runtime: RuntimeDep,
    caller: ApiCaller,
    agent_id: AgentId,
    query: Annotated[WebhookTraceQuery, Query()],
) -> WebResult[WebhookTracePage]:
    """Poll the test calls: without `since_ts`, `next_since_ts` is now; with it, the first
    call started after it gets a `webhook_id`; with both, its events after `since_ts`, and
    `finished` at the end."""
    page = webhook_traces.poll(runtime, caller, agent_id, query.since_ts, query.webhook_id)
    return WebResult(data=page)
