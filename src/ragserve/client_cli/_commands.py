"""The client commands other than ``doc upload`` and ``login``: datasets, documents, chunks,
retrieval, chat assistants and questions."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from ragserve.client_cli._common import (
    PAGE_SIZE,
    POLL_SECONDS,
    DatasetOption,
    DatasetsOption,
    JsonOption,
    KeyOption,
    QuietOption,
    UrlOption,
    YesOption,
    all_documents,
    chat_app,
    chunk_app,
    client,
    dataset_app,
    delete_after_asking,
    err,
    failures,
    find_chat,
    find_dataset,
    find_datasets,
    out,
    show,
    show_created,
)
from ragserve.client_cli._upload import progress_bar
from ragserve.sdk import (
    DataSet,
    Document,
    RAGServeError,
)

# --- datasets ----------------------------------------------------------------------------------


def dataset_row(dataset: Any) -> dict[str, Any]:
    return {
        "id": dataset.id,
        "name": dataset.name,
        "documents": dataset.document_count,
        "chunks": dataset.chunk_count,
        "chunk_method": dataset.chunk_method,
        "embedding_model": dataset.embedding_model,
    }


DATASET_EXTRAS = ("embedding_model", "chunk_method", "chunks")
"""The columns ``dataset list`` drops on a narrow terminal, first the first."""


@dataset_app.command("create")
def dataset_create(
    name: str,
    chunk_method: Annotated[str, typer.Option(help="naive, qa, table, paper, book, ...")] = "naive",
    embedding_model: Annotated[str | None, typer.Option(help="name@factory")] = None,
    description: Annotated[str | None, typer.Option()] = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Create a dataset."""
    with failures():
        options: dict[str, Any] = {"chunk_method": chunk_method, "description": description}
        if embedding_model:
            options["embedding_model"] = embedding_model
        dataset = client(url, api_key).create_dataset(name=name, **options)
    show_created(dataset.id, dataset_row(dataset), json_output, quiet, optional=DATASET_EXTRAS)


