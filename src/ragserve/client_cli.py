"""The client commands of ``ragserve``: talk to a running server through ``ragserve.sdk``.

The server and key come from ``--url``/``--api-key``, else ``RAGSERVE_URL``/``RAGSERVE_API_KEY``,
else the file ``ragserve login`` writes (``$XDG_CONFIG_HOME/ragserve/client.json``). Listings
take ``--json`` for scripts. ``--dataset`` and ``--chat`` take a name or an id. Without a
terminal, output is plain: no colours, no progress bars, and lines are not wrapped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

from ragserve.sdk import (
    APIError,
    AuthenticationError,
    Chat,
    DataSet,
    Document,
    RAGFlow,
    RAGServeError,
    TransportError,
)

DEFAULT_URL = "http://127.0.0.1:9380"
PARSE_TIMEOUT = 3600.0
POLL_SECONDS = 0.5
FINISHED = {"DONE", "FAIL", "CANCEL"}
ID_PATTERN = re.compile(r"[0-9a-f]{32}")
PAGE_SIZE = 1000
UNWRAPPED = 1_000_000
"""The console width without a terminal: lines as long as their content."""

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
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking.")]
DatasetOption = Annotated[str, typer.Option("--dataset", "-d", help="Dataset name or id.")]
DatasetsOption = Annotated[
    list[str], typer.Option("--dataset", "-d", help="Dataset name or id (repeatable).")
]


def console(stderr: bool = False) -> Console:
    """A console for stdout or stderr: on a terminal, Rich's; otherwise without colours or
    wrapping, so that a path or an id is never cut into two lines. Text is never read as Rich
    markup: names and paths may hold brackets."""
    found = Console(stderr=stderr, highlight=False, markup=False)
    if found.is_terminal:
        return found
    return Console(stderr=stderr, highlight=False, markup=False, width=UNWRAPPED, soft_wrap=True)


out = console()
err = console(stderr=True)


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


def show(
    rows: list[dict[str, Any]],
    json_output: bool,
    title: str | None = None,
    optional: Sequence[str] = (),
) -> None:
    """Rows as JSON or as a table. Ids are never cut: when the table is wider than the terminal,
    the ``optional`` columns are dropped (the first named first), then the others wrap."""
    if json_output:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        out.print("(none)")
        return
    columns = list(rows[0])
    droppable = [column for column in optional if column in columns]
    table = _table(rows, columns, title)
    while droppable and _width(table) > out.width:
        columns.remove(droppable.pop(0))
        table = _table(rows, columns, title)
    out.print(table)


def _is_id(column: str) -> bool:
    return column == "id" or column.endswith("_id")


def _table(rows: list[dict[str, Any]], columns: list[str], title: str | None) -> Table:
    table = Table(title=title)
    for column in columns:
        cells = [_cell(row.get(column)) for row in rows]
        if _is_id(column):
            width = max(len(cell) for cell in [column, *cells])
            table.add_column(column, no_wrap=True, min_width=width)
        else:
            table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(column)) for column in columns))
    return table


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _width(table: Table) -> int:
    return Measurement.get(out, out.options, table).maximum


def confirm(question: str, yes: bool) -> None:
    """Go on if ``--yes`` was given or the user answers yes (on stdin); else exit 1."""
    if yes:
        return
    err.print(f"{question} [y/N] ", end="")
    answer = sys.stdin.readline()
    if not answer:
        err.print()
    if answer.strip().lower() not in ("y", "yes"):
        err.print("Nothing deleted (--yes deletes without asking).")
        raise typer.Exit(1)


# --- names and ids -----------------------------------------------------------------------------


def _looked_up(listing: Any, **query: Any) -> list[Any]:
    """``listing(**query)``; an id or a name the server refuses (malformed, unknown, another
    user's) is an empty list. Authentication failures still raise."""
    try:
        return list(listing(**query))
    except AuthenticationError:
        raise
    except APIError:
        return []


def find_dataset(rag: RAGFlow, reference: str) -> DataSet:
    """The dataset with this id or, failing that, this name.

    :raises RAGServeError: no dataset of the caller has either.
    """
    if ID_PATTERN.fullmatch(reference):
        found = _looked_up(rag.list_datasets, id=reference)
        if found:
            return found[0]  # type: ignore[no-any-return]
    named = _looked_up(rag.list_datasets, name=reference)
    found = [d for d in named if d.name == reference] or named  # the server ignores case
    if not found:
        raise RAGServeError(f"Dataset {reference} does not exist.")
    return found[0]  # type: ignore[no-any-return]


def find_chat(rag: RAGFlow, reference: str) -> Chat:
    """The chat assistant with this id or, failing that, this name.

    :raises RAGServeError: no chat of the caller has either.
    """
    if ID_PATTERN.fullmatch(reference):
        found = _looked_up(rag.list_chats, id=reference)
        if found:
            return found[0]  # type: ignore[no-any-return]
    found = _looked_up(rag.list_chats, name=reference)
    if not found:
        raise RAGServeError(f"Chat {reference} does not exist.")
    return found[0]  # type: ignore[no-any-return]


def find_datasets(rag: RAGFlow, references: Iterable[str]) -> list[DataSet]:
    return [find_dataset(rag, reference) for reference in references]


def all_documents(dataset: DataSet, keywords: str | None = None) -> list[Document]:
    """Every document of the dataset, page after page."""
    documents: list[Document] = []
    for page in range(1, sys.maxsize):
        found = dataset.list_documents(keywords=keywords, page=page, page_size=PAGE_SIZE)
        documents += found
        if len(found) < PAGE_SIZE:
            return documents
    return documents


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
    if quiet:
        typer.echo(dataset.id)
        return
    show([dataset_row(dataset)], json_output, optional=DATASET_EXTRAS)


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
        found = find_datasets(rag, datasets)
        named = ", ".join(f"{d.name} ({d.id}, {d.document_count} document(s))" for d in found)
        confirm(f"Delete dataset(s) {named} with all their documents?", yes)
        rag.delete_datasets(ids=[d.id for d in found])
    out.print(f"Deleted {len(found)} dataset(s)")


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
    """What became of one local file: ``name`` is the document's name on the server (which
    adds ``(1)`` to a name the dataset has already)."""

    file: str
    name: str = ""
    document_id: str = ""
    run: str = "NOT UPLOADED"
    chunks: int = 0
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.run in ("DONE", "UPLOADED")

    def summary(self) -> dict[str, Any]:
        """The table row: the stored name, or the local file when it was not uploaded."""
        return {
            "document": self.name or self.file,
            "run": self.run,
            "chunks": self.chunks,
            "message": self.message,
        }


@doc_app.command("upload")
def doc_upload(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories (recursively).")],
    dataset: DatasetOption,
    parse: Annotated[bool, typer.Option("--parse/--no-parse", help="Parse after upload.")] = True,
    skip_existing: Annotated[
        bool,
        typer.Option(
            "--skip-existing",
            help="Do not upload a file whose name the dataset has; parse it if it is not parsed.",
        ),
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for parsing.")] = PARSE_TIMEOUT,
    json_output: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Upload files, parse them, and show how each one ended; exit 1 if any failed.

    Ctrl-C while waiting for parsing cancels the parsing of the documents not finished yet (as
    the SDK's parse_documents does); run the command again with --skip-existing to go on."""
    files = list(files_under(paths))
    if not files:
        err.print("No files to upload.")
        raise typer.Exit(2)
    with failures():
        target = find_dataset(client(url, api_key), dataset)
        existing = _by_name(all_documents(target)) if skip_existing else {}
    outcomes = [Outcome(str(path)) for path in files]
    try:
        _upload(target, files, outcomes, existing)
    except KeyboardInterrupt:
        done = sum(bool(outcome.document_id) for outcome in outcomes)
        err.print(
            f"Interrupted: {done} of {len(files)} file(s) uploaded, none parsed. "
            "Run the command again with --skip-existing to upload the rest and parse them all."
        )
        raise typer.Exit(130) from None
    uploaded = [outcome for outcome in outcomes if outcome.document_id]
    if parse and uploaded:
        with failures():
            _parse(target, uploaded, timeout)
    if json_output:
        show([asdict(outcome) for outcome in outcomes], json_output=True)
    else:
        show([outcome.summary() for outcome in outcomes], False, title="Upload summary")
    failed = [outcome for outcome in outcomes if not outcome.ok]
    if failed:
        err.print(f"{len(failed)} of {len(outcomes)} file(s) failed.")
        raise typer.Exit(1)


def _by_name(documents: Iterable[Document]) -> dict[str, Document]:
    """The documents by name; of several with one name, a parsed one."""
    found: dict[str, Document] = {}
    for document in documents:
        if document.name not in found or document.run == "DONE":
            found[document.name] = document
    return found


def _upload(
    dataset: DataSet,
    files: list[Path],
    outcomes: list[Outcome],
    existing: dict[str, Document],
) -> None:
    with progress_bar() as progress:
        task = progress.add_task("Uploading", total=len(files))
        for path, outcome in zip(files, outcomes, strict=True):
            there = existing.get(path.name)
            if there is not None:
                outcome.name, outcome.document_id = there.name, there.id
                outcome.run, outcome.chunks = there.run, there.chunk_count
                outcome.message = "already in the dataset"
                verb = "skipped"
            else:
                verb = "uploaded"
                try:
                    [document] = dataset.upload_documents(
                        [{"display_name": path.name, "blob": path.read_bytes()}]
                    )
                except (RAGServeError, OSError) as error:
                    outcome.message = str(error)
                else:
                    outcome.name, outcome.document_id = document.name, document.id
                    outcome.run = "UPLOADED"
            progress.advance(task)
            if not progress.live.is_started:
                renamed = f" as {outcome.name}" if outcome.name not in ("", path.name) else ""
                err.print(f"{verb} {path}{renamed} ({outcome.run})")


def _parse(dataset: DataSet, outcomes: list[Outcome], timeout: float) -> None:
    """Parse the documents not parsed yet and wait for all of them. Ctrl-C cancels the parsing
    of those still running, says so and exits with status 130."""
    by_id = {outcome.document_id: outcome for outcome in outcomes}
    waiting = [o.document_id for o in outcomes if o.run not in ("DONE", "RUNNING")]
    if waiting:
        dataset.async_parse_documents(waiting)
        for document_id in waiting:
            by_id[document_id].run = "RUNNING"
    try:
        _wait(dataset, by_id, timeout)
    except KeyboardInterrupt:
        running = [id for id, outcome in by_id.items() if outcome.run not in FINISHED]
        for document_id in running:  # one by one: one that just ended fails alone
            with contextlib.suppress(RAGServeError):
                dataset.async_cancel_parse_documents([document_id])
        err.print(
            f"Interrupted: cancelled the parsing of {len(running)} document(s). Run the command "
            "again with --skip-existing to parse them without uploading them again."
        )
        raise typer.Exit(130) from None


def _wait(dataset: DataSet, by_id: dict[str, Outcome], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with progress_bar() as progress:
        task = progress.add_task("Parsing", total=len(by_id))
        while True:
            documents = [d for d in all_documents(dataset) if d.id in by_id]
            for document in documents:
                outcome = by_id[document.id]
                newly_finished = outcome.run not in FINISHED and document.run in FINISHED
                if newly_finished and not progress.live.is_started:
                    err.print(f"parsed {outcome.name}: {document.run}")
                outcome.run, outcome.chunks = document.run, document.chunk_count
                if document.run in ("FAIL", "CANCEL"):
                    outcome.message = last_line(document.progress_msg)
            completed, description = parse_status(documents)
            progress.update(task, completed=completed, description=description)
            if all(outcome.run in FINISHED for outcome in by_id.values()):
                return
            if time.monotonic() > deadline:
                for outcome in by_id.values():
                    if outcome.run not in FINISHED:
                        outcome.message = f"still {outcome.run} after {timeout:g} s"
                return
            time.sleep(POLL_SECONDS)


def parse_status(documents: Sequence[Document]) -> tuple[float, str]:
    """The progress bar's position (finished documents count 1, running ones their fraction,
    which moves with each batch of chunks embedded) and its text: the last step of the first
    running document, e.g. ``Parsing a.pdf: Embedded 96/170 chunks.``"""
    completed = 0.0
    running: list[Document] = []
    for document in documents:
        if document.run in FINISHED:
            completed += 1
        else:
            completed += min(max(float(document.progress or 0.0), 0.0), 1.0)
            if document.run == "RUNNING":
                running.append(document)
    if not running:
        return completed, "Parsing"
    first = running[0]
    step = last_line(first.progress_msg)
    description = f"Parsing {first.name}" + (f": {step}" if step else "")
    if len(running) > 1:
        description += f" (and {len(running) - 1} more)"
    return completed, description


def last_line(text: str | None) -> str:
    """The last line of a progress log, without its time stamp."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return re.sub(r"^\d{2}:\d{2}:\d{2} ", "", lines[-1]) if lines else ""


@doc_app.command("list")
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


@doc_app.command("delete")
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
        found = _find_documents(target, documents)
        named = ", ".join(f"{d.name} ({d.id})" for d in found)
        confirm(f"Delete {named} from dataset {target.name}?", yes)
        target.delete_documents(ids=[d.id for d in found])
    out.print(f"Deleted {len(found)} document(s)")


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
        found = [find_chat(rag, chat) for chat in chats]
        named = ", ".join(f"{chat.name} ({chat.id})" for chat in found)
        confirm(f"Delete chat assistant(s) {named} with their sessions?", yes)
        rag.delete_chats(ids=[chat.id for chat in found])
    out.print(f"Deleted {len(found)} chat assistant(s)")


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


def register(app: typer.Typer) -> None:
    """Add the client commands to the ``ragserve`` command."""
    app.command("login")(login)
    app.command("retrieve")(retrieve)
    app.command("ask")(ask)
    app.add_typer(dataset_app, name="dataset")
    app.add_typer(doc_app, name="doc")
    app.add_typer(chunk_app, name="chunk")
    app.add_typer(chat_app, name="chat")
