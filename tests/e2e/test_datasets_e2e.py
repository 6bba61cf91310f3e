"""Datasets and documents over real HTTP: concurrency, large and oversized bodies, file names,
malformed JSON. One server for the module, driven with httpx from a pool of threads."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

WORKERS = 20
CONCURRENT = 100
MiB = 1024 * 1024
BIG_FILE_MIB = 200
RSS_GROWTH_LIMIT = 150 * MiB
BIG_TIMEOUT = httpx.Timeout(600.0)
BODY_LIMIT = 1_000_000
MALFORMED = "Malformed JSON syntax: Missing commas/brackets or invalid encoding"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("datasets-e2e") / "home") as running:
        yield running


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Iterator[httpx.Client]:
    limits = httpx.Limits(max_connections=WORKERS, max_keepalive_connections=WORKERS)
    with httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {server.api_key}"},
        timeout=60.0,
        limits=limits,
    ) as http:
        yield http


def concurrently(call: Callable[[int], Any], count: int = CONCURRENT) -> list[Any]:
    """``call(0)`` … ``call(count - 1)`` on ``WORKERS`` threads, released together."""
    barrier = threading.Barrier(min(WORKERS, count))

    def run(index: int) -> Any:
        if index < WORKERS:
            barrier.wait(timeout=30)
        return call(index)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(run, range(count)))


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == 0, body
    return body.get("data")


def create_dataset(client: httpx.Client, name: str) -> str:
    dataset_id: str = ok(client.post("/api/v1/datasets", json={"name": name}))["id"]
    return dataset_id


def total_datasets(client: httpx.Client) -> int:
    response = client.get("/api/v1/datasets", params={"page_size": 1})
    ok(response)
    total: int = response.json()["total_datasets"]
    return total


def document_count(client: httpx.Client, dataset_id: str) -> int:
    [dataset] = ok(client.get("/api/v1/datasets", params={"id": dataset_id}))
    count: int = dataset["document_count"]
    return count


def listed_documents(client: httpx.Client, dataset_id: str) -> tuple[int, list[dict[str, Any]]]:
    """(``data.total``, every row), reading all pages."""
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        data = ok(
            client.get(
                f"/api/v1/datasets/{dataset_id}/documents",
                params={"page": page, "page_size": 100},
            )
        )
        rows.extend(data["docs"])
        if len(data["docs"]) < 100:
            return data["total"], rows
        page += 1


def upload(client: httpx.Client, dataset_id: str, name: str, content: bytes) -> dict[str, Any]:
    data = ok(
        client.post(f"/api/v1/datasets/{dataset_id}/documents", files={"file": (name, content)})
    )
    assert len(data) == 1
    document: dict[str, Any] = data[0]
    return document


def delete_documents(client: httpx.Client, dataset_id: str, ids: list[str]) -> dict[str, Any]:
    response = client.request(
        "DELETE", f"/api/v1/datasets/{dataset_id}/documents", json={"ids": ids}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def vm_kib(pid: int, field: str) -> int:
    """A ``VmRSS``-style line of ``/proc/<pid>/status``, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


