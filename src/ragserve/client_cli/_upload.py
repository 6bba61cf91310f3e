"""``ragserve doc upload``: upload files, parse them, follow the parsing, summarise."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from ragserve.client_cli._common import (
    FINISHED,
    PARSE_TIMEOUT,
    POLL_SECONDS,
    DatasetOption,
    JsonOption,
    KeyOption,
    UrlOption,
    all_documents,
    client,
    err,
    failures,
    find_dataset,
    show,
)
from ragserve.sdk import (
    DataSet,
    Document,
    RAGServeError,
)

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