@dataset_app.command("list")
def dataset_list(
    name: Annotated[str | None, typer.Option(help="Only this name.")] = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """List your datasets."""
    with failures():
        rag = client(url, api_key)
        datasets = [find_dataset(rag, name)] if name else rag.list_datasets(page_size=PAGE_SIZE)
    show([dataset_row(d) for d in datasets], json_output, optional=DATASET_EXTRAS)


@dataset_app.command("update")
def dataset_update(
    dataset: Annotated[str, typer.Argument(help="Dataset name or id.")],
    name: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    chunk_method: Annotated[str | None, typer.Option()] = None,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Change a dataset's name, description or chunk method."""
    changes = {
        key: value
        for key, value in (
            ("name", name),
            ("description", description),
            ("chunk_method", chunk_method),
        )
        if value is not None
    }
    if not changes:
        err.print("Nothing to change: give --name, --description or --chunk-method.")
        raise typer.Exit(2)
    with failures():
        found = find_dataset(client(url, api_key), dataset)
        found.update(changes)
    out.print(f"Updated {found.id}")


@dataset_app.command("reembed")
def dataset_reembed(
    dataset: Annotated[str, typer.Argument(help="Dataset name or id.")],
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Embedding model (default: your default embedding model)."
        ),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait and show the progress.")] = False,
    timeout: Annotated[
        float, typer.Option(help="With --wait: seconds before cancelling it.")
    ] = 86400.0,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Embed a dataset's chunks again with another model, without parsing them again; search
    uses the old model until every chunk is done. With --wait, Ctrl-C cancels it."""
    with failures():
        found = find_dataset(client(url, api_key), dataset)
        task_id = found.async_reembed(model)
        if not wait:
            row = found.reembed_status()
            out.print(
                f"Queued re-embedding {task_id} of {found.id} with {row.get('embedding_model')}; "
                f"follow it with `ragserve dataset reembed-status {found.id}`.",
                highlight=False,
            )
            return
        _follow_reembed(found, timeout)


def _follow_reembed(dataset: DataSet, timeout: float) -> None:
    """Show the task's progress (a bar on a terminal, else its new log lines) until it ends;
    exit 1 if it failed, 130 after cancelling it on Ctrl-C."""
    deadline = time.monotonic() + timeout
    printed = 0
    try:
        with progress_bar() as progress:
            bar = progress.add_task("Re-embedding", total=1.0)
            while True:
                row = dataset.reembed_status()
                lines = str(row.get("progress_msg") or "").splitlines()
                if not progress.live.is_started:
                    for line in lines[printed:]:
                        err.print(line, highlight=False)
                    printed = len(lines)
                value = float(row.get("progress") or 0)
                last = lines[-1].split(" ", 1)[-1] if lines else "Re-embedding"
                progress.update(bar, completed=max(value, 0.0), description=last)
                if value < 0:
                    err.print(f"Re-embedding failed: {last}", highlight=False)
                    raise typer.Exit(1)
                if value >= 1:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError
                time.sleep(POLL_SECONDS)
    except (KeyboardInterrupt, TimeoutError) as stop:
        with contextlib.suppress(RAGServeError):
            dataset.cancel_reembed()
        why = "Interrupted" if isinstance(stop, KeyboardInterrupt) else f"Not done in {timeout:g} s"
        err.print(f"{why}: cancelled the re-embedding; {dataset.id} keeps its model.")
        raise typer.Exit(130 if isinstance(stop, KeyboardInterrupt) else 1) from None
    out.print(
        f"Re-embedded {dataset.id} with {row.get('embedding_model')}.",
        highlight=False,
    )


@dataset_app.command("reembed-status")
def dataset_reembed_status(
    dataset: Annotated[str, typer.Argument(help="Dataset name or id.")],
    json_output: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Show a dataset's newest re-embedding: its model, progress and last step."""
    with failures():
        row = find_dataset(client(url, api_key), dataset).reembed_status()
    if not row:
        out.print("No re-embedding of this dataset.")
        return
    lines = str(row.get("progress_msg") or "").splitlines()
    progress = float(row.get("progress") or 0)
    state = "FAILED" if progress < 0 else "DONE" if progress >= 1 else "RUNNING"
    summary = {
        "id": row.get("id"),
        "embedding_model": row.get("embedding_model"),
        "state": state,
        "progress": progress,
        "last_step": lines[-1] if lines else "",
    }
    show([summary], json_output)


@dataset_app.command("delete")
def dataset_delete(
    datasets: Annotated[list[str], typer.Argument(help="Dataset names or ids.")],
    yes: YesOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Delete datasets and everything in them (asks first, unless --yes)."""
    with failures():
        rag = client(url, api_key)
        delete_after_asking(
            find_datasets(rag, datasets),
            yes,
            lambda found: rag.delete_datasets(ids=[d.id for d in found]),
            question=lambda names: f"Delete dataset(s) {names} with all their documents?",
            deleted="dataset(s)",
            label=lambda d: f"{d.name} ({d.id}, {d.document_count} document(s))",
        )


def doc_list(
    dataset: DatasetOption,
    keywords: Annotated[str | None, typer.Option(help="Only names containing this.")] = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """List a dataset's documents with their parsing state."""
    with failures():
        documents = all_documents(find_dataset(client(url, api_key), dataset), keywords)
    rows = [
        {"id": d.id, "name": d.name, "size": d.size, "run": d.run, "chunks": d.chunk_count}
        for d in documents
    ]
    show(rows, json_output, optional=("size", "chunks"))


def doc_delete(
    documents: Annotated[list[str], typer.Argument(help="Document names or ids.")],
    dataset: DatasetOption,
    yes: YesOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Delete documents (and their chunks) from a dataset (asks first, unless --yes)."""
    with failures():
        target = find_dataset(client(url, api_key), dataset)
        delete_after_asking(
            _find_documents(target, documents),
            yes,
            lambda found: target.delete_documents(ids=[d.id for d in found]),
            question=lambda names: f"Delete {names} from dataset {target.name}?",
            deleted="document(s)",
        )


def _find_documents(dataset: DataSet, references: Sequence[str]) -> list[Document]:
    """The documents with these ids or names (every document of a name given)."""
    documents = all_documents(dataset)
    found: list[Document] = []
    for reference in references:
        matching = [d for d in documents if reference in (d.id, d.name)]
        if not matching:
            raise RAGServeError(f"Document {reference} does not exist in {dataset.name}.")
        found += [d for d in matching if d not in found]
    return found


@chunk_app.command("list")
def chunk_list(
    dataset: DatasetOption,
    document: Annotated[str, typer.Option("--doc", help="Document name or id.")],
    keywords: Annotated[str | None, typer.Option(help="Full-text filter.")] = None,
    page_size: Annotated[int, typer.Option(min=1)] = 30,
    json_output: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """List a document's chunks."""
    with failures():
        target = find_dataset(client(url, api_key), dataset)
        [found, *_] = _find_documents(target, [document])
        chunks = found.list_chunks(page_size=page_size, keywords=keywords or "")
    rows = [{"id": c.id, "content": c.content, "available": c.available} for c in chunks]
    show(rows, json_output, optional=("available",))


# --- retrieval and chat ------------------------------------------------------------------------


def retrieve(
    question: str,
    datasets: DatasetsOption,
    top_n: Annotated[int, typer.Option(min=1, help="How many chunks.")] = 6,
    threshold: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.2,
    json_output: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """The chunks most similar to a question, with scores and sources (--json: each chunk's
    whole content, its id, its document's id and name, and the three scores)."""
    with failures():
        rag = client(url, api_key)
        chunks = rag.retrieve(
            dataset_ids=[d.id for d in find_datasets(rag, datasets)],
            question=question,
            page_size=top_n,
            similarity_threshold=threshold,
        )
    if json_output:
        hits = [
            {
                "rank": rank,
                "chunk_id": chunk.id,
                "document_id": chunk.document_id,
                "document_name": chunk.document_name,
                "dataset_id": chunk.dataset_id,
                "similarity": chunk.similarity,
                "vector_similarity": chunk.vector_similarity,
                "term_similarity": chunk.term_similarity,
                "content": chunk.content,
            }
            for rank, chunk in enumerate(chunks, 1)
        ]
        show(hits, json_output=True)
        return
    rows = [
        {
            "rank": rank,
            "similarity": round(float(chunk.similarity), 3),
            "source": chunk.document_name or chunk.document_id,
            "content": " ".join(chunk.content.split())[:200],
        }
        for rank, chunk in enumerate(chunks, 1)
    ]
    show(rows, False)


def _chat_row(chat: Any) -> dict[str, Any]:
    return {"id": chat.id, "name": chat.name, "datasets": len(getattr(chat, "datasets", []) or [])}


@chat_app.command("create")
def chat_create(
    name: str,
    datasets: DatasetsOption,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Create a chat assistant over datasets."""
    with failures():
        rag = client(url, api_key)
        dataset_ids = [d.id for d in find_datasets(rag, datasets)]
        chat = rag.create_chat(name, dataset_ids=dataset_ids)
    row = {"id": chat.id, "name": chat.name, "datasets": len(dataset_ids)}
    show_created(chat.id, row, json_output, quiet)


@chat_app.command("list")
def chat_list(
    json_output: JsonOption = False, url: UrlOption = None, api_key: KeyOption = None
) -> None:
    """List your chat assistants."""
    with failures():
        chats = client(url, api_key).list_chats(page_size=PAGE_SIZE)
    show([_chat_row(chat) for chat in chats], json_output, optional=("datasets",))


@chat_app.command("delete")
def chat_delete(
    chats: Annotated[list[str], typer.Argument(help="Chat names or ids.")],
    yes: YesOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Delete chat assistants and their sessions (asks first, unless --yes)."""
    with failures():
        rag = client(url, api_key)
        delete_after_asking(
            [find_chat(rag, chat) for chat in chats],
            yes,
            lambda found: rag.delete_chats(ids=[chat.id for chat in found]),
            question=lambda names: f"Delete chat assistant(s) {names} with their sessions?",
            deleted="chat assistant(s)",
        )


def ask(
    question: str,
    chat: Annotated[str, typer.Option("--chat", "-c", help="Chat assistant name or id.")],
    session_id: Annotated[
        str | None, typer.Option("--session", help="Continue this session.")
    ] = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Ask an assistant: the answer streams, then its numbered sources. An answer that fails
    midway prints the error on stderr and exits with status 1."""
    answer: list[str] = []
    try:
        with failures():
            assistant = find_chat(client(url, api_key), chat)
            if session_id:
                session = assistant.list_sessions(id=session_id)[0]
            else:
                session = assistant.create_session("cli")
            references: list[dict[str, Any]] = []
            for message in session.ask(question, stream=True):
                if message.content:
                    answer.append(message.content)
                    if not json_output:
                        out.print(message.content, end="", soft_wrap=True, highlight=False)
                references = getattr(message, "reference", None) or references
    finally:
        if answer and not json_output:
            out.print()
    if json_output:
        typer.echo(
            json.dumps(
                {"session_id": session.id, "answer": "".join(answer), "sources": references},
                ensure_ascii=False,
            )
        )
        return
    if references:
        out.print("\nSources:")
        for number, reference in enumerate(references):
            name = reference.get("document_name") or reference.get("document_id", "")
            snippet = " ".join(str(reference.get("content", "")).split())[:120]
            out.print(f"  [{number}] {name}: {snippet}", highlight=False)
    out.print(f"\n(session {session.id})", style="dim")
