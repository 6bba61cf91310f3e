"""The client commands of ``ragserve``: talk to a running server through ``ragserve.sdk``.

The server and key come from ``--url``/``--api-key``, else ``RAGSERVE_URL``/``RAGSERVE_API_KEY``,
else the file ``ragserve login`` writes (``$XDG_CONFIG_HOME/ragserve/client.json``). Listings
take ``--json`` for scripts. Without a terminal, output is plain: no colours, no progress bars.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

from ragserve.sdk import RAGFlow, RAGServeError, TransportError

DEFAULT_URL = "http://127.0.0.1:9380"
PARSE_TIMEOUT = 3600.0
POLL_SECONDS = 0.5
FINISHED = {"DONE", "FAIL", "CANCEL"}

dataset_app = typer.Typer(help="Manage datasets on a server.", no_args_is_help=True)
doc_app = typer.Typer(help="Upload, list and delete documents.", no_args_is_help=True)
chunk_app = typer.Typer(help="List a document's chunks.", no_args_is_help=True)
chat_app = typer.Typer(help="Manage chat assistants.", no_args_is_help=True)

UrlOption = Annotated[
    str | None, typer.Option("--url", help="Server URL (also RAGSERVE_URL).", show_default=False)
]
KeyOption = Annotated[
    str | None,
    typer.Option("--api-key", help="API key (also RAGSERVE_API_KEY).", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the new id.")]
DatasetOption = Annotated[str, typer.Option("--dataset", "-d", help="Dataset id.")]

out = Console()
err = Console(stderr=True)


# --- connection --------------------------------------------------------------------------------


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ragserve" / "client.json"


@dataclass(frozen=True)
class Connection:
    url: str
    api_key: str


def connection(url: str | None, api_key: str | None) -> Connection:
    """Flags, then the environment, then the login file."""
    saved: dict[str, str] = {}
    path = config_path()
    if path.is_file():
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            err.print(f"warning: ignoring unreadable {path}")
    chosen_url = url or os.environ.get("RAGSERVE_URL") or saved.get("url") or DEFAULT_URL
    key = api_key or os.environ.get("RAGSERVE_API_KEY") or saved.get("api_key")
    if not key:
        err.print("No API key: pass --api-key, set RAGSERVE_API_KEY or run `ragserve login`.")
        raise typer.Exit(2)
    return Connection(chosen_url.rstrip("/"), key)


def client(url: str | None, api_key: str | None) -> RAGFlow:
    found = connection(url, api_key)
    return RAGFlow(api_key=found.api_key, base_url=found.url)


def login(
    url: Annotated[str, typer.Option("--url", help="Server URL.")] = DEFAULT_URL,
    api_key: Annotated[str, typer.Option("--api-key", prompt=True, hide_input=True)] = "",
) -> None:
    """Check the key against the server and save both for later commands."""
    rag = RAGFlow(api_key=api_key, base_url=url.rstrip("/"))
    with failures():
        rag.list_datasets(page_size=1)
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump({"url": url.rstrip("/"), "api_key": api_key}, file)
    out.print(f"Logged in to {url}; saved to {path}")


@contextmanager
def failures() -> Iterator[None]:
    """Turn SDK and connection errors into a message and exit status 1."""
    try:
        yield
    except TransportError as error:
        err.print(f"Cannot reach the server: {error}", highlight=False)
        raise typer.Exit(1) from None
    except RAGServeError as error:
        err.print(f"Error: {error}", highlight=False)
        raise typer.Exit(1) from None


def show(rows: list[dict[str, Any]], json_output: bool, title: str | None = None) -> None:
    if json_output:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        out.print("(none)")
        return
    table = Table(*rows[0].keys(), title=title)
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row.values()))
    out.print(table)


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
    if quiet:
        typer.echo(dataset.id)
        return
    show([dataset_row(dataset)], json_output)


@dataset_app.command("list")
def dataset_list(
    name: Annotated[str | None, typer.Option(help="Only this name.")] = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """List your datasets."""
    with failures():
        datasets = client(url, api_key).list_datasets(page_size=1000, name=name)
    show([dataset_row(d) for d in datasets], json_output)


@dataset_app.command("update")
def dataset_update(
    dataset_id: str,
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
        [dataset] = client(url, api_key).list_datasets(id=dataset_id)
        dataset.update(changes)
    out.print(f"Updated {dataset_id}")


@dataset_app.command("delete")
def dataset_delete(
    dataset_ids: list[str], url: UrlOption = None, api_key: KeyOption = None
) -> None:
    """Delete datasets and everything in them."""
    with failures():
        client(url, api_key).delete_datasets(ids=dataset_ids)
    out.print(f"Deleted {len(dataset_ids)} dataset(s)")


# --- documents ---------------------------------------------------------------------------------


def files_under(paths: Sequence[Path]) -> Iterator[Path]:
    """The files named, and the files under the directories named (recursively, sorted;
    hidden ones skipped)."""
    for path in paths:
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                relative = found.relative_to(path).parts
                if found.is_file() and not any(part.startswith(".") for part in relative):
                    yield found
        elif path.is_file():
            yield path
        else:
            err.print(f"warning: {path} does not exist")


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        console=err,
        disable=not err.is_terminal,
    )


@dataclass
class Outcome:
    file: str
    document_id: str = ""
    run: str = "NOT UPLOADED"
    chunks: int = 0
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.run in ("DONE", "UPLOADED")

    def summary(self, roots: Sequence[Path]) -> dict[str, Any]:
        """The table row: the file relative to the directory it was found in."""
        path = Path(self.file)
        for root in roots:
            if root.is_dir() and path.is_relative_to(root):
                path = path.relative_to(root)
                break
        return {"file": str(path), "run": self.run, "chunks": self.chunks, "message": self.message}


@doc_app.command("upload")
def doc_upload(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories (recursively).")],
    dataset_id: DatasetOption,
    parse: Annotated[bool, typer.Option("--parse/--no-parse", help="Parse after upload.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for parsing.")] = PARSE_TIMEOUT,
    json_output: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Upload files, parse them, and show how each one ended; exit 1 if any failed."""
    files = list(files_under(paths))
    if not files:
        err.print("No files to upload.")
        raise typer.Exit(2)
    with failures():
        [dataset] = client(url, api_key).list_datasets(id=dataset_id)
    outcomes = [Outcome(str(path)) for path in files]
    with progress_bar() as progress:
        task = progress.add_task("Uploading", total=len(files))
        for path, outcome in zip(files, outcomes, strict=True):
            try:
                [document] = dataset.upload_documents(
                    [{"display_name": path.name, "blob": path.read_bytes()}]
                )
            except (RAGServeError, OSError) as error:
                outcome.message = str(error)
            else:
                outcome.document_id, outcome.run = document.id, "UPLOADED"
            progress.advance(task)
            if not progress.live.is_started:
                err.print(f"uploaded {path} ({outcome.run})")
    uploaded = [outcome for outcome in outcomes if outcome.document_id]
    if parse and uploaded:
        with failures():
            _parse(dataset, uploaded, timeout)
    if json_output:
        show([vars(outcome) for outcome in outcomes], json_output=True)
    else:
        show([outcome.summary(paths) for outcome in outcomes], False, title="Upload summary")
    failed = [outcome for outcome in outcomes if not outcome.ok]
    if failed:
        err.print(f"{len(failed)} of {len(outcomes)} file(s) failed.")
        raise typer.Exit(1)


