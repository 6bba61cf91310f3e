from __future__ import annotations

import gc
import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from ragserve.app import create_app
from ragserve.runtime import Runtime
from ragserve.settings import Settings

# A shell without job control starts background commands with SIGINT ignored, and every process
# the tests start would inherit that: the Ctrl-C tests need children that Ctrl-C can stop.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# The int8 builtin model is built from the installed one (~10 s) into the models directory; every
# test's data directory would build it again. One directory for all runs: the cache is keyed by
# its inputs and hash-checked.
os.environ.setdefault(
    "RAGSERVE_MODELS_DIR", str(Path(tempfile.gettempdir()) / "ragserve-test-models")
)


@pytest.fixture(autouse=True, scope="module")
def _collect_garbage_per_module() -> Iterator[None]:
    """A file or socket leaked in a reference cycle warns (an error: ResourceWarning) only when
    the collector frees it: collect at the end of each module, so that the module that leaked it
    fails, not whichever later test the collector happened to run in."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process tests register many users; argon2 at its production cost would dominate."""
    from argon2 import PasswordHasher

    from ragserve import security

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(security, "_password_hasher", cheap)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", workers=0)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def runtime(client: TestClient) -> Runtime:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return runtime


class Account:
    """A registered user seen through the web API: its session token and an API token."""

    def __init__(self, client: TestClient, email: str, password: str = "secret-pw") -> None:
        self.client = client
        self.email = email
        self.password = password
        response = client.post(
            "/v1/user/register",
            json={"nickname": email.split("@")[0], "email": email, "password": password},
        )
        body = response.json()
        assert body["code"] == 0, body
        self.id: str = body["data"]["id"]
        self.session_token: str = response.headers["Authorization"]
        token = client.post("/v1/system/new_token", headers=self.web_headers).json()
        assert token["code"] == 0, token
        self.api_key: str = token["data"]["token"]

    @property
    def web_headers(self) -> dict[str, str]:
        return {"Authorization": self.session_token}

    @property
    def api_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, headers=self.web_headers, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.post(path, headers=self.web_headers, **kwargs)


@pytest.fixture
def alice(client: TestClient) -> Account:
    return Account(client, "alice@example.com")


@pytest.fixture
def bob(client: TestClient) -> Account:
    return Account(client, "bob@example.com")


@pytest.fixture(scope="session")
def pgvector_database_url() -> Iterator[str]:
    """A database with pgvector on a PostgreSQL server for the session (``helpers.pgvector``:
    an embedded server, or ``RAGSERVE_TEST_PGVECTOR_URL``'s)."""
    from helpers.pgvector import drop_database, new_database, pgvector_server

    with pgvector_server() as server_url:
        url = new_database(server_url)
        try:
            yield url
        finally:
            drop_database(server_url, url)


@pytest.fixture
def pgvector_url(pgvector_database_url: str) -> Iterator[str]:
    """A fresh, empty schema in the session's pgvector database: a URL whose connections use
    it."""
    from helpers.pgvector import drop_schema, new_schema

    url = new_schema(pgvector_database_url)
    yield url
    drop_schema(url)


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a moto S3 server for the session (``helpers.moto``)."""
    from helpers.moto import moto_server

    with moto_server(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint
