"""S3 stores on fresh buckets of the session's moto server (``moto_endpoint``, tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from helpers.moto import S3_KEY_ID, S3_REGION, S3_SECRET
from ragserve.blobs.s3 import S3BlobStore


@pytest.fixture(scope="session")
def s3_client(moto_endpoint: str) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=S3_REGION,
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
    )


@pytest.fixture
def make_s3_store(moto_endpoint: str, s3_client: Any) -> Callable[..., S3BlobStore]:
    """Builds an S3BlobStore on a new bucket of the moto server, or on ``bucket`` as is."""

    def make(prefix: str = "", bucket: str | None = None) -> S3BlobStore:
        if bucket is None:
            bucket = f"test-{uuid.uuid4().hex}"
            s3_client.create_bucket(Bucket=bucket)
        return S3BlobStore(
            bucket,
            prefix=prefix,
            endpoint_url=moto_endpoint,
            region=S3_REGION,
            access_key_id=S3_KEY_ID,
            secret_access_key=S3_SECRET,
        )

    return make
