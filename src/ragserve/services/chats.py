"""Chat assistants (RAGFlow's dialogs): create, list, update and soft-delete, per tenant.

A chat is visible only to its own tenant and only while ``status`` is "1"; another tenant's
chat behaves exactly like an unknown id. The stored row (``db.models.Chat``), which the
completion endpoints read:

* ``llm_id``: the chat model ``name@factory``. A chat created without ``llm.model_name`` takes
  the tenant's ``llm_id`` of that moment, which is "" when the tenant has none.
* ``llm_setting``: ``temperature``, ``top_p``, ``presence_penalty``, ``frequency_penalty``,
  ``max_tokens`` (``DEFAULT_LLM_SETTING`` fills missing ones), plus any other key the client sent.
* ``prompt_config``, in RAGFlow's internal names: ``system`` (the system prompt, with
  ``{knowledge}`` and other ``{variable}`` placeholders), ``prologue`` (the opener, ``str`` or
  ``None``), ``parameters`` (``[{"key", "optional"}]``), ``empty_response`` (``str`` or ``None``;
  empty means "let the model answer"), ``quote``, ``tts``, ``refine_multiturn`` (booleans), plus
  any other key the client sent (``keyword``, ``reasoning``, ``cross_languages``…).
* ``similarity_threshold``, ``vector_similarity_weight`` (the weight of vector similarity; as
  in RAGFlow a request's ``keywords_similarity_weight`` is stored here as it is, and the API
  shows ``keywords_similarity_weight`` = 1 − it), ``top_n``, ``top_k``, ``rerank_id``
  ("" for none): the retrieval settings.
* ``dataset_ids`` in the client's order, without repeats; ``do_refer``: whether answers cite
  (stored as RAGFlow does, "1" or "0"); ``name_key``: see the model.

``public`` and ``listed`` show a chat as RAGFlow does, in the API's names.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ragserve.db.models import Chat, Dataset
from ragserve.domain import Validity
from ragserve.errors import AuthenticationError, DataError
from ragserve.models.registry import ModelType, vector_space
from ragserve.schemas.chats import (
    ChatBody,
    ChatListed,
    ChatLlm,
    ChatPrompt,
    ChatPublic,
    ListChats,
    LlmFields,
    PromptFields,
)
from ragserve.services import datasets as dataset_service
from ragserve.services.batch import BatchOutcome, unique_ids
from ragserve.services.datasets import DatasetStats, DatasetView, stats_for, visible_to
from ragserve.services.models import model_exists
from ragserve.services.tenancy import Caller
from ragserve.services.users import owner_tenant
from ragserve.settings import Settings
from ragserve.timeutil import rfc1123

DEFAULT_SYSTEM_PROMPT = (
    "You are an intelligent assistant. Please summarize the content of the dataset to answer "
    "the question. Please list the data in the dataset and answer in detail. When all dataset "
    'content is irrelevant to the question, your answer must include the sentence "The answer '
    'you are looking for is not found in the dataset!" Answers need to consider chat history.\n'
    "      Here is the knowledge base:\n      {knowledge}\n      The above is the knowledge base."
)
"""RAGFlow's default system prompt, verbatim (clients compare it)."""
DEFAULT_OPENER = "Hi! I'm your assistant. What can I do for you?"
DEFAULT_EMPTY_RESPONSE = "Sorry! No relevant content was found in the knowledge base!"
DEFAULT_LLM_SETTING: dict[str, Any] = {
    "temperature": 0.1,
    "top_p": 0.3,
    "frequency_penalty": 0.7,
    "presence_penalty": 0.4,
    "max_tokens": 512,
}
DEFAULT_PROMPT_CONFIG: dict[str, Any] = {
    "system": DEFAULT_SYSTEM_PROMPT,
    "prologue": DEFAULT_OPENER,
    "parameters": [{"key": "knowledge", "optional": False}],
    "empty_response": DEFAULT_EMPTY_RESPONSE,
    "quote": True,
    "tts": False,
    "refine_multiturn": True,
}
# ``prompt`` keys of the API -> ``prompt_config`` keys.
PROMPT_CONFIG_KEYS = {
    "prompt": "system",
    "opener": "prologue",
    "variables": "parameters",
    "show_quote": "quote",
    "empty_response": "empty_response",
    "tts": "tts",
    "refine_multiturn": "refine_multiturn",
}
PROMPT_NAMES = {internal: documented for documented, internal in PROMPT_CONFIG_KEYS.items()}
RETRIEVAL_KEYS = frozenset(
    {
        "similarity_threshold",
        "keywords_similarity_weight",
        "vector_similarity_weight",
        "top_n",
        "top_k",
        "rerank_model",
    }
)
WEIGHT_DIGITS = 10
"""``1 - x`` is rounded so that 0.7 round-trips as 0.7, not 0.30000000000000004."""


