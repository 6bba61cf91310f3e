"""Constants and helpers shared by the document API tests (spec 2.2: upload, list, update,
download, delete).

Besides RAGFlow's behaviour these pin our deliberate deviations: invisible datasets are 102,
refused uploads store nothing, names are reduced to their last path component, types are also
detected by content, downloads of empty files succeed, list time filters apply before
pagination, deletes never reach into another dataset, and other tenants' ids look unknown.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from conftest import Account
from ragserve.db.models import Document, UserTenant
from ragserve.runtime import Runtime

MALFORMED_JSON = "Malformed JSON syntax: Missing commas/brackets or invalid encoding"
UNSUPPORTED = "This type of file has not been supported yet!"
UPLOAD_KEYS = {
    "id",
    "name",
    "dataset_id",
    "chunk_method",
    "pipeline_id",
    "parser_config",
    "created_by",
    "type",
    "source_type",
    "suffix",
    "location",
    "size",
    "thumbnail",
    "run",
}
DOCUMENT_KEYS = {
    "id",
    "thumbnail",
    "dataset_id",
    "chunk_method",
    "pipeline_id",
    "parser_config",
    "source_type",
    "type",
    "created_by",
    "name",
    "location",
    "size",
    "token_count",
    "chunk_count",
    "progress",
    "progress_msg",
    "process_begin_at",
    "process_duration",
    "meta_fields",
    "suffix",
    "run",
    "status",
    "create_time",
    "create_date",
    "update_time",
    "update_date",
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(32))
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(20)


# --------------------------------------------------------------------------------------------
# helpers


def new_id() -> str:
    return uuid.uuid1().hex


def docs_url(dataset_id: str, document_id: str | None = None) -> str:
    url = f"/api/v1/datasets/{dataset_id}/documents"
    return url if document_id is None else f"{url}/{document_id}"


def make_dataset(account: Account, **fields: Any) -> str:
    body = {"name": f"ds-{uuid.uuid4().hex[:8]}", **fields}
    result = account.client.post("/api/v1/datasets", json=body, headers=account.api_headers)
    payload = result.json()
    assert payload["code"] == 0, payload
    dataset_id: str = payload["data"]["id"]
    return dataset_id


def get_dataset(account: Account, dataset_id: str) -> dict[str, Any]:
    result = account.client.get(
        "/api/v1/datasets", params={"id": dataset_id}, headers=account.api_headers
    ).json()
    assert result["code"] == 0, result
    dataset: dict[str, Any] = result["data"][0]
    return dataset


def upload(account: Account, dataset_id: str, *files: tuple[str, bytes]) -> dict[str, Any]:
    """POST the files as repeated ``file`` parts; the parsed response body."""
    response = account.client.post(
        docs_url(dataset_id),
        files=[("file", (name, content)) for name, content in files],
        headers=account.api_headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def upload_one(
    account: Account, dataset_id: str, name: str = "a.txt", content: bytes = b"hello world"
) -> dict[str, Any]:
    body = upload(account, dataset_id, (name, content))
    assert body["code"] == 0, body
    assert len(body["data"]) == 1
    document: dict[str, Any] = body["data"][0]
    return document


def raw_upload(account: Account, dataset_id: str, disposition: bytes) -> dict[str, Any]:
    """An upload with a hand-written part header (httpx drops an empty ``filename``)."""
    body = (
        b'--BOUNDARY\r\nContent-Disposition: form-data; name="file"; '
        + disposition
        + b"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--BOUNDARY--\r\n"
    )
    headers = {**account.api_headers, "Content-Type": "multipart/form-data; boundary=BOUNDARY"}
    result: dict[str, Any] = account.client.post(
        docs_url(dataset_id), content=body, headers=headers
    ).json()
    return result


def list_docs(account: Account, dataset_id: str, **params: Any) -> dict[str, Any]:
    response = account.client.get(docs_url(dataset_id), params=params, headers=account.api_headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def listed(account: Account, dataset_id: str, **params: Any) -> list[dict[str, Any]]:
    body = list_docs(account, dataset_id, **params)
    assert body["code"] == 0, body
    docs: list[dict[str, Any]] = body["data"]["docs"]
    return docs


def listed_names(account: Account, dataset_id: str, **params: Any) -> list[str]:
    return [doc["name"] for doc in listed(account, dataset_id, **params)]


def one_doc(account: Account, dataset_id: str, document_id: str) -> dict[str, Any]:
    docs = listed(account, dataset_id, id=document_id)
    assert len(docs) == 1
    return docs[0]


def update(
    account: Account, dataset_id: str, document_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = account.client.put(
        docs_url(dataset_id, document_id), json=body, headers=account.api_headers
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def delete(account: Account, dataset_id: str, body: Any = None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    response = account.client.request(
        "DELETE", docs_url(dataset_id), headers=account.api_headers, **kwargs
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def download(account: Account, dataset_id: str, document_id: str) -> Any:
    return account.client.get(docs_url(dataset_id, document_id), headers=account.api_headers)


def set_document(runtime: Runtime, document_id: str, **values: Any) -> None:
    """Change stored columns directly (run, progress, counts, create_time …)."""
    with runtime.transaction() as session:
        document = session.scalars(select(Document).where(Document.id == document_id)).one()
        for key, value in values.items():
            setattr(document, key, value)


def join_tenant(runtime: Runtime, member: Account, owner: Account, role: str) -> None:
    with runtime.transaction() as session:
        session.add(UserTenant(user_id=member.id, tenant_id=owner.id, role=role))


def blob_key(tenant_id: str, dataset_id: str, document_id: str) -> str:
    return f"{tenant_id}/{dataset_id}/{document_id}"


def stored_files(runtime: Runtime) -> list[Path]:
    root: Path = runtime.blobs.root  # type: ignore[attr-defined]
    return [path for path in root.rglob("*") if path.is_file()]


def without(text: str, *ids: str) -> str:
    for value in ids:
        text = text.replace(value, "<ID>")
    return text


def condition(*conditions: dict[str, Any], logic: str = "and") -> str:
    return json.dumps({"logic": logic, "conditions": list(conditions)})


def call(account: Account, endpoint: str, dataset_id: str, document_id: str) -> dict[str, Any]:
    if endpoint == "upload":
        return upload(account, dataset_id, ("x.txt", b"x"))
    if endpoint == "list":
        return list_docs(account, dataset_id)
    if endpoint == "list_by_id":
        return list_docs(account, dataset_id, id=document_id)
    if endpoint == "download":
        result: dict[str, Any] = download(account, dataset_id, document_id).json()
        return result
    if endpoint == "update":
        return update(account, dataset_id, document_id, {"name": "x.txt"})
    if endpoint == "delete":
        return delete(account, dataset_id, {"ids": [document_id]})
    if endpoint == "delete_all":
        return delete(account, dataset_id, {"ids": []})
    raise AssertionError(endpoint)


ENDPOINTS = ["upload", "list", "list_by_id", "download", "update", "delete", "delete_all"]
