"""``/api/v1/chats``: chat assistants, created, listed, updated and deleted (spec 2.5)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import BatchOutcome, Ok, Result, partial_result
from ragserve.schemas.chats import ChatBody, ChatListed, ChatPublic, DeleteIds, ListChats
from ragserve.services import chats

router = APIRouter(prefix="/api/v1/chats", tags=["chats"], route_class=RagflowRoute)

ChatId = Annotated[str, Path(description="The chat's id.")]
NO_FIELDS = ChatBody()
ALL_IDS = DeleteIds()


@router.post("", summary="Create a chat assistant")
def create_chat(
    runtime: RuntimeDep, caller: ApiCaller, body: Annotated[ChatBody, Body()] = NO_FIELDS
) -> Result[ChatPublic]:
    """A new assistant answering from the given datasets. Omitted settings take RAGFlow's
    defaults; without `llm.model_name` it uses the tenant's chat model. The checks run in
    RAGFlow's order, so the first failing one answers (code 102, or 109 for datasets with
    different embedding models)."""
    with runtime.transaction() as session:
        return Result(data=chats.create_chat(session, runtime.settings, caller, body))


@router.put("/{chat_id}", summary="Update a chat assistant")
def update_chat(
    runtime: RuntimeDep,
    caller: ApiCaller,
    chat_id: ChatId,
    body: Annotated[ChatBody, Body()] = NO_FIELDS,
) -> Ok:
    """Change the given fields only; `llm` and `prompt` are merged into the stored ones and an
    absent `dataset_ids` keeps the datasets."""
    with runtime.transaction() as session:
        chats.update_chat(session, runtime.settings, caller, chat_id, body)
    return Ok()


@router.delete("", summary="Delete chat assistants")
def delete_chats(
    runtime: RuntimeDep, caller: ApiCaller, body: Annotated[DeleteIds, Body()] = ALL_IDS
) -> Ok | Result[BatchOutcome]:
    """Delete the named chats (none named: all of the caller's); their sessions stay. Unknown
    ids are reported: all unknown is an error (102), some unknown a partial success."""
    with runtime.transaction() as session:
        outcome = chats.delete_chats(session, caller, body.ids)
    return partial_result(outcome.succeeded, outcome.errors)


@router.get("", summary="List chat assistants")
def list_chats(
    runtime: RuntimeDep, caller: ApiCaller, query: Annotated[ListChats, Query()]
) -> Result[list[ChatListed]]:
    """One page of the caller's chats, each with its datasets; no total. A filter (`id`,
    `name`) that matches nothing answers 102 "The chat doesn't exist"."""
    with runtime.read() as session:
        return Result(data=chats.list_chats(session, caller, query))