def _parse(dataset: Any, outcomes: list[Outcome], timeout: float) -> None:
    by_id = {outcome.document_id: outcome for outcome in outcomes}
    dataset.async_parse_documents(list(by_id))
    deadline = time.monotonic() + timeout
    with progress_bar() as progress:
        task = progress.add_task("Parsing", total=len(by_id))
        while True:
            documents = [d for d in dataset.list_documents(page_size=10_000) if d.id in by_id]
            for document in documents:
                outcome = by_id[document.id]
                newly_finished = outcome.run not in FINISHED and document.run in FINISHED
                if newly_finished and not progress.live.is_started:
                    err.print(f"parsed {outcome.file}: {document.run}")
                outcome.run, outcome.chunks = document.run, document.chunk_count
                if document.run in ("FAIL", "CANCEL"):
                    outcome.message = _last_line(document.progress_msg)
            finished = sum(outcome.run in FINISHED for outcome in by_id.values())
            progress.update(task, completed=finished)
            if finished == len(by_id):
                return
            if time.monotonic() > deadline:
                for outcome in by_id.values():
                    if outcome.run not in FINISHED:
                        outcome.message = f"still {outcome.run} after {timeout:g} s"
                return
            time.sleep(POLL_SECONDS)


def _last_line(text: str | None) -> str:
    """The last line of a progress log, without its time stamp."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return re.sub(r"^\d{2}:\d{2}:\d{2} ", "", lines[-1]) if lines else ""


@doc_app.command("list")
def doc_list(
    dataset_id: DatasetOption,
    keywords: Annotated[str | None, typer.Option(help="Only names containing this.")] = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """List a dataset's documents with their parsing state."""
    with failures():
        [dataset] = client(url, api_key).list_datasets(id=dataset_id)
        documents = dataset.list_documents(keywords=keywords, page_size=10_000)
    rows = [
        {"id": d.id, "name": d.name, "size": d.size, "run": d.run, "chunks": d.chunk_count}
        for d in documents
    ]
    show(rows, json_output)


