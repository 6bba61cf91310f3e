"""One contract for every blob store backend, plus what only one backend can show."""

from __future__ import annotations

import gc
import hashlib
import io
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ragserve.blobs import (
    CHUNK_SIZE,
    BlobNotFound,
    BlobStore,
    BlobStoreError,
    InvalidBlobKey,
    LocalBlobStore,
    make_blob_store,
)
from ragserve.blobs.s3 import S3BlobStore
from ragserve.settings import Settings

MiB = 1024 * 1024
S3_PREFIX = "ragserve"
KEY = "tenant-1/dataset-1/doc-1"


class SourceFailed(Exception):
    """Raised by a test source stream in the middle of a put."""


class PatternSource:
    """A read-only stream of ``length`` pseudo-random bytes made on demand, hashing what it
    hands out and recording the largest read; raises SourceFailed after ``fail_after`` bytes."""

    _PATTERN = random.Random(7).randbytes(MiB + 7)

    def __init__(self, length: int, fail_after: int | None = None) -> None:
        self.length = length
        self.fail_after = fail_after
        self.position = 0
        self.largest_read = 0
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        if self.fail_after is not None and self.position >= self.fail_after:
            raise SourceFailed("source broke")
        if size < 0:
            size = self.length - self.position
        self.largest_read = max(self.largest_read, size)
        size = min(size, self.length - self.position)
        data = bytearray()
        while len(data) < size:
            start = (self.position + len(data)) % len(self._PATTERN)
            data += self._PATTERN[start : start + size - len(data)]
        self.position += size
        self.sha256.update(data)
        return bytes(data)


@pytest.fixture(params=["local", "s3"])
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """A fresh local store, or an S3 store on a new bucket of the session's moto server."""
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    store: S3BlobStore = request.getfixturevalue("make_s3_store")(prefix=S3_PREFIX)
    return store


