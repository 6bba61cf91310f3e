"""A moto S3 server process (``python -m moto.server``) on a free port, for the blob contract
tests and the multi-node e2e test."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers.processes import stop

MOTO_START_TIMEOUT = 30.0
S3_REGION = "us-east-1"
S3_KEY_ID = S3_SECRET = "testing"


@contextmanager
def moto_server(log_dir: Path) -> Iterator[str]:
    """The endpoint URL of a running moto server; it stops when the block ends."""
    port = _free_port()
    log_path = log_dir / "moto.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(process, endpoint, log_path)
        yield endpoint
    finally:
        stop(process)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_answering(process: subprocess.Popen[bytes], endpoint: str, log: Path) -> None:
    deadline = time.monotonic() + MOTO_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"moto server exited with status {process.returncode} before answering; "
                f"its output:\n{log.read_text(errors='replace')}"
            )
        try:
            with urllib.request.urlopen(endpoint, timeout=1):
                return
        except urllib.error.HTTPError as answer:
            answer.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(
        f"moto server at {endpoint} did not answer within {MOTO_START_TIMEOUT:.0f}s; "
        f"its output:\n{log.read_text(errors='replace')}"
    )
