"""``/api/v1/chats``: chat assistants, created, listed, updated and deleted (spec 2.5)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from ragserve.api.body import json_object, query_model, validate_model
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import BatchOutcome, Ok, Result, api_result, partial_result
from ragserve.db.models import Chat
from ragserve.schemas.chats import ChatBody, DeleteIds, ListChats
from ragserve.services import chats, datasets
from ragserve.services.chats import PROMPT_CONFIG_KEYS, keywords_weight
from ragserve.timeutil import rfc1123

router = APIRouter(prefix="/api/v1/chats", tags=["chats"])

JsonBody = Annotated[dict[str, Any], Depends(json_object)]
PROMPT_NAMES = {internal: documented for documented, internal in PROMPT_CONFIG_KEYS.items()}


def chat_wire(chat: Chat) -> dict[str, Any]:
    """The chat as RAGFlow shows it: ``llm`` and ``prompt`` in the API's names."""
    prompt = {PROMPT_NAMES.get(key, key): value for key, value in chat.prompt_config.items()}
    prompt.update(
        similarity_threshold=chat.similarity_threshold,
        keywords_similarity_weight=keywords_weight(chat),
        top_n=chat.top_n,
        top_k=chat.top_k,
        rerank_model=chat.rerank_id,
    )
    return {
        "id": chat.id,
        "tenant_id": chat.tenant_id,
        "name": chat.name,
        "description": chat.description,
        "avatar": chat.avatar,
        "language": chat.language,
        "llm": {**chat.llm_setting, "model_name": chat.llm_id},
        "prompt_type": chat.prompt_type,
        "prompt": prompt,
        "top_k": chat.top_k,
        "meta_data_filter": chat.meta_data_filter,
        "do_refer": chat.do_refer,
        "status": chat.status,
        "dataset_ids": list(chat.dataset_ids),
        "create_time": chat.create_time,
        "create_date": rfc1123(chat.create_date),
        "update_time": chat.update_time,
        "update_date": rfc1123(chat.update_date),
    }


@router.post("")
def create_chat(runtime: RuntimeDep, caller: ApiCaller, body: JsonBody) -> dict[str, Any]:
    request = validate_model(ChatBody, body)
    with runtime.transaction() as session:
        chat = chats.create_chat(session, runtime.settings, caller, request)
        return api_result(chat_wire(chat))


@router.put("/{chat_id}")
def update_chat(
    runtime: RuntimeDep, caller: ApiCaller, chat_id: str, body: JsonBody
) -> dict[str, Any]:
    request = validate_model(ChatBody, body)
    with runtime.transaction() as session:
        chats.update_chat(session, runtime.settings, caller, chat_id, request)
    return api_result()


@router.delete("")
def delete_chats(
    runtime: RuntimeDep, caller: ApiCaller, body: JsonBody
) -> Ok | Result[BatchOutcome]:
    request = validate_model(DeleteIds, body)
    with runtime.transaction() as session:
        outcome = chats.delete_chats(session, caller, request.ids)
    return partial_result(outcome.succeeded, outcome.errors)


@router.get("")
def list_chats(
    runtime: RuntimeDep,
    caller: ApiCaller,
    query: Annotated[ListChats, Depends(query_model(ListChats))],
) -> dict[str, Any]:
    """Each chat also lists ``datasets``, the dataset objects of its ``dataset_ids``."""
    with runtime.read() as session:
        listed = chats.list_chats(session, caller, query)
        return api_result(
            [
                chat_wire(chat)
                | {
                    "dataset_ids": [view.dataset.id for view in views],
                    "datasets": [datasets.public(view).model_dump() for view in views],
                }
                for chat, views in listed
            ]
        )
