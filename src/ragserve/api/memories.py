"""``/api/v1/memories`` and ``/api/v1/messages``: agent memories and their messages (spec
2.12, RAGFlow 0.23). A message is addressed as ``{memory_id}:{message_id}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import FlagResult
from ragserve.schemas.memories import (
    AddMessage,
    CreateMemory,
    FoundMessage,
    ListMemories,
    ListMemoryMessages,
    MemoryMessages,
    MemoryPage,
    MemoryPublic,
    MessagePublic,
    MessageStatus,
    RecentMessages,
    SearchMessages,
    UpdateMemory,
)
from ragserve.services import memories, memory_messages

router = APIRouter(prefix="/api/v1/memories", tags=["memories"], route_class=RagflowRoute)
messages_router = APIRouter(prefix="/api/v1/messages", tags=["memories"], route_class=RagflowRoute)

MemoryId = Annotated[str, Path(description="The memory's id.")]
MessageId = Annotated[str, Path(description="The message's number in its memory.")]
NO_CHANGES = UpdateMemory()


@router.post("", summary="Create a memory")
def create_memory(
    runtime: RuntimeDep, caller: ApiCaller, body: Annotated[CreateMemory, Body()]
) -> FlagResult[MemoryPublic]:
    """A new memory of the caller's tenant, with RAGFlow's defaults (5 MiB, FIFO, 0.5)."""
    with runtime.transaction() as session:
        return FlagResult(data=memories.create(session, caller, body))


@router.put("/{memory_id}", summary="Update a memory")
def update_memory(
    runtime: RuntimeDep,
    caller: ApiCaller,
    memory_id: MemoryId,
    body: Annotated[UpdateMemory, Body()] = NO_CHANGES,
) -> FlagResult[MemoryPublic]:
    """Change the values given; a memory with messages keeps its embedding model and types."""
    with runtime.transaction() as session:
        return FlagResult(data=memories.update(session, caller, memory_id, body))


@router.delete("/{memory_id}", summary="Delete a memory")
def delete_memory(runtime: RuntimeDep, caller: ApiCaller, memory_id: MemoryId) -> FlagResult[None]:
    """The memory and all its messages."""
    with runtime.transaction() as session:
        memories.delete(session, caller, memory_id)
    return FlagResult(data=None)


@router.get("", summary="List memories")
def list_memories(
    runtime: RuntimeDep, caller: ApiCaller, query: Annotated[ListMemories, Query()]
) -> FlagResult[MemoryPage]:
    """The memories the caller sees, most recently updated first, filtered and paged."""
    with runtime.read() as session:
        return FlagResult(data=memories.list_memories(session, caller, query))


@router.get("/{memory_id}/config", summary="Show a memory's configuration")
def memory_config(
    runtime: RuntimeDep, caller: ApiCaller, memory_id: MemoryId
) -> FlagResult[MemoryPublic]:
    with runtime.read() as session:
        return FlagResult(
            data=memories.public(session, memories.visible(session, caller, memory_id))
        )


@router.get("/{memory_id}", summary="List a memory's messages")
def memory_messages_page(
    runtime: RuntimeDep,
    caller: ApiCaller,
    memory_id: MemoryId,
    query: Annotated[ListMemoryMessages, Query()],
) -> FlagResult[MemoryMessages]:
    """One page of its raw turns, newest first, each with its extracted items and task."""
    with runtime.read() as session:
        return FlagResult(data=memory_messages.listing(session, caller, memory_id, query))


@messages_router.post("", summary="Add a turn to memories")
def add_message(
    runtime: RuntimeDep, caller: ApiCaller, body: Annotated[AddMessage, Body()]
) -> FlagResult[None]:
    """Store the turn in each memory and queue its extraction and embedding."""
    return FlagResult(message=memory_messages.add(runtime, caller, body), data=None)


@messages_router.get("/search", summary="Search memories")
def search_messages(
    runtime: RuntimeDep, caller: ApiCaller, query: Annotated[SearchMessages, Query()]
) -> FlagResult[list[FoundMessage]]:
    """Hybrid search over the memories' messages, best first."""
    return FlagResult(data=memory_messages.search(runtime, caller, query))


@messages_router.get("", summary="Recent turns")
def recent_messages(
    runtime: RuntimeDep, caller: ApiCaller, query: Annotated[RecentMessages, Query()]
) -> FlagResult[list[MessagePublic]]:
    """The newest turns of the memories, newest first."""
    with runtime.read() as session:
        return FlagResult(data=memory_messages.recent(session, caller, query))


@messages_router.delete("/{memory_id}:{message_id}", summary="Forget a message")
def forget_message(
    runtime: RuntimeDep, caller: ApiCaller, memory_id: MemoryId, message_id: MessageId
) -> FlagResult[None]:
    with runtime.transaction() as session:
        return FlagResult(
            message=memory_messages.forget(session, caller, memory_id, message_id), data=None
        )


@messages_router.put("/{memory_id}:{message_id}", summary="Enable or disable a message")
def message_status(
    runtime: RuntimeDep,
    caller: ApiCaller,
    memory_id: MemoryId,
    message_id: MessageId,
    body: Annotated[MessageStatus, Body()],
) -> FlagResult[None]:
    with runtime.transaction() as session:
        done = memory_messages.set_status(session, caller, memory_id, message_id, body.status)
    return FlagResult(message=done, data=None)


@messages_router.get("/{memory_id}:{message_id}/content", summary="Show a message")
def message_content(
    runtime: RuntimeDep, caller: ApiCaller, memory_id: MemoryId, message_id: MessageId
) -> FlagResult[MessagePublic]:
    with runtime.read() as session:
        return FlagResult(data=memory_messages.content(session, caller, memory_id, message_id))
