"""The worker child of ``ragserve serve`` never outlives the server, however the server ends."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import pytest

from helpers.server import running_server

pytestmark = pytest.mark.e2e


def test_workers_die_with_a_killed_server(tmp_path: Path) -> None:
    with running_server(tmp_path / "home", {"RAGSERVE_WORKERS": "1"}) as server:
        workers = psutil.Process(server.process.pid).children(recursive=True)
        assert workers, "serve started no worker process"
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
        gone, alive = psutil.wait_procs(workers, timeout=20)
        assert not alive, [p.pid for p in alive]
        assert len(gone) == len(workers)
