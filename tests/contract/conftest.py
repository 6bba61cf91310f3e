"""A moto S3 server process shared by the session, and S3 stores on fresh buckets in it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from helpers.processes import stop
from ragserve.blobs.s3 import S3BlobStore

MOTO_START_TIMEOUT = 30.0
S3_REGION = "us-east-1"
S3_KEY_ID = S3_SECRET = "testing"


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a ``moto.server`` subprocess; fails the tests using it if it cannot start."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("moto") / "server.log"
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


@pytest.fixture(scope="session")
def s3_client(moto_endpoint: str) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=S3_REGION,
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
    )


@pytest.fixture
def make_s3_store(moto_endpoint: str, s3_client: Any) -> Callable[..., S3BlobStore]:
    """Builds an S3BlobStore on a new bucket of the moto server, or on ``bucket`` as is."""

    def make(prefix: str = "", bucket: str | None = None) -> S3BlobStore:
        if bucket is None:
            bucket = f"test-{uuid.uuid4().hex}"
            s3_client.create_bucket(Bucket=bucket)
        return S3BlobStore(
            bucket,
            prefix=prefix,
            endpoint_url=moto_endpoint,
            region=S3_REGION,
            access_key_id=S3_KEY_ID,
            secret_access_key=S3_SECRET,
        )

    return make


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_answering(process: subprocess.Popen[bytes], endpoint: str, log: Path) -> None:
    deadline = time.monotonic() + MOTO_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
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
    pytest.fail(
        f"moto server at {endpoint} did not answer within {MOTO_START_TIMEOUT:.0f}s; "
        f"its output:\n{log.read_text(errors='replace')}"
    )
