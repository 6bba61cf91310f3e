"""What the client commands share: the connection to the server, output (tables, JSON,
prompts) and looking datasets and chats up by name or id."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.measure import Measurement
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

T = TypeVar("T")

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


def show_created(
    identifier: object,
    row: dict[str, Any],
    json_output: bool,
    quiet: bool,
    optional: Sequence[str] = (),
) -> None:
    """What a ``create`` command prints: with ``--quiet`` the new id alone, else its row as
    ``show`` prints it."""
    if quiet:
        typer.echo(identifier)
        return
    show([row], json_output, optional=optional)


def _name_and_id(item: Any) -> str:
    return f"{item.name} ({item.id})"


def delete_after_asking(
    found: Sequence[T],
    yes: bool,
    delete: Callable[[Sequence[T]], object],
    *,
    question: Callable[[str], str],
    deleted: str,
    label: Callable[[T], str] = _name_and_id,
) -> None:
    """What a ``delete`` command does once it has found what to delete: ask ``question`` of
    their names (``label`` names each) unless ``--yes``, ``delete`` them, and print
    ``Deleted <count> <deleted>``."""
    confirm(question(", ".join(label(item) for item in found)), yes)
    delete(found)
    out.print(f"Deleted {len(found)} {deleted}")


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
