"""Asking datasets without an assistant (spec 2.13, stream format 4.5):
``/api/v1/sessions/ask`` and ``/api/v1/sessions/related_questions``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from ragserve.api.body import json_object
from ragserve.api.completions import error_event, event_stream, sse
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import api_result
from ragserve.errors import DataError, RagserveError
from ragserve.runtime import Runtime
from ragserve.services import completions
from ragserve.services.completions import Assistant, Request

router = APIRouter(prefix="/api/v1/sessions", tags=["ask"])
logger = logging.getLogger(__name__)

JsonBody = Annotated[dict[str, Any], Depends(json_object)]


def _question(body: dict[str, Any]) -> str:
    question = body.get("question")
    if not isinstance(question, str) or not question.strip():
        raise DataError("`question` is required.")
    return question


@router.post("/ask")
def ask(runtime: RuntimeDep, caller: ApiCaller, body: JsonBody) -> StreamingResponse:
    """An answer from the datasets with the tenant's chat model, streamed."""
    question = _question(body)
    dataset_ids = body.get("dataset_ids")
    if not dataset_ids:
        raise DataError("`dataset_ids` is required.")
    if not isinstance(dataset_ids, list):
        raise DataError("`dataset_ids` should be a list.")
    assistant = completions.ad_hoc_assistant(runtime, caller, [str(i) for i in dataset_ids])
    request = Request(messages=[{"role": "user", "content": question}])
    return event_stream(_events(runtime, assistant, request))


def _events(runtime: Runtime, assistant: Assistant, request: Request) -> Iterator[str]:
    try:
        for event in completions.answer(runtime, assistant, request):
            if event.final is not None:
                data = {"answer": "", "reference": event.final.reference, "final": True}
            elif event.kind == "text":
                data = {"answer": event.text, "reference": {}, "final": False}
            else:
                continue
            yield sse({"code": 0, "message": "", "data": data})
    except RagserveError as error:
        yield error_event(error.message)
    except Exception:
        logger.exception("ask over datasets %s failed", assistant.dataset_ids)
        yield error_event("Internal error while answering; see the server log.")
    yield sse({"code": 0, "message": "", "data": True})


@router.post("/related_questions")
def related_questions(runtime: RuntimeDep, caller: ApiCaller, body: JsonBody) -> dict[str, Any]:
    """Search queries related to the question, suggested by the tenant's chat model."""
    question = _question(body)
    industry = body.get("industry")
    return api_result(
        completions.related_questions(
            runtime, caller, question, industry if isinstance(industry, str) else ""
        )
    )