class RssSampler:
    """The largest RSS of a process seen while the block runs (sampled every 20 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, vm_kib(self.pid, "VmRSS"))
            self._stop.wait(0.02)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kib = max(self.peak_kib, vm_kib(self.pid, "VmRSS"))


def files_under(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file()}


# --- concurrency -------------------------------------------------------------------------------


def test_concurrent_creates_with_one_name_get_distinct_names(client: httpx.Client) -> None:
    before = total_datasets(client)
    responses = concurrently(lambda _: client.post("/api/v1/datasets", json={"name": "race"}))
    created = [ok(response) for response in responses]
    names = [dataset["name"] for dataset in created]
    assert sorted(names) == sorted(["race"] + [f"race({n})" for n in range(1, CONCURRENT)])
    assert len({dataset["id"] for dataset in created}) == CONCURRENT
    assert total_datasets(client) == before + CONCURRENT
    for name in ("race", "race(50)", "race(99)"):
        [found] = ok(client.get("/api/v1/datasets", params={"name": name}))
        assert found["name"] == name


def test_concurrent_uploads_and_deletes_keep_counts_exact(client: httpx.Client) -> None:
    dataset_id = create_dataset(client, "upload-race")

    def upload_one(index: int) -> dict[str, Any]:
        return upload(client, dataset_id, "same.txt", f"file {index}\n".encode())

    documents = concurrently(upload_one)
    names = [document["name"] for document in documents]
    assert sorted(names) == sorted(["same.txt"] + [f"same({n}).txt" for n in range(1, 100)])
    assert len({document["id"] for document in documents}) == CONCURRENT
    assert document_count(client, dataset_id) == CONCURRENT
    total, rows = listed_documents(client, dataset_id)
    assert total == CONCURRENT
    assert {row["id"] for row in rows} == {document["id"] for document in documents}
    contents = {
        client.get(f"/api/v1/datasets/{dataset_id}/documents/{document['id']}").content
        for document in documents[:10]
    }
    assert len(contents) == 10  # each name got its own file

    ids = [document["id"] for document in documents]
    bodies = concurrently(lambda index: delete_documents(client, dataset_id, [ids[index]]))
    assert bodies == [{"code": 0}] * CONCURRENT
    assert document_count(client, dataset_id) == 0
    assert listed_documents(client, dataset_id) == (0, [])

    # Mixed: 50 old documents deleted while 50 new ones arrive, twice over.
    old = [upload(client, dataset_id, f"old-{n}.txt", b"old")["id"] for n in range(50)]
    for round_number in range(2):

        def mixed(index: int, old: list[str] = old, round_number: int = round_number) -> Any:
            if index % 2:
                return delete_documents(client, dataset_id, [old[index // 2]])
            return upload(client, dataset_id, f"new-{round_number}.txt", b"new")

        results = concurrently(mixed)
        assert all(result == {"code": 0} for result in results[1::2])
        new_ids = [result["id"] for result in results[0::2]]
        assert len(set(new_ids)) == 50
        total, rows = listed_documents(client, dataset_id)
        assert document_count(client, dataset_id) == total == len(rows) == 50
        assert {row["id"] for row in rows} == set(new_ids)
        old = new_ids


# --- big and oversized bodies ------------------------------------------------------------------


def test_200_mib_upload_streams_with_bounded_memory(
    server: RunningServer, client: httpx.Client, tmp_path: Path
) -> None:
    dataset_id = create_dataset(client, "big-upload")
    big = tmp_path / "big.txt"
    digest = hashlib.sha256()
    with big.open("wb") as out:
        for _ in range(BIG_FILE_MIB):
            chunk = os.urandom(MiB)
            digest.update(chunk)
            out.write(chunk)
    pid = server.process.pid
    rss_before = vm_kib(pid, "VmRSS") * 1024

    with RssSampler(pid) as during_upload, big.open("rb") as source:
        response = client.post(
            f"/api/v1/datasets/{dataset_id}/documents",
            files={"file": ("big.txt", source, "text/plain")},
            timeout=BIG_TIMEOUT,
        )
    [document] = ok(response)
    rss_after = vm_kib(pid, "VmRSS") * 1024
    assert document["size"] == BIG_FILE_MIB * MiB
    assert rss_after - rss_before < RSS_GROWTH_LIMIT, (rss_before, rss_after)
    assert during_upload.peak_kib * 1024 - rss_before < RSS_GROWTH_LIMIT
    [listed] = ok(
        client.get(f"/api/v1/datasets/{dataset_id}/documents", params={"id": document["id"]})
    )["docs"]
    assert listed["size"] == BIG_FILE_MIB * MiB

    received = hashlib.sha256()
    length = 0
    url = f"/api/v1/datasets/{dataset_id}/documents/{document['id']}"
    with RssSampler(pid) as during_download, client.stream("GET", url, timeout=BIG_TIMEOUT) as r:
        assert r.status_code == 200
        assert r.headers["content-length"] == str(BIG_FILE_MIB * MiB)
        for chunk in r.iter_bytes():
            received.update(chunk)
            length += len(chunk)
    assert length == BIG_FILE_MIB * MiB
    assert received.hexdigest() == digest.hexdigest()
    assert during_download.peak_kib * 1024 - rss_before < RSS_GROWTH_LIMIT
    assert delete_documents(client, dataset_id, [document["id"]]) == {"code": 0}


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("body-limit") / "home"
    with running_server(home, {"RAGSERVE_MAX_BODY_SIZE": str(BODY_LIMIT)}) as running:
        yield running


TOO_LARGE = {"code": 400, "message": f"Request body is too large: the limit is {BODY_LIMIT} bytes."}


def test_body_over_the_limit_gets_413_and_stores_nothing(small_server: RunningServer) -> None:
    headers = {"Authorization": f"Bearer {small_server.api_key}"}
    with httpx.Client(base_url=small_server.base_url, headers=headers, timeout=60) as http:
        dataset_id = create_dataset(http, "limited")
        documents_url = f"/api/v1/datasets/{dataset_id}/documents"

        response = http.post(documents_url, files={"file": ("big.txt", b"x" * 2_000_000)})
        assert response.status_code == 413
        assert response.json() == TOO_LARGE

        # Without a declared length (chunked), the body is counted as it arrives.
        boundary = "ragserve-test-boundary"

        def chunked() -> Iterator[bytes]:
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                'filename="chunked.txt"\r\nContent-Type: text/plain\r\n\r\n'
            ).encode()
            for _ in range(20):
                yield b"y" * 100_000
            yield f"\r\n--{boundary}--\r\n".encode()

        response = http.post(
            documents_url,
            content=chunked(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert response.status_code == 413
        assert response.json() == TOO_LARGE

        response = http.post(
            "/api/v1/datasets", json={"name": "n", "description": "d" * BODY_LIMIT}
        )
        assert response.status_code == 413
        assert response.json() == TOO_LARGE

        assert ok(http.get(documents_url)) == {"total": 0, "docs": []}
        assert [d["name"] for d in ok(http.get("/api/v1/datasets"))] == ["limited"]
        blobs = small_server.home / "blobs"
        assert not blobs.exists() or files_under(blobs) == set()
        # Just under the limit still works.
        assert upload(http, dataset_id, "fits.txt", b"z" * (BODY_LIMIT - 1000))["size"] == (
            BODY_LIMIT - 1000
        )
        assert ok(http.get(documents_url))["total"] == 1


# --- file names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("../../../escape.txt", "escape.txt"),
        ("..\\..\\windows.txt", "windows.txt"),
        ("/etc/absolute.txt", "absolute.txt"),
        ("a/b/../../../nested.txt", "nested.txt"),
        ("../" * 40 + "deep.txt", "deep.txt"),
    ],
)
def test_path_in_a_file_name_is_dropped(
    server: RunningServer, client: httpx.Client, sent: str, stored: str
) -> None:
    dataset_id = create_dataset(client, "names")
    everything = server.home.parent
    blobs = (server.home / "blobs").resolve()
    outside_before = {p for p in files_under(everything) if not p.resolve().is_relative_to(blobs)}
    content = f"content of {sent}".encode()

    document = upload(client, dataset_id, sent, content)

    assert document["name"] == stored
    [listed] = ok(client.get(f"/api/v1/datasets/{dataset_id}/documents", params={"name": stored}))[
        "docs"
    ]
    assert listed["id"] == document["id"]
    download = client.get(f"/api/v1/datasets/{dataset_id}/documents/{document['id']}")
    assert download.content == content
    outside_after = {p for p in files_under(everything) if not p.resolve().is_relative_to(blobs)}
    new_outside = {p for p in outside_after - outside_before if not p.name.startswith("ragserve")}
    assert new_outside == set()  # only the database's own files may appear
    assert not list(everything.rglob(stored.split(".")[0] + "*"))  # not under its own name
    for base in (Path("/"), Path.cwd(), server.home, server.home / "blobs"):
        assert not (base / stored).exists()
    stored_blobs = [p for p in files_under(blobs) if p.read_bytes() == content]
    assert len(stored_blobs) == 1
    assert stored_blobs[0].resolve().is_relative_to(blobs)


# --- malformed requests ------------------------------------------------------------------------


def unsupported(content_type: str) -> str:
    return f"Unsupported content type: Expected application/json, got {content_type}"


NOT_AN_OBJECT = "Invalid request payload: expected object, got "
FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("content", "content_type", "message"),
    [
        pytest.param(b'{"name": "x"', "application/json", MALFORMED, id="unclosed"),
        pytest.param(b"", "application/json", MALFORMED, id="empty"),
        pytest.param(b"   ", "application/json", MALFORMED, id="blank"),
        pytest.param(b"{'name': 'x'}", "application/json", MALFORMED, id="single-quotes"),
        pytest.param(b'{"name": "\xff\xfe"}', "application/json", MALFORMED, id="bad-utf8"),
        pytest.param(b"[" * 100_000, "application/json", MALFORMED, id="deep-list"),
        pytest.param(b'{"a":' * 50_000, "application/json", MALFORMED, id="deep-object"),
        pytest.param(b'"a string"', "application/json", NOT_AN_OBJECT + "str", id="string"),
        pytest.param(b"[1, 2]", "application/json", NOT_AN_OBJECT + "list", id="list"),
        pytest.param(b"42", "application/json", NOT_AN_OBJECT + "int", id="number"),
        pytest.param(b'{"name": "x"}', "text/plain", unsupported("text/plain"), id="text"),
        pytest.param(b"name=x", FORM, unsupported(FORM), id="form"),
        pytest.param(b"{}", "application/jsonx", unsupported("application/jsonx"), id="jsonx"),
    ],
)
def test_malformed_dataset_create_is_an_argument_error(
    client: httpx.Client, content: bytes, content_type: str | None, message: str
) -> None:
    before = total_datasets(client)
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = client.post("/api/v1/datasets", content=content, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"code": 101, "message": message}
    assert "Traceback" not in response.text and 'File "' not in response.text
    assert total_datasets(client) == before


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"{nope", MALFORMED, id="unclosed"),
        pytest.param(b"[" * 100_000, MALFORMED, id="deep-list"),
        pytest.param(b"[1]", NOT_AN_OBJECT + "list", id="list"),
    ],
)
def test_malformed_dataset_update_and_delete(
    client: httpx.Client, method: str, content: bytes, message: str
) -> None:
    dataset_id = create_dataset(client, "malformed-target")
    url = f"/api/v1/datasets/{dataset_id}" if method == "PUT" else "/api/v1/datasets"
    response = client.request(
        method, url, content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"code": 101, "message": message}
    assert "Traceback" not in response.text
    [still] = ok(client.get("/api/v1/datasets", params={"id": dataset_id}))
    assert still["name"].startswith("malformed-target")


def test_missing_content_type_is_an_argument_error(client: httpx.Client) -> None:
    response = client.post("/api/v1/datasets", content=b'{"name": "x"}')
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 101
    assert body["message"].startswith(unsupported(""))


def test_json_with_a_charset_is_accepted(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/datasets",
        content='{"name": "charset-ü"}'.encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert ok(response)["name"] == "charset-ü"
