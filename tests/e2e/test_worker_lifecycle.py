"""The worker child of ``ragserve serve``: which processes it is, and it never outlives the server,
however the server ends."""

from __future__ import annotations

import os
import signal
import time
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


def loaded_libraries(process: psutil.Process) -> str:
    return Path(f"/proc/{process.pid}/maps").read_text()


def test_serve_is_a_server_a_supervisor_and_its_workers_which_load_nothing_until_a_task(
    tmp_path: Path,
) -> None:
    """No process that only waits (huey's scheduler runs in the supervisor, the reaper in the
    server), and idle workers have not loaded the models: they import the stack on a task."""
    with running_server(tmp_path / "home", {"RAGSERVE_WORKERS": "2"}) as server:
        [supervisor] = psutil.Process(server.process.pid).children()
        assert "ragserve.worker" in supervisor.cmdline()
        deadline = time.monotonic() + 30
        while len(supervisor.children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = supervisor.children(recursive=True)
        assert len(workers) == 2, [w.cmdline() for w in workers]
        for process in (supervisor, *workers):
            assert "onnxruntime" not in loaded_libraries(process)
        assert "onnxruntime" in loaded_libraries(psutil.Process(server.process.pid))
