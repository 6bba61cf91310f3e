"""Blob store in an S3 bucket or an S3-compatible service, through boto3."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ragserve.blobs.base import (
    CHUNK_SIZE,
    BlobNotFound,
    BlobReader,
    BlobStoreError,
    as_stream,
    validate_key,
)

DELETE_BATCH = 1000
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def _transfer_config() -> TransferConfig:
    """Multipart parts of 8 MiB, at most 4 in flight and 4 buffered per upload; boto3's
    constructor has no argument for the buffer limit (default 10)."""
    config = TransferConfig(max_concurrency=4)
    config.max_in_memory_upload_chunks = 4
    return config


_TRANSFER = _transfer_config()


class S3BlobStore:
    """Blobs as objects named ``<prefix>/<key>`` (``<key>`` if no prefix) in ``bucket``,
    which must already exist.

    S3 makes each PUT and each completed multipart upload visible atomically; a failed
    multipart upload is aborted. Credentials, region and endpoint fall back to boto3's own
    configuration when not given.
    """

    name = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=_client_config(endpoint_url),
        )

    def put(self, key: str, data: BinaryIO | bytes) -> int:
        source = _FullReads(as_stream(data))
        with _s3_errors(f"cannot write blob {key!r}"):
            self.client.upload_fileobj(source, self.bucket, self._object(key), Config=_TRANSFER)
        return source.count

    def open(self, key: str) -> BlobReader:
        with _s3_errors(f"cannot read blob {key!r}", missing_key=key):
            body = self.client.get_object(Bucket=self.bucket, Key=self._object(key))["Body"]

        def read(size: int) -> bytes:
            with _s3_errors(f"cannot read blob {key!r}"):
                chunk: bytes = body.read(size)
            return chunk

        return BlobReader(read, body.close, key)

    def read(self, key: str) -> bytes:
        with self.open(key) as chunks:
            return b"".join(chunks)

    def size(self, key: str) -> int:
        with _s3_errors(f"cannot stat blob {key!r}", missing_key=key):
            head = self.client.head_object(Bucket=self.bucket, Key=self._object(key))
        return int(head["ContentLength"])

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except BlobNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        with _s3_errors(f"cannot delete blob {key!r}"):
            self.client.delete_object(Bucket=self.bucket, Key=self._object(key))

    def delete_prefix(self, prefix: str) -> int:
        """Delete listed pages until the listing is empty, so no continuation token is needed."""
        object_prefix = self._object(prefix) + "/"
        count = 0
        with _s3_errors(f"cannot delete blobs under {prefix!r}"):
            while True:
                page = self.client.list_objects_v2(
                    Bucket=self.bucket, Prefix=object_prefix, MaxKeys=DELETE_BATCH
                )
                objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if not objects:
                    return count
                result = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
                )
                if result.get("Errors"):
                    raise BlobStoreError(
                        f"cannot delete blobs under {prefix!r}: {result['Errors'][0]}"
                    )
                count += len(objects)

    def check(self) -> None:
        with _s3_errors(f"bucket {self.bucket!r} is not usable"):
            self.client.head_bucket(Bucket=self.bucket)

    def _object(self, key: str) -> str:
        return self.prefix + validate_key(key)


def _client_config(endpoint_url: str | None) -> Config:
    """Retry throttling and transient errors; on S3-compatible services send checksums only
    where S3 requires them, since many reject the ones boto3 adds by default."""
    only_required = {
        "request_checksum_calculation": "when_required",
        "response_checksum_validation": "when_required",
    }
    return Config(
        retries={"mode": "standard", "max_attempts": 5},
        **(only_required if endpoint_url else {}),
    )


class _FullReads:
    """Counts the bytes read and fills every read to the size asked for unless at the end.

    s3transfer sends each read as one multipart part, and S3 rejects parts under 5 MiB
    before the last one, so short reads from a socket-like source must be joined.
    """

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        parts: list[bytes] = []
        wanted = size if size >= 0 else None
        got = 0
        while wanted is None or got < wanted:
            step = CHUNK_SIZE if wanted is None else min(CHUNK_SIZE, wanted - got)
            part = self._source.read(step)
            if not part:
                break
            parts.append(part)
            got += len(part)
        self.count += got
        return b"".join(parts)


@contextmanager
def _s3_errors(message: str, *, missing_key: str | None = None) -> Iterator[None]:
    """Turn boto errors into BlobStoreError, and "no such key" into BlobNotFound."""
    try:
        yield
    except ClientError as exc:
        if missing_key is not None and exc.response.get("Error", {}).get("Code") in _MISSING_CODES:
            raise BlobNotFound(f"no blob with key {missing_key!r}") from exc
        raise BlobStoreError(f"{message}: {exc}") from exc
    except BotoCoreError as exc:
        raise BlobStoreError(f"{message}: {exc}") from exc