@pytest.fixture
def stored_names(blob_store: BlobStore, request: pytest.FixtureRequest) -> Callable[[], set[str]]:
    """Lists everything the backend holds: every file under the root, or every object and
    unfinished multipart upload in the bucket."""
    if isinstance(blob_store, LocalBlobStore):
        root = blob_store.root
        return lambda: {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert isinstance(blob_store, S3BlobStore)
    client = request.getfixturevalue("s3_client")
    bucket = blob_store.bucket

    def listing() -> set[str]:
        objects = client.list_objects_v2(Bucket=bucket).get("Contents", [])
        uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        return {o["Key"].removeprefix(f"{S3_PREFIX}/") for o in objects} | {
            f"unfinished upload {u['Key']}" for u in uploads
        }

    return listing


def test_bytes_round_trip(blob_store: BlobStore) -> None:
    assert blob_store.put(KEY, b"hello blob") == 10
    assert blob_store.read(KEY) == b"hello blob"
    assert b"".join(blob_store.open(KEY)) == b"hello blob"


def test_file_object_round_trip(blob_store: BlobStore, tmp_path: Path) -> None:
    assert blob_store.put("t/d/from-bytesio", io.BytesIO(b"from memory")) == 11
    source = tmp_path / "upload.pdf"
    source.write_bytes(b"%PDF-1.7 from disk")
    with source.open("rb") as file:
        assert blob_store.put("t/d/from-file", file) == 18
    assert blob_store.read("t/d/from-bytesio") == b"from memory"
    assert blob_store.read("t/d/from-file") == b"%PDF-1.7 from disk"


def test_large_blob_streams_both_ways(blob_store: BlobStore) -> None:
    length = 20 * MiB + 123
    source = PatternSource(length)
    assert blob_store.put(KEY, source) == length
    assert 0 < source.largest_read <= CHUNK_SIZE
    assert blob_store.size(KEY) == length

    digest = hashlib.sha256()
    chunk_count = 0
    for chunk in blob_store.open(KEY):
        assert 0 < len(chunk) <= CHUNK_SIZE
        digest.update(chunk)
        chunk_count += 1
    assert digest.hexdigest() == source.sha256.hexdigest()
    assert chunk_count >= 21


def test_reader_holds_the_file_only_until_closed(blob_store: BlobStore) -> None:
    """A reader left unread, or stopped early, releases its file when closed: ResourceWarning
    is an error in pytest, so a file left to the garbage collector fails the test."""
    blob_store.put(KEY, PatternSource(2 * CHUNK_SIZE + 5))
    unread = blob_store.open(KEY)
    unread.close()
    unread.close()  # idempotent
    assert unread.closed and list(unread) == []

    with blob_store.open(KEY) as chunks:
        assert len(next(chunks)) == CHUNK_SIZE
    assert chunks.closed

    to_the_end = blob_store.open(KEY)
    assert sum(len(chunk) for chunk in to_the_end) == 2 * CHUNK_SIZE + 5
    assert to_the_end.closed
    gc.collect()


def test_empty_blob(blob_store: BlobStore) -> None:
    assert blob_store.put(KEY, b"") == 0
    assert blob_store.exists(KEY)
    assert blob_store.size(KEY) == 0
    assert blob_store.read(KEY) == b""
    assert b"".join(blob_store.open(KEY)) == b""


def test_overwrite_replaces(blob_store: BlobStore, stored_names: Callable[[], set[str]]) -> None:
    blob_store.put(KEY, b"first version, longer")
    blob_store.put(KEY, io.BytesIO(b"second"))
    assert blob_store.read(KEY) == b"second"
    assert blob_store.size(KEY) == 6
    assert stored_names() == {KEY}


def test_size_and_exists(blob_store: BlobStore) -> None:
    assert not blob_store.exists(KEY)
    blob_store.put(KEY, b"12345")
    assert blob_store.exists(KEY)
    assert blob_store.size(KEY) == 5


def test_missing_key_raises_not_found(blob_store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        blob_store.open(KEY)
    with pytest.raises(BlobNotFound):
        blob_store.read(KEY)
    with pytest.raises(BlobNotFound):
        blob_store.size(KEY)


def test_prefix_of_a_key_is_not_a_blob(blob_store: BlobStore) -> None:
    blob_store.put(KEY, b"x")
    prefix = KEY.rsplit("/", 1)[0]
    assert not blob_store.exists(prefix)
    with pytest.raises(BlobNotFound):
        blob_store.read(prefix)
    with pytest.raises(BlobNotFound):
        blob_store.size(prefix)
    blob_store.delete(prefix)
    assert blob_store.read(KEY) == b"x"


def test_delete_is_idempotent(blob_store: BlobStore) -> None:
    blob_store.put(KEY, b"x")
    blob_store.delete(KEY)
    assert not blob_store.exists(KEY)
    blob_store.delete(KEY)
    blob_store.delete("never/stored/key")


def test_delete_prefix_deletes_only_that_prefix(
    blob_store: BlobStore, stored_names: Callable[[], set[str]]
) -> None:
    doomed = ["a/x/1", "a/x/2", "a/y/3"]
    kept = ["ab/x/1", "b/a/1", "a1"]
    for key in doomed + kept:
        blob_store.put(key, key.encode())

    assert blob_store.delete_prefix("a") == 3
    assert stored_names() == set(kept)
    assert blob_store.delete_prefix("a") == 0
    assert blob_store.delete_prefix("ab/x") == 1
    assert stored_names() == {"b/a/1", "a1"}


INVALID_KEYS = [
    "../x",
    "a/../b",
    "/abs",
    "a//b",
    "a/",
    "a\\b",
    "",
    ".",
    "a/./b",
    "x\x00y",
    "..",
    "a" * 513,
    "t/d/r\u00e9sum\u00e9.pdf",
    "a\n",
    ".hidden",
    "a/" + "b" * 256,
]


@pytest.mark.parametrize("key", INVALID_KEYS)
def test_invalid_keys_are_rejected(
    blob_store: BlobStore, stored_names: Callable[[], set[str]], key: str
) -> None:
    with pytest.raises(InvalidBlobKey):
        blob_store.put(key, b"x")
    with pytest.raises(InvalidBlobKey):
        blob_store.open(key)
    with pytest.raises(InvalidBlobKey):
        blob_store.read(key)
    with pytest.raises(InvalidBlobKey):
        blob_store.exists(key)
    with pytest.raises(InvalidBlobKey):
        blob_store.delete(key)
    with pytest.raises(InvalidBlobKey):
        blob_store.delete_prefix(key)
    assert stored_names() == set()


def test_longest_key_is_accepted(blob_store: BlobStore) -> None:
    key = "a" * 255 + "/" + "b" * 254 + "/c"
    assert len(key) == 512
    blob_store.put(key, b"x")
    assert blob_store.read(key) == b"x"


def test_failing_source_leaves_nothing_behind(
    blob_store: BlobStore, stored_names: Callable[[], set[str]]
) -> None:
    with pytest.raises(SourceFailed):
        blob_store.put(KEY, PatternSource(20 * MiB, fail_after=10 * MiB))
    assert not blob_store.exists(KEY)
    assert stored_names() == set()

    blob_store.put(KEY, b"previous")
    with pytest.raises(SourceFailed):
        blob_store.put(KEY, PatternSource(20 * MiB, fail_after=10 * MiB))
    assert blob_store.read(KEY) == b"previous"
    assert stored_names() == {KEY}


def test_check_passes(blob_store: BlobStore) -> None:
    blob_store.check()


# Local backend only.


def test_local_check_fails_when_root_cannot_be_a_directory(tmp_path: Path) -> None:
    parent = tmp_path / "parent"
    store = LocalBlobStore(parent / "blobs")
    store.check()
    (parent / "blobs").rmdir()
    parent.rmdir()
    parent.write_bytes(b"a regular file")
    with pytest.raises(BlobStoreError):
        store.check()
    with pytest.raises(BlobStoreError):
        LocalBlobStore(parent / "blobs")


def test_local_paths_never_escape_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store = LocalBlobStore(tmp_path / "blobs")
    (store.root / "tenant").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidBlobKey):
        store.put("tenant/d/doc", b"x")
    with pytest.raises(InvalidBlobKey):
        store.read("tenant/d/doc")
    with pytest.raises(InvalidBlobKey):
        store.delete_prefix("tenant")
    assert list(outside.iterdir()) == []


def test_local_key_cannot_also_be_a_prefix(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    store.put("a/b", b"x")
    with pytest.raises(BlobStoreError):
        store.put("a", b"y")
    with pytest.raises(BlobStoreError):
        store.put("a/b/c", b"z")
    assert store.read("a/b") == b"x"
    assert [p.name for p in store.root.rglob("*") if p.is_file()] == ["b"]


# S3 backend only.


def test_s3_keys_live_under_the_prefix(
    make_s3_store: Callable[..., S3BlobStore], s3_client: Any
) -> None:
    store = make_s3_store(prefix="/nested/prefix/")
    store.put(KEY, b"x")
    listed = s3_client.list_objects_v2(Bucket=store.bucket)["Contents"]
    assert [o["Key"] for o in listed] == [f"nested/prefix/{KEY}"]


def test_s3_delete_prefix_works_in_batches(
    make_s3_store: Callable[..., S3BlobStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ragserve.blobs.s3.DELETE_BATCH", 2)
    store = make_s3_store()
    for n in range(5):
        store.put(f"t/d/{n}", b"x")
    store.put("t/e/0", b"x")
    assert store.delete_prefix("t/d") == 5
    assert store.exists("t/e/0")


def test_s3_check_fails_without_bucket(make_s3_store: Callable[..., S3BlobStore]) -> None:
    with pytest.raises(BlobStoreError, match="no-such-bucket"):
        make_s3_store(bucket="no-such-bucket").check()


# Factory.


def test_factory_defaults_to_local_store(tmp_path: Path) -> None:
    store = make_blob_store(Settings(home=tmp_path))
    assert isinstance(store, LocalBlobStore)
    assert store.root == (tmp_path / "blobs").resolve()


def test_factory_builds_working_s3_store(
    make_s3_store: Callable[..., S3BlobStore], moto_endpoint: str
) -> None:
    bucket = make_s3_store().bucket
    settings = Settings(
        blob_backend="s3",
        s3_bucket=bucket,
        s3_prefix="p",
        s3_endpoint_url=moto_endpoint,
        s3_region="us-east-1",
        s3_access_key_id="testing",
        s3_secret_access_key="testing",
    )
    store = make_blob_store(settings)
    assert isinstance(store, S3BlobStore)
    assert store.prefix == "p/"
    store.put(KEY, b"via settings")
    assert store.read(KEY) == b"via settings"


def test_factory_rejects_s3_without_bucket() -> None:
    with pytest.raises(ValueError, match="s3_bucket"):
        make_blob_store(Settings(blob_backend="s3"))
