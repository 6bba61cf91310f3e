"""Blob store in a local directory: one file per key, directories for the key's prefixes."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

from ragserve.blobs.base import (
    CHUNK_SIZE,
    BlobNotFound,
    BlobReader,
    BlobStoreError,
    InvalidBlobKey,
    as_stream,
    validate_key,
)

_TEMP_PREFIX = ".tmp-"


class LocalBlobStore:
    """Blobs as files under ``root``, which is created if missing.

    A put writes a hidden temporary file next to the target, fsyncs it and renames it over
    the target, so readers never see partial content and a crash leaves at most a stray
    ``.tmp-*`` file, never a wrong blob.
    """

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BlobStoreError(f"cannot create blob directory {self.root}: {exc}") from exc

    def put(self, key: str, data: BinaryIO | bytes) -> int:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=_TEMP_PREFIX)
            temp = Path(temp_name)
            try:
                written = _write_synced(fd, as_stream(data))
                temp.replace(path)
            except BaseException:
                temp.unlink(missing_ok=True)
                raise
            _fsync_dir(path.parent)
        except OSError as exc:
            raise BlobStoreError(f"cannot write blob {key!r}: {exc}") from exc
        return written

    def open(self, key: str) -> BlobReader:
        path = self._path(key)
        try:
            file = path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise BlobNotFound(f"no blob with key {key!r}") from exc
        except OSError as exc:
            raise BlobStoreError(f"cannot read blob {key!r}: {exc}") from exc
        return BlobReader(file.read, file.close, key)

    def read(self, key: str) -> bytes:
        with self.open(key) as chunks:
            return b"".join(chunks)

    def size(self, key: str) -> int:
        try:
            info = self._path(key).stat()
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise BlobNotFound(f"no blob with key {key!r}") from exc
        except OSError as exc:
            raise BlobStoreError(f"cannot stat blob {key!r}: {exc}") from exc
        if not stat.S_ISREG(info.st_mode):
            raise BlobNotFound(f"no blob with key {key!r}")
        return info.st_size

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except (IsADirectoryError, NotADirectoryError):
            return
        except OSError as exc:
            raise BlobStoreError(f"cannot delete blob {key!r}: {exc}") from exc

    def delete_prefix(self, prefix: str) -> int:
        top = self._path(prefix)
        if not top.is_dir():
            return 0
        count = sum(
            1 for path in top.rglob("*") if path.is_file() and not path.name.startswith(".")
        )
        try:
            shutil.rmtree(top)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise BlobStoreError(f"cannot delete blobs under {prefix!r}: {exc}") from exc
        return count

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=_TEMP_PREFIX) as probe:
                probe.write(b"ok")
                probe.flush()
        except OSError as exc:
            raise BlobStoreError(f"blob directory {self.root} is not writable: {exc}") from exc

    def _path(self, key: str) -> Path:
        """The file of ``key``, after checking that symlinks do not lead it out of root."""
        path = (self.root / validate_key(key)).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise InvalidBlobKey(f"blob key {key!r} resolves outside {self.root}")
        return path


def _write_synced(fd: int, source: BinaryIO) -> int:
    """Copy ``source`` to the file ``fd`` in chunks, fsync and close it; return the length."""
    written = 0
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(CHUNK_SIZE):
            out.write(chunk)
            written += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return written


def _fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