def name_key(name: str) -> str:
    return hashlib.sha256(name.strip().casefold().encode()).hexdigest()


def keywords_weight(chat: Chat) -> float:
    return round(1 - chat.vector_similarity_weight, WEIGHT_DIGITS)


def _refers(show_quotation: bool) -> str:
    """``do_refer`` as RAGFlow stores it: "1" or "0"."""
    return str(int(show_quotation))


def _live(caller: Caller) -> ColumnElement[bool]:
    return (Chat.tenant_id == caller.tenant_id) & (Chat.status == Validity.VALID)


def _public_fields(chat: Chat) -> dict[str, Any]:
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
        "llm": cast(ChatLlm, {**chat.llm_setting, "model_name": chat.llm_id}),
        "prompt_type": chat.prompt_type,
        "prompt": cast(ChatPrompt, prompt),
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


def public(chat: Chat) -> ChatPublic:
    """The chat as RAGFlow shows it: ``llm`` and ``prompt`` in the API's names."""
    return ChatPublic(**_public_fields(chat))


def listed(chat: Chat, views: list[DatasetView]) -> ChatListed:
    """The chat in a listing, with the datasets it uses that the caller can still see."""
    fields = _public_fields(chat)
    fields["dataset_ids"] = [view.dataset.id for view in views]
    return ChatListed(**fields, datasets=[dataset_service.public(view) for view in views])


def live_chat(session: Session, caller: Caller, chat_id: str) -> Chat | None:
    """The caller's chat with this id, unless it was deleted; ``None`` for anyone else's."""
    return session.scalars(select(Chat).where(Chat.id == chat_id, _live(caller))).first()


def create_chat(session: Session, settings: Settings, caller: Caller, body: ChatBody) -> ChatPublic:
    """A new chat; the checks run in RAGFlow's order, so the first failing one answers."""
    dataset_ids = _unique(body.dataset_ids)
    _check_datasets(session, caller, dataset_ids)
    model_name = _checked_model_name(session, settings, caller, body.llm)
    tenant = owner_tenant(session, caller)
    rerank_id = _checked_rerank(session, settings, caller, body.prompt)
    if not body.name:
        raise DataError("`name` is required.")
    duplicate = DataError("Duplicated chat name in creating chat.")
    _check_name_free(session, caller, body.name, duplicate)
    if body.tenant_id:
        raise DataError("`tenant_id` must not be provided.")
    prompt_config = _prompt_config(DEFAULT_PROMPT_CONFIG, body.prompt)
    if not prompt_config.get("system"):
        prompt_config["system"] = DEFAULT_SYSTEM_PROMPT
    _check_parameters(prompt_config)
    chat = Chat(
        tenant_id=caller.tenant_id,
        name=body.name,
        name_key=name_key(body.name),
        description=body.description,
        avatar=body.avatar,
        language=body.language,
        llm_id=model_name or tenant.llm_id,
        llm_setting={**DEFAULT_LLM_SETTING, **(body.llm.settings() if body.llm else {})},
        prompt_type=body.prompt_type,
        prompt_config=prompt_config,
        similarity_threshold=0.2,
        vector_similarity_weight=0.3,
        top_n=6,
        top_k=1024,
        rerank_id="",
        do_refer=_refers(body.show_quotation),
        meta_data_filter=body.meta_data_filter or {},
        dataset_ids=dataset_ids,
        status=Validity.VALID,
    )
    _set_retrieval(chat, body.prompt, rerank_id)
    session.add(chat)
    _flush(session, duplicate)
    return public(chat)


