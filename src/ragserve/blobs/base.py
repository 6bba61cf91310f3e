"""The blob store interface, its errors and the key rules every backend enforces.

A key is up to 512 characters of ``/``-separated segments such as
``<tenant_id>/<dataset_id>/<document_id>``. Segments start with an ASCII letter or digit and
hold only ``[A-Za-z0-9._-]``, so no key can name ``.``, ``..``, an absolute path or a hidden
file; backends use names starting with ``.`` for their own temporary files. A key must not
also be the prefix of other keys: the local backend keeps prefixes as directories.
"""

from __future__ import annotations

import io
import re
import reprlib
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import BinaryIO, Protocol

CHUNK_SIZE = 1024 * 1024
MAX_KEY_LENGTH = 512
MAX_SEGMENT_LENGTH = 255
_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_KEY = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")


class BlobStoreError(Exception):
    """The store failed or cannot be used."""


class BlobNotFound(BlobStoreError):
    """No blob is stored under the key."""


class InvalidBlobKey(BlobStoreError, ValueError):
    """The key breaks the key rules, or resolves outside the store."""


class BlobReader(Iterator[bytes]):
    """A blob's content in chunks of at most ``CHUNK_SIZE`` bytes. It holds its file or stream
    open until it is read to the end, a read fails, or ``close()`` is called; a caller that may
    stop early reads it in ``with store.open(key) as chunks:``. Never left to the garbage
    collector (pytest turns the ResourceWarning into a failure)."""

    def __init__(
        self, read: Callable[[int], bytes], close: Callable[[], None], name: str = ""
    ) -> None:
        self._read: Callable[[int], bytes] | None = read
        self._close = close
        self.name = name

    def __iter__(self) -> BlobReader:
        return self

    def __next__(self) -> bytes:
        if self._read is None:
            raise StopIteration
        try:
            chunk = self._read(CHUNK_SIZE)
        except BaseException:
            self.close()
            raise
        if not chunk:
            self.close()
            raise StopIteration
        return chunk

    def close(self) -> None:
        """Release the file or stream; idempotent."""
        if self._read is not None:
            self._read = None
            self._close()

    @property
    def closed(self) -> bool:
        return self._read is None

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class BlobStore(Protocol):
    """Keeps uploaded files by key. Every method validates its key first."""

    name: str

    def put(self, key: str, data: BinaryIO | bytes) -> int:
        """Store ``data``, read in chunks, under ``key`` and return its length in bytes.

        Replaces any blob with the key atomically: readers see the old or the new content,
        never a mix, and a failed put (also one whose source raises) leaves nothing behind.
        """
        ...

    def open(self, key: str) -> BlobReader:
        """The content in chunks; raises BlobNotFound now. The caller reads it to the end or
        closes it (``with store.open(key) as chunks:``)."""
        ...

    def read(self, key: str) -> bytes:
        """The whole content; for small blobs only."""
        ...

    def size(self, key: str) -> int: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the blob; a missing key is not an error."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Remove every blob whose key starts with ``prefix + "/"`` and return how many."""
        ...

    def check(self) -> None:
        """Raise BlobStoreError if the store cannot be written or reached."""
        ...


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it follows the key rules, else raise InvalidBlobKey."""
    if (
        not 0 < len(key) <= MAX_KEY_LENGTH
        or not _KEY.fullmatch(key)
        or any(len(segment) > MAX_SEGMENT_LENGTH for segment in key.split("/"))
    ):
        raise InvalidBlobKey(
            f"invalid blob key {reprlib.repr(key)}: expected up to {MAX_KEY_LENGTH} characters "
            f"of '/'-separated segments matching {_SEGMENT}"
        )
    return key


def as_stream(data: BinaryIO | bytes) -> BinaryIO:
    """``data`` as a readable binary stream; bytes are wrapped without copying."""
    return io.BytesIO(data) if isinstance(data, bytes) else data
