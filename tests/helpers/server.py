"""Start a real ``ragserve serve`` process on a free port with a fresh home.

Usage::

    with running_server(tmp_path) as server:
        httpx.get(server.base_url + "/v1/system/healthz")
        headers = {"Authorization": f"Bearer {server.api_key}"}
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from helpers.processes import stop

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password"
START_TIMEOUT_S = 30.0


@dataclass
class RunningServer:
    base_url: str
    api_key: str
    home: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str] = field(default_factory=dict)
    email: str = ADMIN_EMAIL
    password: str = ADMIN_PASSWORD
    log_name: str = "server.log"

    @property
    def log(self) -> str:
        return (self.home / self.log_name).read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def ragserve(
    *args: str, env: Mapping[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the ``ragserve`` CLI as a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "ragserve", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def server_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAGSERVE_")}
    env.update({"RAGSERVE_HOME": str(home), "RAGSERVE_LOG_LEVEL": "warning"})
    if "RAGSERVE_MODELS_DIR" in os.environ:  # the int8 model, built once for every test
        env["RAGSERVE_MODELS_DIR"] = os.environ["RAGSERVE_MODELS_DIR"]
    env.update(extra or {})
    return env


@contextmanager
def running_server(
    home: Path, extra_env: Mapping[str, str] | None = None
) -> Iterator[RunningServer]:
    """A server with one user (``ADMIN_EMAIL``) and an API token for it. The server starts
    first: it creates the database, which the admin commands then require."""
    home.mkdir(parents=True, exist_ok=True)
    env = server_env(home, extra_env)
    port = free_port()
    log = (home / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "ragserve", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = RunningServer(f"http://127.0.0.1:{port}", "", home, process, env)
    try:
        wait_until_healthy(server)
        for args in (
            ("user", "create", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD),
            ("token", "create", "--email", ADMIN_EMAIL),
        ):
            done = ragserve(*args, env=env)
            assert done.returncode == 0, done.stderr
        server.api_key = done.stdout.strip()
        yield server
    finally:
        stop(process)
        log.close()


def wait_until_healthy(server: RunningServer, timeout: float = START_TIMEOUT_S) -> float:
    """Seconds until ``/v1/system/healthz`` answered 200."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.log}")
        try:
            if httpx.get(server.base_url + "/v1/system/healthz", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server not healthy after {timeout:g} s:\n{server.log}")