def update_chat(
    session: Session, settings: Settings, caller: Caller, chat_id: str, body: ChatBody
) -> None:
    """Change the given fields. ``llm`` and ``prompt`` are merged into the stored settings;
    a field that is absent stays as it is (``dataset_ids`` included)."""
    chat = live_chat(session, caller, chat_id)
    if chat is None:
        raise DataError("You do not own the chat")
    given = body.model_fields_set
    if body.tenant_id:
        raise DataError("`tenant_id` must not be provided.")
    if "dataset_ids" in given:
        dataset_ids = _unique(body.dataset_ids)
        _check_datasets(session, caller, dataset_ids)
        chat.dataset_ids = dataset_ids
    model_name = _checked_model_name(session, settings, caller, body.llm)
    rerank_id = _checked_rerank(session, settings, caller, body.prompt)
    duplicate = DataError("Duplicated chat name in updating chat.")
    if "name" in given:
        if not body.name:
            raise DataError("`name` cannot be empty.")
        if name_key(body.name) != chat.name_key:
            _check_name_free(session, caller, body.name, duplicate)
        chat.name, chat.name_key = body.name, name_key(body.name)
    if body.prompt is not None and body.prompt.model_fields_set:
        prompt_config = _prompt_config(chat.prompt_config or {}, body.prompt)
        _check_parameters(prompt_config)
        chat.prompt_config = prompt_config
        _set_retrieval(chat, body.prompt, rerank_id)
    if body.llm is not None:
        if "model_name" in body.llm.model_fields_set:
            chat.llm_id = model_name or owner_tenant(session, caller).llm_id
        chat.llm_setting = {**(chat.llm_setting or {}), **body.llm.settings()}
    for field in ("avatar", "description", "language", "prompt_type"):
        if field in given:
            setattr(chat, field, getattr(body, field))
    if "meta_data_filter" in given:
        chat.meta_data_filter = body.meta_data_filter or {}
    if "show_quotation" in given:
        chat.do_refer = _refers(body.show_quotation)
    _flush(session, duplicate)


def delete_chats(session: Session, caller: Caller, ids: list[str] | None) -> BatchOutcome:
    """Soft-delete the named chats (none named: all of the caller's); their sessions stay."""
    existing = session.scalars(select(Chat.id).where(_live(caller))).all()
    found, outcome = resolve_batch(
        ids, existing, "assistant", lambda chat_id: f"Assistant({chat_id}) not found."
    )
    for chat in session.scalars(select(Chat).where(Chat.id.in_(found))):
        chat.status, chat.name_key = Validity.INVALID, None
    session.flush()
    return outcome


def list_chats(session: Session, caller: Caller, query: ListChats) -> list[ChatListed]:
    """One page of the caller's chats, each with the datasets it uses that still exist and
    that the caller can still see."""
    condition = _live(caller)
    if query.id is not None:
        condition = condition & (Chat.id == query.id)
    if query.name is not None:
        condition = condition & (Chat.name_key == name_key(query.name))
    filtered = query.id is not None or query.name is not None
    if filtered and not session.scalar(select(func.count()).select_from(Chat).where(condition)):
        raise DataError("The chat doesn't exist")
    column = Chat.create_time if query.orderby == "create_time" else Chat.update_time
    order = (column.desc(), Chat.id.desc()) if query.desc else (column.asc(), Chat.id.asc())
    chats = session.scalars(
        select(Chat)
        .where(condition)
        .order_by(*order)
        .offset((query.page - 1) * query.page_size)
        .limit(query.page_size)
    ).all()
    wanted = {dataset_id for chat in chats for dataset_id in chat.dataset_ids or []}
    datasets = {
        dataset.id: dataset
        for dataset in session.scalars(
            select(Dataset).where(Dataset.id.in_(wanted), visible_to(caller))
        )
    }
    stats = stats_for(session, list(datasets))
    return [
        listed(
            chat,
            [
                DatasetView(datasets[i], stats.get(i, DatasetStats()))
                for i in chat.dataset_ids or []
                if i in datasets
            ],
        )
        for chat in chats
    ]


def resolve_batch(
    ids: list[str] | None, existing: Sequence[str], kind: str, missing: Callable[[str], str]
) -> tuple[list[str], BatchOutcome]:
    """RAGFlow's batch semantics: no ids means every existing one; unknown ids are errors
    (all unknown: ``DataError`` with the messages joined); repeated ids are reported only when
    every id was found."""
    if not ids:
        return list(existing), BatchOutcome(succeeded=len(existing))
    duplicates = BatchOutcome()
    requested = unique_ids(ids, kind, duplicates)
    present = set(existing)
    found = [i for i in requested if i in present]
    outcome = BatchOutcome(len(found), [missing(i) for i in requested if i not in present])
    outcome.raise_if_all_failed()
    if not outcome.errors:
        outcome.errors = duplicates.errors
    return found, outcome


