"""The ragserve app served over real HTTP by uvicorn in a thread of the test process.

For flows a browser drives across several servers (single sign-on): a plain
``httpx.Client(follow_redirects=True)`` goes from ragserve to a provider and back, while the
test still reaches the app's ``Runtime`` (``app.state.runtime``).

Usage::

    with live_app(settings) as app:
        httpx.get(app.base_url + "/v1/user/login/channels")
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from ragserve.app import create_app
from ragserve.runtime import Runtime
from ragserve.settings import Settings

START_TIMEOUT_S = 30.0


@dataclass
class LiveApp:
    base_url: str
    runtime: Runtime


@contextmanager
def live_app(settings: Settings) -> Iterator[LiveApp]:
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", loop="asyncio", http="h11")
    )
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        port = listening.getsockname()[1]
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]})
        thread.start()
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("the app did not start")
                time.sleep(0.02)
            yield LiveApp(f"http://127.0.0.1:{port}", app.state.runtime)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
