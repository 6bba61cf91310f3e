"""Ingestion on a real server with real worker processes, driven by the official ragflow-sdk."""

from __future__ import annotations

import io
import os
import signal
import time
from collections.abc import Iterator

import psutil
import pytest
import ragflow_sdk

from helpers.data import PDF_SAMPLES, cranfield_text
from helpers.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

WORKER_ENV = {"RAGSERVE_WORKERS": "1", "RAGSERVE_TASK_LEASE": "3"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("ingest") / "home", WORKER_ENV) as running:
        yield running


@pytest.fixture
def rag(server: RunningServer) -> ragflow_sdk.RAGFlow:
    return ragflow_sdk.RAGFlow(api_key=server.api_key, base_url=server.base_url)


def docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Wing design", level=1)
    document.add_paragraph("Swept wings delay the onset of compressibility drag.")
    output = io.BytesIO()
    document.save(output)
    return output.getvalue()


def wait_for(rag_dataset: object, document_id: str, runs: set[str], timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [document] = rag_dataset.list_documents(id=document_id)  # type: ignore[attr-defined]
        if document.run in runs:
            return document
        time.sleep(0.3)
    raise AssertionError(f"document {document_id} not in {runs} after {timeout} s: {document.run}")


def test_sdk_parse_documents_of_every_common_format(rag: ragflow_sdk.RAGFlow) -> None:
    dataset = rag.create_dataset(name="formats")
    files = {
        "notes.txt": b"Boundary layers thicken downstream.\n\nTransition depends on roughness.",
        "guide.md": b"# Guide\n\n## Lift\n\nLift grows with the angle of attack.\n",
        "page.html": b"<html><head><title>T</title></head><body><h1>Drag</h1><p>Form drag.</p></body></html>",
        "wing.docx": docx_bytes(),
        "data.csv": b"question,answer\nWhat is Mach 1?,The speed of sound\n",
        "sample.pdf": (PDF_SAMPLES / "004-pdflatex-4-pages" / "pdflatex-4-pages.pdf").read_bytes(),
        "locked.pdf": next(
            (PDF_SAMPLES / "005-libreoffice-writer-password").glob("*.pdf")
        ).read_bytes(),
    }
    documents = dataset.upload_documents([{"display_name": n, "blob": b} for n, b in files.items()])
    by_name = {document.name: document.id for document in documents}
    results = dataset.parse_documents([document.id for document in documents])
    runs = {document_id: (run, chunks) for document_id, run, chunks, _tokens in results}
    for name, document_id in by_name.items():
        run, chunks = runs[document_id]
        if name == "locked.pdf":
            assert run == "FAIL"
        else:
            assert (run, chunks > 0) == ("DONE", True), (name, run, chunks)
    [locked] = dataset.list_documents(id=by_name["locked.pdf"])
    assert "password" in locked.progress_msg and locked.progress == -1
    [pdf] = dataset.list_documents(id=by_name["sample.pdf"])
    assert pdf.progress_msg.endswith("Task done") and pdf.chunk_count == len(
        pdf.list_chunks(page_size=100)
    )
    [refreshed] = rag.list_datasets(id=dataset.id)
    assert refreshed.chunk_count == sum(chunks for _, (run, chunks) in runs.items())


def test_cancel_a_running_parse(rag: ragflow_sdk.RAGFlow) -> None:
    dataset = rag.create_dataset(name="cancel")
    [document] = dataset.upload_documents(
        [{"display_name": "big.txt", "blob": cranfield_text(1400).encode()}]
    )
    dataset.async_parse_documents([document.id])
    wait_for(dataset, document.id, {"RUNNING"}, 30)
    time.sleep(1)
    dataset.async_cancel_parse_documents([document.id])
    cancelled = wait_for(dataset, document.id, {"CANCEL"}, 10)
    assert cancelled.chunk_count == 0  # type: ignore[attr-defined]
    time.sleep(3)  # the worker notices at its next step and writes nothing
    [after] = dataset.list_documents(id=document.id)
    assert (after.run, after.chunk_count) == ("CANCEL", 0)
    assert after.list_chunks() == []


def worker_processes(server: RunningServer) -> list[psutil.Process]:
    """The huey worker processes: grandchildren of the server (server -> consumer -> workers)."""
    server_process = psutil.Process(server.process.pid)
    return [p for child in server_process.children() for p in child.children()]


def test_kill_9_of_a_worker_mid_parse_is_recovered(
    rag: ragflow_sdk.RAGFlow, server: RunningServer
) -> None:
    dataset = rag.create_dataset(name="crash")
    text = cranfield_text(600).encode()
    [document] = dataset.upload_documents([{"display_name": "crash.txt", "blob": text}])
    dataset.async_parse_documents([document.id])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        [current] = dataset.list_documents(id=document.id)
        if current.run == "RUNNING" and current.progress >= 0.3:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("parse never reached the embedding stage")
    victims = worker_processes(server)
    assert victims
    for victim in victims:
        os.kill(victim.pid, signal.SIGKILL)
    done = wait_for(dataset, document.id, {"DONE", "FAIL"}, 300)
    assert done.run == "DONE", done.progress_msg  # type: ignore[attr-defined]
    chunks = done.list_chunks(page_size=10_000)  # type: ignore[attr-defined]
    assert len(chunks) == done.chunk_count == len({chunk.id for chunk in chunks})  # type: ignore[attr-defined]
    assert "Task done" in done.progress_msg  # type: ignore[attr-defined]


def test_reparse_while_running_replaces_atomically(rag: ragflow_sdk.RAGFlow) -> None:
    dataset = rag.create_dataset(name="reparse")
    [document] = dataset.upload_documents(
        [{"display_name": "r.txt", "blob": cranfield_text(50).encode()}]
    )
    first = dataset.parse_documents([document.id])
    second = dataset.parse_documents([document.id])
    assert first[0][1] == second[0][1] == "DONE"
    assert first[0][2] == second[0][2] > 0
    [after] = dataset.list_documents(id=document.id)
    assert len(after.list_chunks(page_size=10_000)) == after.chunk_count


def test_pdf_samples_parse_or_fail_cleanly(rag: ragflow_sdk.RAGFlow) -> None:
    dataset = rag.create_dataset(name="samples")
    samples = sorted(PDF_SAMPLES.glob("*/*.pdf"))
    assert len(samples) >= 20
    uploaded = dataset.upload_documents(
        [
            {"display_name": f"{i:02d}-{p.name}", "blob": p.read_bytes()}
            for i, p in enumerate(samples)
        ]
    )
    results = dataset.parse_documents([document.id for document in uploaded])
    assert {run for _, run, _, _ in results} <= {"DONE", "FAIL"}
    done = [result for result in results if result[1] == "DONE"]
    assert len(done) >= len(samples) - 3
    for document in dataset.list_documents(page_size=100):
        if document.run == "FAIL":
            assert "[ERROR]" in document.progress_msg and "Traceback" not in document.progress_msg


def test_sdk_chunk_methods(rag: ragflow_sdk.RAGFlow) -> None:
    dataset = rag.create_dataset(name="chunks")
    [document] = dataset.upload_documents(
        [{"display_name": "c.txt", "blob": b"Shock waves form at supersonic speed."}]
    )
    dataset.parse_documents([document.id])
    chunk = document.add_chunk(content="Added by hand.", important_keywords=["hand"])
    assert chunk.content == "Added by hand."
    listed = document.list_chunks(page_size=100)
    assert chunk.id in {c.id for c in listed}
    chunk.update({"content": "Edited by hand."})
    [edited] = document.list_chunks(id=chunk.id)
    assert edited.content == "Edited by hand."
    document.delete_chunks([chunk.id])
    assert chunk.id not in {c.id for c in document.list_chunks(page_size=100)}
