"""The SDK's surface: ragflow-sdk 0.23.1's methods with the same argument names and defaults,
and async twins that match the sync classes."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import ragflow_sdk
from ragflow_sdk.modules.session import Message as TheirMessage

from ragserve import sdk

PAIRS = [
    (ragflow_sdk.RAGFlow, sdk.RAGFlow, sdk.AsyncRAGFlow),
    (ragflow_sdk.DataSet, sdk.DataSet, sdk.AsyncDataSet),
    (ragflow_sdk.Document, sdk.Document, sdk.AsyncDocument),
    (ragflow_sdk.Chunk, sdk.Chunk, sdk.AsyncChunk),
    (ragflow_sdk.Chat, sdk.Chat, sdk.AsyncChat),
    (ragflow_sdk.Session, sdk.Session, sdk.AsyncSession),
    (ragflow_sdk.Agent, sdk.Agent, sdk.AsyncAgent),
]
RESOURCE_HELPERS = {"get", "post", "put", "rm"}
"""ragflow-sdk's ``Base`` request helpers; only ``RAGFlow``'s raw requests are offered."""
SYNC_ONLY = {"get", "post", "put", "delete"}
"""``RAGFlow``'s raw requests (the async client has none)."""


def public_methods(cls: type) -> set[str]:
    return {
        name
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and inspect.isfunction(member)
    }


def parameters(function: Any) -> list[tuple[str, Any]]:
    """Positional parameters as (name, default); empty lists and tuples are alike."""
    found = []
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind is parameter.KEYWORD_ONLY:
            continue  # the SDK's additions (timeout, on_progress...)
        default = parameter.default
        found.append((parameter.name, [] if default == () else default))
    return found


@pytest.mark.parametrize(("theirs", "ours", "_"), PAIRS, ids=lambda c: c.__name__)
def test_every_method_of_ragflow_sdk_with_its_arguments(theirs: type, ours: type, _: type) -> None:
    wanted = public_methods(theirs) - RESOURCE_HELPERS - {"to_json"}
    if theirs is ragflow_sdk.RAGFlow:
        wanted |= SYNC_ONLY
    assert wanted <= public_methods(ours)
    for name in sorted(wanted):
        assert parameters(getattr(ours, name)) == parameters(getattr(theirs, name)), name


@pytest.mark.parametrize(("theirs", "sync", "twin"), PAIRS, ids=lambda c: c.__name__)
def test_async_twins_match_the_sync_classes(theirs: type, sync: type, twin: type) -> None:
    expected = public_methods(sync) - SYNC_ONLY if sync is sdk.RAGFlow else public_methods(sync)
    assert public_methods(twin) - {"aclose"} == expected - {"close"}
    for name in expected - {"close", "to_json"}:
        assert inspect.signature(getattr(twin, name)).parameters.keys() == (
            inspect.signature(getattr(sync, name)).parameters.keys()
        ), name
        twin_is_async = inspect.iscoroutinefunction(getattr(twin, name))
        assert twin_is_async == (name != "ask"), name  # ask returns an async iterator


@pytest.mark.parametrize(
    ("theirs", "ours"),
    [
        (ragflow_sdk.DataSet, sdk.DataSet),
        (ragflow_sdk.Document, sdk.Document),
        (ragflow_sdk.Chunk, sdk.Chunk),
        (ragflow_sdk.Chat, sdk.Chat),
        (ragflow_sdk.Chat.LLM, sdk.Chat.LLM),
        (ragflow_sdk.Chat.Prompt, sdk.Chat.Prompt),
        (ragflow_sdk.Session, sdk.Session),
        (TheirMessage, sdk.Message),
        (ragflow_sdk.Agent, sdk.Agent),
    ],
    ids=lambda c: c.__qualname__,
)
def test_objects_start_with_ragflow_sdks_defaults(theirs: type, ours: type) -> None:
    their_values = {k: v for k, v in vars(theirs(None, {})).items() if k != "rag"}
    our_values = ours(None, {}).to_json()
    if ours is sdk.Session:
        assert our_values.pop("chat_id") is None  # ragflow-sdk only sets it when given
        assert our_values.pop("agent_id") is None
    if ours is sdk.Chat:
        for nested in ("llm", "prompt"):
            their_values[nested] = {
                k: v for k, v in vars(their_values[nested]).items() if k != "rag"
            }
    if ours is sdk.Document:
        their_values["parser_config"] = {"pages": [[1, 1000000]]}
    assert our_values == their_values