def _unique(ids: list[str] | None) -> list[str]:
    """The ids in order without repeats; empty ones are dropped, as RAGFlow does."""
    return [i for i in dict.fromkeys(ids or []) if i]


def _check_datasets(session: Session, caller: Caller, dataset_ids: list[str]) -> None:
    datasets = {
        dataset.id: dataset
        for dataset in session.scalars(
            select(Dataset).where(Dataset.id.in_(dataset_ids), visible_to(caller))
        )
    }
    stats = stats_for(session, dataset_ids)
    for dataset_id in dataset_ids:
        if dataset_id not in datasets:
            raise DataError(f"You don't own the dataset {dataset_id}")
        if stats.get(dataset_id, DatasetStats()).chunk_count == 0:
            raise DataError(f"The dataset {dataset_id} doesn't own parsed file")
    names = {vector_space(dataset.embedding_model) for dataset in datasets.values()}
    if len(names) > 1:
        # RAGFlow answers this with code 109 and the stray quote; clients match on both.
        raise AuthenticationError('Datasets use different embedding models."')


def _checked_model_name(
    session: Session, settings: Settings, caller: Caller, llm: LlmFields | None
) -> str:
    """The requested chat model, checked; "" when none is named (the tenant's default)."""
    if llm is None or not llm.model_name:
        return ""
    if not model_exists(session, settings, caller.tenant_id, llm.model_name, ModelType.CHAT):
        raise DataError(f"`model_name` {llm.model_name} doesn't exist")
    return llm.model_name


def _checked_rerank(
    session: Session, settings: Settings, caller: Caller, prompt: PromptFields | None
) -> str:
    if prompt is None or not prompt.rerank_model:
        return ""
    model_id = prompt.rerank_model
    if not model_exists(session, settings, caller.tenant_id, model_id, ModelType.RERANK):
        raise DataError(f"`rerank_model` {model_id} doesn't exist")
    return model_id


def _check_name_free(session: Session, caller: Caller, name: str, error: DataError) -> None:
    taken = select(Chat.id).where(_live(caller), Chat.name_key == name_key(name))
    if session.scalars(taken).first() is not None:
        raise error


def _prompt_config(base: dict[str, Any], prompt: PromptFields | None) -> dict[str, Any]:
    """``base`` with the given prompt keys written over it in ``prompt_config`` names."""
    config = copy.deepcopy(base)
    if prompt is None:
        return config
    extra = prompt.model_extra or {}
    for key in prompt.model_fields_set:
        if key in PROMPT_CONFIG_KEYS:
            config[PROMPT_CONFIG_KEYS[key]] = prompt.model_dump(include={key})[key]
        elif key in extra:
            config[key] = extra[key]
    return config


def _check_parameters(prompt_config: dict[str, Any]) -> None:
    system = prompt_config.get("system") or ""
    for parameter in prompt_config.get("parameters") or []:
        if not parameter.get("optional") and f"{{{parameter['key']}}}" not in system:
            raise DataError(f"Parameter '{parameter['key']}' is not used")


def _set_retrieval(chat: Chat, prompt: PromptFields | None, rerank_id: str) -> None:
    if prompt is None:
        return
    given = prompt.model_fields_set & RETRIEVAL_KEYS
    if "similarity_threshold" in given:
        chat.similarity_threshold = prompt.similarity_threshold
    if "keywords_similarity_weight" in given:
        # RAGFlow's quirk, kept: the value is stored as the vector weight, shown as 1 - it.
        chat.vector_similarity_weight = prompt.keywords_similarity_weight
    elif "vector_similarity_weight" in given:
        chat.vector_similarity_weight = prompt.vector_similarity_weight
    if "top_n" in given:
        chat.top_n = prompt.top_n
    if "top_k" in given:
        chat.top_k = prompt.top_k
    if "rerank_model" in given:
        chat.rerank_id = rerank_id


def _flush(session: Session, duplicate: DataError) -> None:
    """Write the changes; a live chat that took the name meanwhile makes this a duplicate."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise duplicate from None
