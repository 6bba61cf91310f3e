"""Storage of uploaded files (documents, page images) by key, locally or in S3.

The S3 backend lives in ``ragserve.blobs.s3`` and is imported only when configured.
"""

from ragserve.blobs.base import (
    CHUNK_SIZE,
    BlobNotFound,
    BlobReader,
    BlobStore,
    BlobStoreError,
    InvalidBlobKey,
    validate_key,
)
from ragserve.blobs.factory import make_blob_store
from ragserve.blobs.local import LocalBlobStore

__all__ = [
    "CHUNK_SIZE",
    "BlobNotFound",
    "BlobReader",
    "BlobStore",
    "BlobStoreError",
    "InvalidBlobKey",
    "LocalBlobStore",
    "make_blob_store",
    "validate_key",
]
