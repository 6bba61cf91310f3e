"""``ragserve memory ...``: create, list and delete memories, add turns, list, search and
forget their messages (see docs/memory.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from ragserve.client_cli._common import (
    ID_PATTERN,
    PAGE_SIZE,
    JsonOption,
    KeyOption,
    QuietOption,
    UrlOption,
    YesOption,
    client,
    delete_after_asking,
    failures,
    out,
    show,
    show_created,
)
from ragserve.sdk import Memory, RAGFlow, RAGServeError

memory_app = typer.Typer(
    help="Agent memories: create, list, delete; add, list, search and forget messages.",
    no_args_is_help=True,
)

MemoryOption = Annotated[str, typer.Option("--memory", "-m", help="Memory name or id.")]
TYPES = ("raw", "semantic", "episodic", "procedural")
MEMORY_EXTRAS = ("llm", "embedding")
"""The columns ``memory list`` drops on a narrow terminal, first the first."""


def find_memory(rag: RAGFlow, reference: str) -> Memory:
    """The memory with this id or, failing that, this name.

    :raises RAGServeError: no memory the caller sees has either.
    """
    memories: list[Memory] = rag.list_memory(page_size=PAGE_SIZE)["memory_list"]
    if ID_PATTERN.fullmatch(reference):
        for memory in memories:
            if memory.id == reference:
                return memory
    for memory in memories:
        if memory.name == reference:
            return memory
    raise RAGServeError(f"Memory {reference} does not exist.")


def _memory_row(memory: Memory) -> dict[str, Any]:
    return {
        "id": memory.id,
        "name": memory.name,
        "types": ",".join(memory.memory_type),
        "embedding": memory.embd_id,
        "llm": memory.llm_id,
    }


def _message_row(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "message_id": message.get("message_id"),
        "type": message.get("message_type"),
        "agent_id": message.get("agent_id"),
        "session_id": message.get("session_id"),
        "content": message.get("content"),
    }


@memory_app.command("create")
def memory_create(
    name: str,
    embedding: Annotated[str, typer.Option("--embedding", "-e", help="Embedding model.")],
    llm: Annotated[str, typer.Option("--llm", "-l", help="Chat model that extracts items.")],
    memory_type: Annotated[
        list[str] | None,
        typer.Option("--type", "-t", help=f"Repeat for several: {', '.join(TYPES)}."),
    ] = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Create a memory (types default to raw)."""
    with failures():
        memory = client(url, api_key).create_memory(name, memory_type or ["raw"], embedding, llm)
    show_created(memory.id, _memory_row(memory), json_output, quiet, optional=MEMORY_EXTRAS)


@memory_app.command("list")
def memory_list(
    json_output: JsonOption = False, url: UrlOption = None, api_key: KeyOption = None
) -> None:
    """List the memories you see, last changed first."""
    with failures():
        memories = client(url, api_key).list_memory(page_size=PAGE_SIZE)["memory_list"]
    show([_memory_row(m) for m in memories], json_output, optional=MEMORY_EXTRAS)


@memory_app.command("delete")
def memory_delete(
    memories: Annotated[list[str], typer.Argument(help="Memory names or ids.")],
    yes: YesOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Delete memories with their messages (asks first, unless --yes)."""
    with failures():
        rag = client(url, api_key)

        def delete(found: Sequence[Memory]) -> None:
            for memory in found:
                rag.delete_memory(memory.id)

        delete_after_asking(
            [find_memory(rag, memory) for memory in memories],
            yes,
            delete,
            question=lambda names: f"Delete memory(ies) {names}?",
            deleted="memory(ies)",
        )


@memory_app.command("add")
def memory_add(
    user_input: Annotated[str, typer.Argument(help="What the user said.")],
    agent_response: Annotated[str, typer.Argument(help="What the agent answered.")],
    memory: Annotated[
        list[str], typer.Option("--memory", "-m", help="Memory name or id; repeat for several.")
    ],
    agent_id: Annotated[str, typer.Option("--agent", help="The agent's id.")] = "",
    session_id: Annotated[str, typer.Option("--session", help="The session's id.")] = "",
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Keep a turn in memories; its extraction and embedding are queued."""
    with failures():
        rag = client(url, api_key)
        ids = [find_memory(rag, reference).id for reference in memory]
        said = rag.add_message(ids, agent_id, session_id, user_input, agent_response)
    out.print(said)


@memory_app.command("messages")
def memory_messages(
    memory: MemoryOption,
    agent_id: Annotated[str | None, typer.Option("--agent", help="Only this agent's.")] = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """List a memory's turns, newest first, with their extraction state and items."""
    with failures():
        found = find_memory(client(url, api_key), memory)
        page = found.list_memory_messages(agent_id=agent_id, page_size=PAGE_SIZE)
    turns = page["messages"]["message_list"]
    if json_output:
        show(turns, True)
        return
    rows = [
        {**_message_row(turn), "task": turn.get("task", {}).get("status"),
         "items": len(turn.get("extract") or [])}
        for turn in turns
    ]  # fmt: skip
    show(rows, False, optional=("session_id", "agent_id"))


@memory_app.command("search")
def memory_search(
    query: str,
    memory: Annotated[
        list[str], typer.Option("--memory", "-m", help="Memory name or id; repeat for several.")
    ],
    top_n: Annotated[int, typer.Option("--top-n", help="How many messages at most.")] = 5,
    threshold: Annotated[float, typer.Option(help="Lowest similarity shown.")] = 0.2,
    keywords_weight: Annotated[float, typer.Option(help="Weight of the term side.")] = 0.7,
    json_output: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Search memories' messages, best first."""
    with failures():
        rag = client(url, api_key)
        ids = [find_memory(rag, reference).id for reference in memory]
        found = rag.search_message(query, ids, None, None, threshold, keywords_weight, top_n)
    if json_output:
        show(found, True)
        return
    rows = [{**_message_row(m), "similarity": round(m.get("similarity", 0), 4)} for m in found]
    show(rows, False, optional=("session_id", "agent_id"))


@memory_app.command("forget")
def memory_forget(
    message_id: Annotated[int, typer.Argument(help="The message's number (see `messages`).")],
    memory: MemoryOption,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Forget a message and what was extracted from it: no longer searched."""
    with failures():
        find_memory(client(url, api_key), memory).forget_message(message_id)
    out.print(f"Forgot message {message_id}")