@doc_app.command("delete")
def doc_delete(
    document_ids: list[str],
    dataset_id: DatasetOption,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Delete documents (and their chunks) from a dataset."""
    with failures():
        [dataset] = client(url, api_key).list_datasets(id=dataset_id)
        dataset.delete_documents(ids=document_ids)
    out.print(f"Deleted {len(document_ids)} document(s)")


@chunk_app.command("list")
def chunk_list(
    dataset_id: DatasetOption,
    document_id: Annotated[str, typer.Option("--doc", help="Document id.")],
    keywords: Annotated[str | None, typer.Option(help="Full-text filter.")] = None,
    page_size: Annotated[int, typer.Option(min=1)] = 30,
    json_output: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """List a document's chunks."""
    with failures():
        [dataset] = client(url, api_key).list_datasets(id=dataset_id)
        [document] = dataset.list_documents(id=document_id)
        chunks = document.list_chunks(page_size=page_size, keywords=keywords or "")
    rows = [{"id": c.id, "content": c.content, "available": c.available} for c in chunks]
    show(rows, json_output)


# --- retrieval and chat ------------------------------------------------------------------------


def retrieve(
    question: str,
    dataset_ids: Annotated[list[str], typer.Option("--dataset", "-d", help="Dataset id(s).")],
    top_n: Annotated[int, typer.Option(min=1, help="How many chunks.")] = 6,
    threshold: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.2,
    json_output: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """The chunks most similar to a question, with scores and sources."""
    with failures():
        chunks = client(url, api_key).retrieve(
            dataset_ids=dataset_ids,
            question=question,
            page_size=top_n,
            similarity_threshold=threshold,
        )
    rows = [
        {
            "rank": rank,
            "similarity": round(float(chunk.similarity), 3),
            "source": chunk.document_name or chunk.document_id,
            "content": " ".join(chunk.content.split())[:200],
        }
        for rank, chunk in enumerate(chunks, 1)
    ]
    show(rows, json_output)


def _chat_row(chat: Any) -> dict[str, Any]:
    return {"id": chat.id, "name": chat.name, "datasets": len(getattr(chat, "datasets", []) or [])}


@chat_app.command("create")
def chat_create(
    name: str,
    dataset_ids: Annotated[list[str], typer.Option("--dataset", "-d", help="Dataset id(s).")],
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Create a chat assistant over datasets."""
    with failures():
        chat = client(url, api_key).create_chat(name, dataset_ids=dataset_ids)
    if quiet:
        typer.echo(chat.id)
        return
    show([{"id": chat.id, "name": chat.name, "datasets": len(dataset_ids)}], json_output)


@chat_app.command("list")
def chat_list(
    json_output: JsonOption = False, url: UrlOption = None, api_key: KeyOption = None
) -> None:
    """List your chat assistants."""
    with failures():
        chats = client(url, api_key).list_chats(page_size=1000)
    show([_chat_row(chat) for chat in chats], json_output)


def ask(
    question: str,
    chat_id: Annotated[str, typer.Option("--chat", "-c", help="Chat assistant id.")],
    session_id: Annotated[
        str | None, typer.Option("--session", help="Continue this session.")
    ] = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Ask an assistant: the answer streams, then its numbered sources."""
    with failures():
        [chat] = client(url, api_key).list_chats(id=chat_id)
        session = chat.list_sessions(id=session_id)[0] if session_id else chat.create_session("cli")
        answer: list[str] = []
        references: list[dict[str, Any]] = []
        for message in session.ask(question, stream=True):
            if message.content:
                answer.append(message.content)
                if not json_output:
                    out.print(message.content, end="", soft_wrap=True, highlight=False)
            references = getattr(message, "reference", None) or references
    if json_output:
        typer.echo(
            json.dumps(
                {"session_id": session.id, "answer": "".join(answer), "sources": references},
                ensure_ascii=False,
            )
        )
        return
    out.print()
    if references:
        out.print("\nSources:")
        for number, reference in enumerate(references):
            name = reference.get("document_name") or reference.get("document_id", "")
            snippet = " ".join(str(reference.get("content", "")).split())[:120]
            out.print(f"  [{number}] {name}: {snippet}", highlight=False)
    out.print(f"\n(session {session.id})", style="dim")


def register(app: typer.Typer) -> None:
    """Add the client commands to the ``ragserve`` command."""
    app.command("login")(login)
    app.command("retrieve")(retrieve)
    app.command("ask")(ask)
    app.add_typer(dataset_app, name="dataset")
    app.add_typer(doc_app, name="doc")
    app.add_typer(chunk_app, name="chunk")
    app.add_typer(chat_app, name="chat")
