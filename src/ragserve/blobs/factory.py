"""Builds the blob store the settings ask for."""

from __future__ import annotations

from ragserve.blobs.base import BlobStore
from ragserve.blobs.local import LocalBlobStore
from ragserve.settings import Settings


def make_blob_store(settings: Settings) -> BlobStore:
    """The local store in ``resolved_blob_dir``, or the S3 store from the ``s3_*`` fields."""
    if settings.blob_backend == "local":
        return LocalBlobStore(settings.resolved_blob_dir)
    if not settings.s3_bucket:
        raise ValueError(
            "blob_backend is 's3' but no bucket is set: set s3_bucket (RAGSERVE_S3_BUCKET)"
        )
    from ragserve.blobs.s3 import S3BlobStore  # boto3 is slow to import; load it only for S3

    secret = settings.s3_secret_access_key
    return S3BlobStore(
        settings.s3_bucket,
        prefix=settings.s3_prefix,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=secret.get_secret_value() if secret is not None else None,
    )
