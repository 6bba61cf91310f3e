"""The command line without a server: what importing it loads, and the parsing progress."""

from __future__ import annotations

import subprocess
import sys

from ragserve.client_cli import parse_status
from ragserve.sdk import Document


def test_importing_the_cli_loads_no_server_stack() -> None:
    """Client commands start without FastAPI, SQLAlchemy or the models (2.4 s once)."""
    probe = (
        "import sys, ragserve.cli; "
        "print(sorted(m for m in ('fastapi', 'sqlalchemy', 'alembic', 'onnxruntime', 'numpy', "
        "'litellm', 'ragserve.bootstrap', 'ragserve.services', 'ragserve.app', "
        "'ragserve.worker') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)  # fmt: skip
    assert done.stdout.strip() == "[]", done.stdout


def document(name: str, run: str, progress: float, log: str = "") -> Document:
    fields = {"id": name, "name": name, "run": run, "progress": progress, "progress_msg": log}
    return Document(None, fields)  # type: ignore[arg-type]


def test_parse_status_counts_chunks_being_embedded() -> None:
    log = "10:00:00 Chunking finished: 170 chunks.\n10:00:05 Embedded 96/170 chunks.\n"
    completed, text = parse_status([
        document("a.pdf", "RUNNING", 0.64, log),
        document("b.md", "DONE", 1.0),
        document("c.md", "FAIL", 0.3),
        document("d.md", "RUNNING", 0.1, "10:00:00 Task has been received."),
        document("e.md", "UNSTART", 0.0),
    ])  # fmt: skip
    assert completed == 2 + 0.64 + 0.1
    assert text == "Parsing a.pdf: Embedded 96/170 chunks. (and 1 more)"
    assert parse_status([document("b.md", "DONE", 1.0)]) == (1, "Parsing")
    assert parse_status([document("x.md", "RUNNING", 0.0)]) == (0, "Parsing x.md")
