"""Stopping the server processes that tests start."""

from __future__ import annotations

import subprocess

STOP_TIMEOUT_S = 10


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ask the process to stop; kill it if it has not stopped within ``STOP_TIMEOUT_S``."""
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
