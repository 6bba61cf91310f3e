"""Documents of a dataset over HTTP (spec 2.2): upload, list, update, download, delete.

Besides RAGFlow's behaviour these pin our deliberate deviations: invisible datasets are 102,
refused uploads store nothing, names are reduced to their last path component, types are also
detected by content, downloads of empty files succeed, list time filters apply before
pagination, deletes never reach into another dataset, and other tenants' ids look unknown.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from conftest import Account
from ragserve.db.models import Document, TenantRole, UserTenant
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


# --------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture
def dataset(alice: Account) -> str:
    return make_dataset(alice)


@pytest.fixture
def bob_doc(bob: Account) -> tuple[str, str]:
    """Bob's dataset and one document in it."""
    dataset_id = make_dataset(bob)
    return dataset_id, upload_one(bob, dataset_id, "secret.txt", b"bob's secret")["id"]


@pytest.fixture
def team_dataset(runtime: Runtime, alice: Account, bob: Account) -> str:
    """Alice's `team` dataset; bob is a normal member of alice's tenant."""
    join_tenant(runtime, bob, alice, TenantRole.NORMAL)
    return make_dataset(alice, permission="team")


# --------------------------------------------------------------------------------------------
# upload


def test_upload_response_shape(alice: Account, dataset: str) -> None:
    body = upload(alice, dataset, ("notes.txt", b"some notes"))
    assert set(body) == {"code", "data"}
    assert body["code"] == 0
    [doc] = body["data"]
    assert set(doc) == UPLOAD_KEYS
    assert len(doc["id"]) == 32 and int(doc["id"], 16) >= 0
    assert doc["name"] == doc["location"] == "notes.txt"
    assert doc["dataset_id"] == dataset
    assert doc["created_by"] == alice.id
    assert doc["type"] == "doc"
    assert doc["suffix"] == "txt"
    assert doc["size"] == len(b"some notes")
    assert doc["source_type"] == "local"
    assert doc["thumbnail"] == ""
    assert doc["run"] == "UNSTART"
    assert doc["pipeline_id"] is None


def test_upload_copies_dataset_method_and_parser_config(alice: Account) -> None:
    config = {"chunk_token_num": 777, "delimiter": "##"}
    dataset_id = make_dataset(alice, chunk_method="book", parser_config=config)
    dataset_config = get_dataset(alice, dataset_id)["parser_config"]
    doc = upload_one(alice, dataset_id, "a.txt")
    assert doc["chunk_method"] == "book"
    assert doc["parser_config"] == dataset_config
    assert doc["parser_config"]["chunk_token_num"] == 777


def test_upload_stores_the_bytes_in_the_blob_store(
    runtime: Runtime, alice: Account, dataset: str
) -> None:
    content = os.urandom(3000)
    doc = upload_one(alice, dataset, "data.pdf", content)
    key = blob_key(alice.id, dataset, doc["id"])
    assert runtime.blobs.exists(key)
    assert runtime.blobs.read(key) == content


def test_upload_several_files_in_one_request(alice: Account, dataset: str) -> None:
    body = upload(alice, dataset, ("a.txt", b"a"), ("b.md", b"# b"), ("c.pdf", PDF))
    assert body["code"] == 0
    assert [doc["name"] for doc in body["data"]] == ["a.txt", "b.md", "c.pdf"]
    assert len({doc["id"] for doc in body["data"]}) == 3
    assert sorted(listed_names(alice, dataset)) == ["a.txt", "b.md", "c.pdf"]


@pytest.mark.parametrize(
    ("name", "content", "file_type", "suffix"),
    [
        ("report.pdf", PDF, "pdf", "pdf"),
        ("REPORT.PDF", PDF, "pdf", "pdf"),
        ("letter.docx", ZIP, "doc", "docx"),
        ("table.csv", b"a,b\n1,2\n", "doc", "csv"),
        ("script.py", b"print(1)\n", "doc", "py"),
        ("page.html", b"<html></html>", "doc", "html"),
        ("song.mp3", b"ID3\x03\x00\x00\x00", "aural", "mp3"),
        ("photo.JPG", b"\xff\xd8\xff\xe0", "visual", "jpg"),
        ("clip.mp4", bytes(16), "visual", "mp4"),
        ("archive.tar.txt", b"text", "doc", "txt"),
    ],
)
def test_upload_type_by_extension(
    alice: Account, dataset: str, name: str, content: bytes, file_type: str, suffix: str
) -> None:
    doc = upload_one(alice, dataset, name, content)
    assert (doc["type"], doc["suffix"], doc["name"]) == (file_type, suffix, name)


@pytest.mark.parametrize(
    ("name", "content", "file_type", "suffix"),
    [
        ("noext", b"just some plain text\n", "doc", "txt"),
        ("README", "Grüße, 世界\n".encode(), "doc", "txt"),
        ("blob", PDF, "pdf", "pdf"),
        ("picture", PNG, "visual", "png"),
        ("notes.unknownext", b"text behind an unknown extension", "doc", "txt"),
    ],
)
def test_upload_type_by_content_when_extension_missing_or_unknown(
    alice: Account, dataset: str, name: str, content: bytes, file_type: str, suffix: str
) -> None:
    doc = upload_one(alice, dataset, name, content)
    assert (doc["type"], doc["suffix"]) == (file_type, suffix)
    assert doc["name"] == name


@pytest.mark.parametrize(
    ("name", "content", "method"),
    [
        ("photo.png", PNG, "picture"),
        ("scan", PNG, "picture"),
        ("movie.mov", bytes(8), "picture"),
        ("talk.wav", b"RIFF\x00\x00\x00\x00WAVE", "audio"),
        ("slides.pptx", ZIP, "presentation"),
        ("slides.ppt", bytes(8), "presentation"),
        ("deck.pages", ZIP, "presentation"),
        ("mail.eml", b"From: a@b\n\nhi", "email"),
        ("mail.msg", bytes(8), "email"),
        ("paper.pdf", PDF, "qa"),
        ("text.txt", b"x", "qa"),
    ],
)
def test_upload_chunk_method_by_file_kind(
    alice: Account, name: str, content: bytes, method: str
) -> None:
    dataset_id = make_dataset(alice, chunk_method="qa")
    assert upload_one(alice, dataset_id, name, content)["chunk_method"] == method


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("../evil.txt", "evil.txt"),
        ("../../../../etc/evil.txt", "evil.txt"),
        ("dir\\evil.txt", "evil.txt"),
        ("C:\\Users\\x\\evil.txt", "evil.txt"),
        ("a/b/c/evil.txt", "evil.txt"),
        ("/abs/evil.txt", "evil.txt"),
        ("  evil.txt  ", "evil.txt"),
    ],
)
def test_upload_keeps_only_the_last_path_component(
    alice: Account, dataset: str, sent: str, stored: str
) -> None:
    doc = upload_one(alice, dataset, sent)
    assert doc["name"] == doc["location"] == stored
    assert listed_names(alice, dataset) == [stored]


@pytest.mark.parametrize(
    "disposition",
    [b'filename=""', b'filename="dir/"', b'filename="../"', b'filename="   "'],
)
def test_upload_empty_file_name_is_no_file_selected(
    runtime: Runtime, alice: Account, dataset: str, disposition: bytes
) -> None:
    assert raw_upload(alice, dataset, disposition) == {
        "code": 101,
        "message": "No file selected!",
    }
    assert list_docs(alice, dataset)["data"]["total"] == 0
    assert stored_files(runtime) == []


def test_upload_empty_name_among_good_files_stores_nothing(
    runtime: Runtime, alice: Account, dataset: str
) -> None:
    body = upload(alice, dataset, ("good.txt", b"x"), ("dir/", b"y"))
    assert body == {"code": 101, "message": "No file selected!"}
    assert list_docs(alice, dataset)["data"]["total"] == 0
    assert stored_files(runtime) == []


def test_upload_without_any_body_is_no_file_part(alice: Account, dataset: str) -> None:
    response = alice.client.post(docs_url(dataset), headers=alice.api_headers)
    assert response.json() == {"code": 101, "message": "No file part!"}


def test_upload_with_only_a_text_field_is_no_file_part(alice: Account, dataset: str) -> None:
    response = alice.client.post(
        docs_url(dataset), data={"file": "not a file"}, headers=alice.api_headers
    )
    assert response.json() == {"code": 101, "message": "No file part!"}


def test_upload_under_another_part_name_is_no_file_part(alice: Account, dataset: str) -> None:
    response = alice.client.post(
        docs_url(dataset), files=[("document", ("a.txt", b"x"))], headers=alice.api_headers
    )
    assert response.json() == {"code": 101, "message": "No file part!"}
    assert list_docs(alice, dataset)["data"]["total"] == 0


@pytest.mark.parametrize(
    "name",
    [
        "a" * 251 + ".txt",  # 255 bytes
        "é" * 125 + ".txt",  # 254 bytes
        "报" * 83 + ".txt",  # 253 bytes
        "d" * 400 + "/short.txt",  # only the last component counts
    ],
)
def test_upload_name_up_to_255_bytes_is_accepted(alice: Account, dataset: str, name: str) -> None:
    doc = upload_one(alice, dataset, name)
    assert doc["name"] == name.rsplit("/", 1)[-1]


@pytest.mark.parametrize("name", ["a" * 252 + ".txt", "é" * 126 + ".txt", "报" * 84 + ".txt"])
def test_upload_name_over_255_bytes_is_refused(
    runtime: Runtime, alice: Account, dataset: str, name: str
) -> None:
    body = upload(alice, dataset, ("ok.txt", b"x"), (name, b"y"))
    assert body == {"code": 101, "message": "File name must be 255 bytes or less."}
    assert list_docs(alice, dataset)["data"]["total"] == 0
    assert stored_files(runtime) == []


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("program.exe", EXE),
        ("archive.zip", ZIP),
        ("noext", EXE),
        ("blob", ZIP),
        ("data.bin", bytes(range(256))),
        ("empty", b""),
    ],
)
def test_upload_unsupported_file_is_refused(
    runtime: Runtime, alice: Account, dataset: str, name: str, content: bytes
) -> None:
    body = upload(alice, dataset, (name, content))
    assert body == {"code": 500, "message": f"{name}: {UNSUPPORTED}"}
    assert list_docs(alice, dataset)["data"]["total"] == 0
    assert stored_files(runtime) == []


def test_upload_with_one_unsupported_file_stores_nothing(
    runtime: Runtime, alice: Account, dataset: str
) -> None:
    body = upload(
        alice,
        dataset,
        ("good.txt", b"fine"),
        ("bad1.exe", EXE),
        ("good.pdf", PDF),
        ("bad2.zip", ZIP),
    )
    assert body == {
        "code": 500,
        "message": f"bad1.exe: {UNSUPPORTED}\nbad2.zip: {UNSUPPORTED}",
    }
    assert list_docs(alice, dataset)["data"] == {"total": 0, "docs": []}
    assert stored_files(runtime) == []
    assert get_dataset(alice, dataset)["document_count"] == 0


def test_upload_refusal_names_the_cleaned_file_name(alice: Account, dataset: str) -> None:
    body = upload(alice, dataset, ("../../tmp/x.exe", EXE))
    assert body == {"code": 500, "message": f"x.exe: {UNSUPPORTED}"}


def test_upload_duplicate_names_are_numbered(alice: Account, dataset: str) -> None:
    assert upload_one(alice, dataset, "a.txt")["name"] == "a.txt"
    assert upload_one(alice, dataset, "a.txt")["name"] == "a(1).txt"
    assert upload_one(alice, dataset, "a.txt")["name"] == "a(2).txt"
    assert sorted(listed_names(alice, dataset)) == ["a(1).txt", "a(2).txt", "a.txt"]


def test_upload_duplicate_names_within_one_request(alice: Account, dataset: str) -> None:
    body = upload(alice, dataset, ("a.txt", b"1"), ("a.txt", b"2"), ("dir/a.txt", b"3"))
    assert body["code"] == 0
    assert [doc["name"] for doc in body["data"]] == ["a.txt", "a(1).txt", "a(2).txt"]
    contents = {doc["name"]: download(alice, dataset, doc["id"]).content for doc in body["data"]}
    assert contents == {"a.txt": b"1", "a(1).txt": b"2", "a(2).txt": b"3"}


def test_upload_duplicate_name_compare_is_case_sensitive(alice: Account, dataset: str) -> None:
    assert upload_one(alice, dataset, "a.txt")["name"] == "a.txt"
    assert upload_one(alice, dataset, "A.txt")["name"] == "A.txt"
    assert upload_one(alice, dataset, "a.TXT")["name"] == "a.TXT"


def test_upload_duplicate_name_without_extension(alice: Account, dataset: str) -> None:
    assert upload_one(alice, dataset, "README", b"text")["name"] == "README"
    assert upload_one(alice, dataset, "README", b"text")["name"] == "README(1)"


def test_upload_duplicate_of_a_255_byte_name_stays_within_255_bytes(
    alice: Account, dataset: str
) -> None:
    name = "x" * 251 + ".txt"
    upload_one(alice, dataset, name)
    renamed = upload_one(alice, dataset, name)["name"]
    assert renamed == "x" * 248 + "(1).txt"
    assert len(renamed.encode()) == 255


def test_upload_third_duplicate_of_a_255_byte_name(alice: Account, dataset: str) -> None:
    name = "x" * 251 + ".txt"
    upload_one(alice, dataset, name)
    upload_one(alice, dataset, name)
    body = upload(alice, dataset, (name, b"third"))
    assert body["code"] == 0, body
    assert body["data"][0]["name"] == "x" * 248 + "(2).txt"


def test_upload_duplicates_of_a_long_name_in_one_request(alice: Account, dataset: str) -> None:
    name = "é" * 125 + ".txt"  # 254 bytes
    body = upload(alice, dataset, (name, b"1"), (name, b"2"), (name, b"3"))
    assert body["code"] == 0, body
    names = [doc["name"] for doc in body["data"]]
    assert len(set(names)) == 3
    assert all(len(n.encode()) <= 255 and n.endswith(".txt") for n in names)


@pytest.mark.parametrize(
    ("name", "renamed"), [(".gitignore", ".gitignore(1)"), (".env", ".env(1)")]
)
def test_upload_duplicate_dotfile_is_numbered_at_the_end(
    alice: Account, dataset: str, name: str, renamed: str
) -> None:
    # A leading dot does not start an extension (pathlib, and RAGFlow's duplicate_name).
    assert upload_one(alice, dataset, name, b"*.pyc\n")["name"] == name
    assert upload_one(alice, dataset, name, b"*.pyc\n")["name"] == renamed


def test_upload_same_name_in_two_datasets_is_not_renamed(alice: Account) -> None:
    first, second = make_dataset(alice), make_dataset(alice)
    assert upload_one(alice, first, "a.txt")["name"] == "a.txt"
    assert upload_one(alice, second, "a.txt")["name"] == "a.txt"


def test_upload_to_unknown_dataset(alice: Account) -> None:
    unknown = new_id()
    assert upload(alice, unknown, ("a.txt", b"x")) == {
        "code": 102,
        "message": f"Can't find the dataset with ID {unknown}!",
    }


def test_upload_to_another_tenants_dataset(runtime: Runtime, alice: Account, bob: Account) -> None:
    bobs = make_dataset(bob)
    assert upload(alice, bobs, ("a.txt", b"x")) == {
        "code": 102,
        "message": f"Can't find the dataset with ID {bobs}!",
    }
    assert list_docs(bob, bobs)["data"]["total"] == 0
    assert stored_files(runtime) == []


def test_upload_refused_checks_dataset_before_files(alice: Account) -> None:
    unknown = new_id()
    body = upload(alice, unknown, ("bad.exe", EXE))
    assert body == {"code": 102, "message": f"Can't find the dataset with ID {unknown}!"}


def test_upload_large_file_round_trips(alice: Account, dataset: str) -> None:
    content = os.urandom(3 * 1024 * 1024 + 17)
    doc = upload_one(alice, dataset, "big.pdf", content)
    assert doc["size"] == len(content)
    response = download(alice, dataset, doc["id"])
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(content))
    assert response.content == content


# --------------------------------------------------------------------------------------------
# unicode names


UNICODE_NAMES = [
    ("报告.txt", "%E6%8A%A5%E5%91%8A.txt"),
    ("😀 notes.md", "%F0%9F%98%80%20notes.md"),
    ("naïve café.txt", "na%C3%AFve%20caf%C3%A9.txt"),
    ("a;b,c.txt", "a%3Bb%2Cc.txt"),
]


@pytest.mark.parametrize(("name", "encoded"), UNICODE_NAMES)
def test_unicode_name_round_trips(alice: Account, dataset: str, name: str, encoded: str) -> None:
    content = f"content of {name}".encode()
    doc = upload_one(alice, dataset, name, content)
    assert doc["name"] == name
    assert listed_names(alice, dataset) == [name]
    assert listed_names(alice, dataset, name=name) == [name]
    response = download(alice, dataset, doc["id"])
    assert response.status_code == 200
    assert response.content == content
    disposition = response.headers["content-disposition"]
    assert disposition == f"attachment; filename*=UTF-8''{encoded}"
    assert unquote(disposition.split("''", 1)[1]) == name


def test_unicode_duplicate_names_are_numbered(alice: Account, dataset: str) -> None:
    assert upload_one(alice, dataset, "报告.txt")["name"] == "报告.txt"
    assert upload_one(alice, dataset, "报告.txt")["name"] == "报告(1).txt"


# --------------------------------------------------------------------------------------------
# download


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("a.txt", b"plain", "text/plain"),
        ("a.pdf", PDF, "application/pdf"),
        ("a.md", b"# md", "text/markdown"),
        ("a.csv", b"x,y", "text/csv"),
        ("a.json", b"{}", "application/json"),
        ("a.html", b"<p>", "text/html"),
        ("a.png", PNG, "image/png"),
        ("a.JPG", b"\xff\xd8\xff\xe0", "image/jpeg"),
        (
            "a.docx",
            ZIP,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("noext", b"plain text", "application/octet-stream"),
        ("blob", PDF, "application/octet-stream"),
    ],
)
def test_download_is_byte_identical_with_type_and_disposition(
    alice: Account, dataset: str, name: str, content: bytes, content_type: str
) -> None:
    doc = upload_one(alice, dataset, name, content)
    response = download(alice, dataset, doc["id"])
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-type"].split(";")[0] == content_type
    assert response.headers["content-disposition"] == f"attachment; filename*=UTF-8''{name}"
    assert response.headers["content-length"] == str(len(content))


def test_download_binary_content_is_not_altered(alice: Account, dataset: str) -> None:
    content = bytes(range(256)) * 64 + b"\r\n\r\n\x00"
    doc = upload_one(alice, dataset, "raw.pdf", content)
    assert download(alice, dataset, doc["id"]).content == content


def test_download_empty_file_is_200_with_empty_body(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "empty.txt", b"")
    assert doc["size"] == 0
    response = download(alice, dataset, doc["id"])
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "0"
    assert response.headers["content-disposition"] == "attachment; filename*=UTF-8''empty.txt"


def test_download_unknown_document(alice: Account, dataset: str) -> None:
    unknown = new_id()
    response = download(alice, dataset, unknown)
    assert response.json() == {
        "code": 102,
        "message": f"The dataset not own the document {unknown}.",
    }


def test_download_document_of_another_dataset(alice: Account) -> None:
    first, second = make_dataset(alice), make_dataset(alice)
    doc = upload_one(alice, first, "a.txt")
    assert download(alice, second, doc["id"]).json() == {
        "code": 102,
        "message": f"The dataset not own the document {doc['id']}.",
    }


def test_download_from_unknown_dataset(alice: Account) -> None:
    unknown = new_id()
    assert download(alice, unknown, new_id()).json() == {
        "code": 102,
        "message": f"You do not own the dataset {unknown}.",
    }


def test_download_from_another_tenants_dataset(alice: Account, bob_doc: tuple[str, str]) -> None:
    dataset_id, document_id = bob_doc
    response = download(alice, dataset_id, document_id)
    assert response.json() == {
        "code": 102,
        "message": f"You do not own the dataset {dataset_id}.",
    }
    assert b"secret" not in response.content


def test_download_after_rename_uses_the_new_name(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "old.txt", b"payload")
    assert update(alice, dataset, doc["id"], {"name": "new.txt"})["code"] == 0
    response = download(alice, dataset, doc["id"])
    assert response.content == b"payload"
    assert response.headers["content-disposition"] == "attachment; filename*=UTF-8''new.txt"


# --------------------------------------------------------------------------------------------
# team datasets


def test_team_member_sees_lists_and_downloads(
    alice: Account, bob: Account, team_dataset: str
) -> None:
    doc = upload_one(alice, team_dataset, "shared.txt", b"shared bytes")
    body = list_docs(bob, team_dataset)
    assert body["code"] == 0
    assert [d["id"] for d in body["data"]["docs"]] == [doc["id"]]
    response = download(bob, team_dataset, doc["id"])
    assert response.status_code == 200
    assert response.content == b"shared bytes"


def test_team_member_may_upload(
    runtime: Runtime, alice: Account, bob: Account, team_dataset: str
) -> None:
    doc = upload_one(bob, team_dataset, "from-bob.txt", b"hi")
    assert doc["created_by"] == bob.id
    assert doc["dataset_id"] == team_dataset
    assert runtime.blobs.exists(blob_key(alice.id, team_dataset, doc["id"]))
    assert listed_names(alice, team_dataset) == ["from-bob.txt"]


def test_team_member_may_not_update(alice: Account, bob: Account, team_dataset: str) -> None:
    doc = upload_one(alice, team_dataset, "shared.txt")
    assert update(bob, team_dataset, doc["id"], {"name": "mine.txt"}) == {
        "code": 102,
        "message": "You don't own the dataset.",
    }
    assert listed_names(alice, team_dataset) == ["shared.txt"]


def test_team_member_may_delete(
    runtime: Runtime, alice: Account, bob: Account, team_dataset: str
) -> None:
    doc = upload_one(alice, team_dataset, "shared.txt")
    assert delete(bob, team_dataset, {"ids": [doc["id"]]}) == {"code": 0}
    assert listed_names(alice, team_dataset) == []
    assert not runtime.blobs.exists(blob_key(alice.id, team_dataset, doc["id"]))


def test_member_does_not_see_owners_private_dataset(
    runtime: Runtime, alice: Account, bob: Account
) -> None:
    join_tenant(runtime, bob, alice, TenantRole.NORMAL)
    private = make_dataset(alice)  # permission "me"
    doc = upload_one(alice, private, "private.txt")
    assert list_docs(bob, private) == {
        "code": 102,
        "message": f"You don't own the dataset {private}. ",
    }
    assert download(bob, private, doc["id"]).json()["code"] == 102
    assert upload(bob, private, ("x.txt", b"x"))["code"] == 102


@pytest.mark.parametrize("role", [TenantRole.INVITE, "owner"])
def test_non_normal_roles_do_not_see_team_datasets(
    runtime: Runtime, alice: Account, bob: Account, role: str
) -> None:
    join_tenant(runtime, bob, alice, role)
    team = make_dataset(alice, permission="team")
    doc = upload_one(alice, team, "t.txt")
    assert list_docs(bob, team) == {
        "code": 102,
        "message": f"You don't own the dataset {team}. ",
    }
    assert upload(bob, team, ("x.txt", b"x")) == {
        "code": 102,
        "message": f"Can't find the dataset with ID {team}!",
    }
    assert download(bob, team, doc["id"]).json() == {
        "code": 102,
        "message": f"You do not own the dataset {team}.",
    }


def test_team_dataset_of_a_tenant_bob_is_not_in(alice: Account, bob: Account) -> None:
    team = make_dataset(alice, permission="team")
    assert list_docs(bob, team)["code"] == 102
    assert upload(bob, team, ("x.txt", b"x"))["code"] == 102


# --------------------------------------------------------------------------------------------
# list


def test_list_shape(alice: Account, dataset: str) -> None:
    uploaded = upload_one(alice, dataset, "a.txt", b"12345")
    body = list_docs(alice, dataset)
    assert set(body) == {"code", "data"}
    assert set(body["data"]) == {"total", "docs"}
    assert body["data"]["total"] == 1
    [doc] = body["data"]["docs"]
    assert set(doc) == DOCUMENT_KEYS | {"title"}
    assert doc["title"] is None
    assert doc["run"] == "UNSTART"
    assert doc["status"] == "1"
    assert doc["meta_fields"] == {}
    assert doc["chunk_count"] == doc["token_count"] == 0
    assert doc["progress"] == 0.0
    assert doc["progress_msg"] == ""
    assert doc["process_begin_at"] is None
    assert isinstance(doc["create_time"], int) and isinstance(doc["update_time"], int)
    assert doc["create_date"].endswith(" GMT")
    for key in UPLOAD_KEYS:
        assert doc[key] == uploaded[key], key


def test_list_empty_dataset(alice: Account, dataset: str) -> None:
    assert list_docs(alice, dataset) == {"code": 0, "data": {"total": 0, "docs": []}}


def test_list_only_this_datasets_documents(alice: Account) -> None:
    first, second = make_dataset(alice), make_dataset(alice)
    upload_one(alice, first, "one.txt")
    upload_one(alice, second, "two.txt")
    assert listed_names(alice, first) == ["one.txt"]
    assert listed_names(alice, second) == ["two.txt"]


@pytest.fixture
def five_docs(runtime: Runtime, alice: Account, dataset: str) -> list[str]:
    """Documents d1..d5 (sizes 1..5) with create_time 1000..5000; their ids in that order."""
    ids = []
    for number in range(1, 6):
        doc = upload_one(alice, dataset, f"d{number}.txt", b"x" * number)
        set_document(runtime, doc["id"], create_time=number * 1000)
        ids.append(doc["id"])
    return ids


def test_list_default_order_is_newest_first(
    alice: Account, dataset: str, five_docs: list[str]
) -> None:
    assert [d["id"] for d in listed(alice, dataset)] == list(reversed(five_docs))


def test_list_pagination(alice: Account, dataset: str, five_docs: list[str]) -> None:
    pages = [list_docs(alice, dataset, page=page, page_size=2)["data"] for page in (1, 2, 3, 4)]
    assert [p["total"] for p in pages] == [5, 5, 5, 5]
    assert [[d["name"] for d in p["docs"]] for p in pages] == [
        ["d5.txt", "d4.txt"],
        ["d3.txt", "d2.txt"],
        ["d1.txt"],
        [],
    ]


def test_list_default_page_size_is_30(alice: Account, dataset: str) -> None:
    body = upload(alice, dataset, *[(f"f{i}.txt", b"x") for i in range(32)])
    assert body["code"] == 0
    data = list_docs(alice, dataset)["data"]
    assert data["total"] == 32
    assert len(data["docs"]) == 30


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "a"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"page": ""}, "page"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "-3"}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
    ],
)
def test_list_bad_paging_is_argument_error(
    alice: Account, dataset: str, params: dict[str, str], field: str
) -> None:
    body = list_docs(alice, dataset, **params)
    assert body["code"] == 101
    assert body["message"].startswith(f"Field: <{field}> - Message: <")
    assert "data" not in body


@pytest.mark.parametrize(
    "params",
    [
        {"page": 10**18, "page_size": 10**6},
        {"page": 10**30},
        {"page_size": 10**30},
        {"create_time_from": 10**30},
        {"create_time_to": 10**30},
    ],
)
def test_list_huge_numbers_are_not_server_errors(
    alice: Account, dataset: str, params: dict[str, int]
) -> None:
    upload_one(alice, dataset)
    response = alice.client.get(docs_url(dataset), params=params, headers=alice.api_headers)
    assert response.status_code == 200, response.text
    assert response.json()["code"] in (0, 101), response.json()


@pytest.mark.parametrize(
    ("orderby", "desc", "expected"),
    [
        ("name", "false", ["d1.txt", "d2.txt", "d3.txt", "d4.txt", "d5.txt"]),
        ("name", "true", ["d5.txt", "d4.txt", "d3.txt", "d2.txt", "d1.txt"]),
        ("size", "FALSE", ["d1.txt", "d2.txt", "d3.txt", "d4.txt", "d5.txt"]),
        ("size", "False", ["d1.txt", "d2.txt", "d3.txt", "d4.txt", "d5.txt"]),
        ("create_time", " false ", ["d1.txt", "d2.txt", "d3.txt", "d4.txt", "d5.txt"]),
        ("create_time", "0", ["d5.txt", "d4.txt", "d3.txt", "d2.txt", "d1.txt"]),
        ("create_time", "no", ["d5.txt", "d4.txt", "d3.txt", "d2.txt", "d1.txt"]),
        ("create_time", "", ["d5.txt", "d4.txt", "d3.txt", "d2.txt", "d1.txt"]),
        ("size", "anything", ["d5.txt", "d4.txt", "d3.txt", "d2.txt", "d1.txt"]),
    ],
)
def test_list_orderby_and_desc(
    alice: Account,
    dataset: str,
    five_docs: list[str],
    orderby: str,
    desc: str,
    expected: list[str],
) -> None:
    assert listed_names(alice, dataset, orderby=orderby, desc=desc) == expected


@pytest.mark.parametrize(
    ("orderby", "column"), [("chunk_num", "chunk_count"), ("token_num", "token_count")]
)
def test_list_orderby_accepts_ragflow_column_names(
    runtime: Runtime, alice: Account, dataset: str, orderby: str, column: str
) -> None:
    for number, name in ((2, "b.txt"), (3, "c.txt"), (1, "a.txt")):
        set_document(runtime, upload_one(alice, dataset, name)["id"], **{column: number})
    assert listed_names(alice, dataset, orderby=orderby, desc="false") == [
        "a.txt",
        "b.txt",
        "c.txt",
    ]
    assert listed_names(alice, dataset, orderby=column) == ["c.txt", "b.txt", "a.txt"]


@pytest.mark.parametrize("orderby", ["bogus", "meta_fields; DROP TABLE document", "parser_config"])
def test_list_unknown_orderby_is_argument_error(alice: Account, dataset: str, orderby: str) -> None:
    upload_one(alice, dataset)
    body = list_docs(alice, dataset, orderby=orderby)
    assert body["code"] == 101
    assert body["message"].startswith("Field: <orderby> - Message: <")
    assert f"Value: <{orderby}>" in body["message"]
    assert listed_names(alice, dataset) == ["a.txt"]


def test_list_keywords_are_case_insensitive_substrings(alice: Account, dataset: str) -> None:
    upload(
        alice,
        dataset,
        ("Annual Report.pdf", PDF),
        ("report-2024.txt", b"x"),
        ("notes.txt", b"x"),
    )
    assert sorted(listed_names(alice, dataset, keywords="REPORT")) == [
        "Annual Report.pdf",
        "report-2024.txt",
    ]
    assert listed_names(alice, dataset, keywords="nual rep") == ["Annual Report.pdf"]
    assert list_docs(alice, dataset, keywords="report")["data"]["total"] == 2
    assert listed_names(alice, dataset, keywords="zzz") == []


def test_list_keywords_wildcards_are_literal(alice: Account, dataset: str) -> None:
    upload(alice, dataset, ("a_b.txt", b"x"), ("axb.txt", b"x"), ("100%.txt", b"x"))
    assert listed_names(alice, dataset, keywords="a_b") == ["a_b.txt"]
    assert listed_names(alice, dataset, keywords="%") == ["100%.txt"]


def test_list_keywords_fold_non_ascii_case(alice: Account, dataset: str) -> None:
    upload(alice, dataset, ("Äpfel.txt", b"x"), ("ÉTÉ.txt", b"x"), ("other.txt", b"x"))
    assert listed_names(alice, dataset, keywords="äpfel") == ["Äpfel.txt"]
    assert listed_names(alice, dataset, keywords="été") == ["ÉTÉ.txt"]


def test_list_suffix_filter_is_repeatable(alice: Account, dataset: str) -> None:
    upload(alice, dataset, ("a.pdf", PDF), ("b.txt", b"x"), ("c.md", b"x"), ("d.PDF", PDF))
    assert sorted(listed_names(alice, dataset, suffix="pdf")) == ["a.pdf", "d.PDF"]
    assert sorted(listed_names(alice, dataset, suffix=["pdf", "md"])) == [
        "a.pdf",
        "c.md",
        "d.PDF",
    ]
    assert sorted(listed_names(alice, dataset, suffix="TXT")) == ["b.txt"]
    assert list_docs(alice, dataset, suffix=["txt", "md"])["data"]["total"] == 2


def test_list_suffix_of_content_detected_document(alice: Account, dataset: str) -> None:
    upload(alice, dataset, ("noext", b"plain"), ("blob", PDF))
    assert listed_names(alice, dataset, suffix="txt") == ["noext"]
    assert listed_names(alice, dataset, suffix="pdf") == ["blob"]


@pytest.fixture
def runs(runtime: Runtime, alice: Account, dataset: str) -> dict[str, str]:
    """One document per run code; name -> id."""
    names = {"0": "unstart.txt", "1": "running.txt", "3": "done.txt", "4": "fail.txt"}
    ids = {}
    for code, name in names.items():
        doc = upload_one(alice, dataset, name)
        set_document(runtime, doc["id"], run=code)
        ids[name] = doc["id"]
    return ids


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("DONE", ["done.txt"]),
        ("3", ["done.txt"]),
        ("done", ["done.txt"]),
        ("UNSTART", ["unstart.txt"]),
        ("0", ["unstart.txt"]),
        (["DONE", "FAIL"], ["done.txt", "fail.txt"]),
        (["1", "UNSTART"], ["running.txt", "unstart.txt"]),
        (["3", "DONE"], ["done.txt"]),
        ("CANCEL", []),
    ],
)
def test_list_run_filter_accepts_names_and_codes(
    alice: Account, dataset: str, runs: dict[str, str], run: Any, expected: list[str]
) -> None:
    assert sorted(listed_names(alice, dataset, run=run)) == expected


def test_list_run_names_in_output(alice: Account, dataset: str, runs: dict[str, str]) -> None:
    by_name = {doc["name"]: doc["run"] for doc in listed(alice, dataset)}
    assert by_name == {
        "unstart.txt": "UNSTART",
        "running.txt": "RUNNING",
        "done.txt": "DONE",
        "fail.txt": "FAIL",
    }


def test_list_shows_schedule_run_raw(runtime: Runtime, alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "s.txt")
    set_document(runtime, doc["id"], run="5")
    assert [d["run"] for d in listed(alice, dataset)] == ["5"]
    assert listed_names(alice, dataset, run="5") == ["s.txt"]


@pytest.mark.parametrize("run", ["bogus", "9", "SCHEDULED"])
def test_list_unknown_run_is_argument_error(alice: Account, dataset: str, run: str) -> None:
    body = list_docs(alice, dataset, run=run)
    assert body["code"] == 101
    assert body["message"].startswith("Field: <run")


def test_list_filter_by_id(alice: Account, dataset: str, five_docs: list[str]) -> None:
    docs = listed(alice, dataset, id=five_docs[2])
    assert [d["id"] for d in docs] == [five_docs[2]]
    assert list_docs(alice, dataset, id=five_docs[2])["data"]["total"] == 1


def test_list_filter_by_name_is_exact(alice: Account, dataset: str, five_docs: list[str]) -> None:
    assert listed_names(alice, dataset, name="d2.txt") == ["d2.txt"]
    assert list_docs(alice, dataset, name="d2") == {
        "code": 102,
        "message": "You don't own the document d2.",
    }


def test_list_unknown_id(alice: Account, dataset: str) -> None:
    unknown = new_id()
    assert list_docs(alice, dataset, id=unknown) == {
        "code": 102,
        "message": f"You don't own the document {unknown}.",
    }


def test_list_unknown_name(alice: Account, dataset: str) -> None:
    upload_one(alice, dataset, "a.txt")
    assert list_docs(alice, dataset, name="missing.txt") == {
        "code": 102,
        "message": "You don't own the document missing.txt.",
    }


def test_list_id_of_another_dataset_is_unknown(alice: Account) -> None:
    first, second = make_dataset(alice), make_dataset(alice)
    doc = upload_one(alice, first, "a.txt")
    assert list_docs(alice, second, id=doc["id"]) == {
        "code": 102,
        "message": f"You don't own the document {doc['id']}.",
    }


@pytest.mark.parametrize("param", ["id", "name"])
def test_list_empty_id_or_name_is_no_filter(
    alice: Account, dataset: str, five_docs: list[str], param: str
) -> None:
    # RAGFlow: `if document_id and ...` / `if name and ...`: an empty value filters nothing.
    body = list_docs(alice, dataset, **{param: ""})
    assert body["code"] == 0, body
    assert body["data"]["total"] == 5


def test_list_empty_metadata_condition_is_no_filter(
    alice: Account, dataset: str, five_docs: list[str]
) -> None:
    # RAGFlow: `if metadata_condition_raw:` — an empty value filters nothing.
    body = list_docs(alice, dataset, metadata_condition="")
    assert body["code"] == 0, body
    assert body["data"]["total"] == 5


def test_list_existing_id_excluded_by_other_filters_is_empty_not_error(
    alice: Account, dataset: str, five_docs: list[str]
) -> None:
    # RAGFlow checks that the id exists in the dataset, then applies the other filters.
    body = list_docs(alice, dataset, id=five_docs[0], suffix="pdf")
    assert body == {"code": 0, "data": {"total": 0, "docs": []}}


@pytest.mark.parametrize(
    ("params", "total", "names"),
    [
        ({"create_time_from": 2000, "create_time_to": 4000}, 3, ["d4.txt"]),
        ({"create_time_from": 3500}, 2, ["d5.txt"]),
        ({"create_time_to": 2000}, 2, ["d2.txt"]),
        ({"create_time_from": 0, "create_time_to": 0}, 5, ["d5.txt"]),
        ({"create_time_from": 6000}, 0, []),
        ({"create_time_from": 3000, "create_time_to": 3000}, 1, ["d3.txt"]),
    ],
)
def test_list_create_time_filters_apply_before_pagination(
    alice: Account,
    dataset: str,
    five_docs: list[str],
    params: dict[str, int],
    total: int,
    names: list[str],
) -> None:
    data = list_docs(alice, dataset, page_size=1, **params)["data"]
    assert data["total"] == total
    assert [d["name"] for d in data["docs"]] == names


def test_list_create_time_filter_second_page(
    alice: Account, dataset: str, five_docs: list[str]
) -> None:
    data = list_docs(alice, dataset, page=2, page_size=2, create_time_from=2000, desc="false")[
        "data"
    ]
    assert data["total"] == 4
    assert [d["name"] for d in data["docs"]] == ["d4.txt", "d5.txt"]


@pytest.mark.parametrize("param", ["create_time_from", "create_time_to"])
def test_list_bad_create_time_is_argument_error(alice: Account, dataset: str, param: str) -> None:
    body = list_docs(alice, dataset, **{param: "yesterday"})
    assert body["code"] == 101
    assert body["message"].startswith(f"Field: <{param}>")


def test_list_combined_filters(runtime: Runtime, alice: Account, dataset: str) -> None:
    body = upload(
        alice,
        dataset,
        ("report-a.pdf", PDF),
        ("report-b.txt", b"x"),
        ("report-c.pdf", PDF),
        ("other.pdf", PDF),
    )
    ids = {doc["name"]: doc["id"] for doc in body["data"]}
    set_document(runtime, ids["report-c.pdf"], run="3")
    assert listed_names(alice, dataset, keywords="report", suffix="pdf", run="UNSTART") == [
        "report-a.pdf"
    ]


@pytest.fixture
def tagged(alice: Account, dataset: str) -> dict[str, str]:
    """Three documents with meta_fields; name -> id."""
    metas = {
        "ml.txt": {"topic": "Machine Learning", "year": 2024, "tags": ["ai", "python"]},
        "db.txt": {"topic": "Databases", "year": 2019, "tags": ["sql"]},
        "bare.txt": {},
    }
    ids = {}
    for name, meta in metas.items():
        doc = upload_one(alice, dataset, name)
        assert update(alice, dataset, doc["id"], {"meta_fields": meta})["code"] == 0
        ids[name] = doc["id"]
    return ids


@pytest.mark.parametrize(
    ("metadata_condition", "expected"),
    [
        (
            condition({"name": "topic", "comparison_operator": "contains", "value": "learn"}),
            ["ml.txt"],
        ),
        (
            condition({"name": "topic", "comparison_operator": "is", "value": "databases"}),
            ["db.txt"],
        ),
        (condition({"name": "year", "comparison_operator": ">", "value": 2020}), ["ml.txt"]),
        (condition({"name": "year", "comparison_operator": "≤", "value": "2019"}), ["db.txt"]),
        (condition({"name": "tags", "comparison_operator": "contains", "value": "PY"}), ["ml.txt"]),
        (
            condition({"name": "topic", "comparison_operator": "in", "value": ["Databases", "x"]}),
            ["db.txt"],
        ),
        (
            condition(
                {"name": "topic", "comparison_operator": "contains", "value": "learn"},
                {"name": "year", "comparison_operator": "<", "value": 2000},
                logic="or",
            ),
            ["ml.txt"],
        ),
        (
            condition(
                {"name": "year", "comparison_operator": "<", "value": 2000},
                {"name": "topic", "comparison_operator": "contains", "value": "data"},
                logic="or",
            ),
            ["db.txt"],
        ),
        (
            condition(
                {"name": "topic", "comparison_operator": "contains", "value": "a"},
                {"name": "year", "comparison_operator": "=", "value": 2019},
            ),
            ["db.txt"],
        ),
        (condition({"name": "topic", "comparison_operator": "empty"}), ["bare.txt"]),
        (
            condition({"name": "topic", "comparison_operator": "not empty"}),
            ["db.txt", "ml.txt"],
        ),
        (condition(), ["bare.txt", "db.txt", "ml.txt"]),
    ],
)
def test_list_metadata_condition(
    alice: Account,
    dataset: str,
    tagged: dict[str, str],
    metadata_condition: str,
    expected: list[str],
) -> None:
    body = list_docs(alice, dataset, metadata_condition=metadata_condition)
    assert body["code"] == 0, body
    assert sorted(d["name"] for d in body["data"]["docs"]) == expected
    assert body["data"]["total"] == len(expected)


def test_list_metadata_condition_contains_is_field_contains_value(
    alice: Account, dataset: str, tagged: dict[str, str]
) -> None:
    # RAGFlow would test "Machine Learning" in "Machine Learning and more" (reverse semantics).
    cond = condition(
        {"name": "topic", "comparison_operator": "contains", "value": "Machine Learning and more"}
    )
    assert list_docs(alice, dataset, metadata_condition=cond) == {
        "code": 0,
        "data": {"total": 0, "docs": []},
    }


@pytest.mark.parametrize("raw", ["{not json", "{'logic': 'and'}", "[1,", '{"logic": }'])
def test_list_metadata_condition_bad_json(alice: Account, dataset: str, raw: str) -> None:
    assert list_docs(alice, dataset, metadata_condition=raw) == {
        "code": 102,
        "message": "metadata_condition must be valid JSON.",
    }


@pytest.mark.parametrize("raw", ["[]", "[1, 2]", '"text"', "3", "true"])
def test_list_metadata_condition_must_be_object(alice: Account, dataset: str, raw: str) -> None:
    assert list_docs(alice, dataset, metadata_condition=raw) == {
        "code": 102,
        "message": "metadata_condition must be an object.",
    }


@pytest.mark.parametrize(
    ("cond", "fragment"),
    [
        (
            condition({"name": "a", "comparison_operator": "foo", "value": 1}),
            "metadata_condition.conditions[0]: unknown comparison_operator 'foo'",
        ),
        (
            condition({"comparison_operator": "is", "value": 1}),
            "metadata_condition.conditions[0]",
        ),
        (
            condition({"name": "a", "value": 1}),
            "metadata_condition.conditions[0]",
        ),
        (
            condition({"name": "a", "comparison_operator": "is"}),
            "metadata_condition.conditions[0]",
        ),
        ('{"logic": "xor", "conditions": []}', "metadata_condition.logic"),
        ('{"conditions": "x"}', "metadata_condition.conditions"),
    ],
)
def test_list_bad_metadata_condition_is_argument_error(
    alice: Account, dataset: str, cond: str, fragment: str
) -> None:
    body = list_docs(alice, dataset, metadata_condition=cond)
    assert body["code"] == 101
    assert body["message"].startswith(fragment)


def test_list_of_unknown_dataset(alice: Account) -> None:
    unknown = new_id()
    assert list_docs(alice, unknown) == {
        "code": 102,
        "message": f"You don't own the dataset {unknown}. ",
    }


def test_list_of_another_tenants_dataset(alice: Account, bob_doc: tuple[str, str]) -> None:
    dataset_id, _ = bob_doc
    assert list_docs(alice, dataset_id) == {
        "code": 102,
        "message": f"You don't own the dataset {dataset_id}. ",
    }


# --------------------------------------------------------------------------------------------
# update


def test_update_returns_the_document_object(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    body = update(alice, dataset, doc["id"], {"meta_fields": {"k": "v"}})
    assert set(body) == {"code", "data"}
    assert body["code"] == 0
    assert set(body["data"]) == DOCUMENT_KEYS
    assert body["data"]["id"] == doc["id"]
    assert body["data"]["meta_fields"] == {"k": "v"}
    assert body["data"]["run"] == "UNSTART"


def test_update_empty_body_changes_nothing(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    before = one_doc(alice, dataset, doc["id"])
    body = update(alice, dataset, doc["id"], {})
    assert body["code"] == 0
    for key in ("name", "chunk_method", "parser_config", "meta_fields", "status", "run"):
        assert body["data"][key] == before[key]


def test_update_ignores_unknown_keys(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    body = update(alice, dataset, doc["id"], {"whatever": 1, "id": "x", "dataset_id": "y"})
    assert body["code"] == 0
    assert body["data"]["id"] == doc["id"]
    assert body["data"]["dataset_id"] == dataset


def test_update_unknown_dataset(alice: Account) -> None:
    assert update(alice, new_id(), new_id(), {"name": "x.txt"}) == {
        "code": 102,
        "message": "You don't own the dataset.",
    }


def test_update_another_tenants_dataset(alice: Account, bob: Account, bob_doc: Any) -> None:
    dataset_id, document_id = bob_doc
    assert update(alice, dataset_id, document_id, {"name": "stolen.txt"}) == {
        "code": 102,
        "message": "You don't own the dataset.",
    }
    assert listed_names(bob, dataset_id) == ["secret.txt"]


def test_update_unknown_document(alice: Account, dataset: str) -> None:
    assert update(alice, dataset, new_id(), {"name": "x.txt"}) == {
        "code": 102,
        "message": "The dataset doesn't own the document.",
    }


def test_update_document_of_another_dataset(alice: Account) -> None:
    first, second = make_dataset(alice), make_dataset(alice)
    doc = upload_one(alice, first, "a.txt")
    assert update(alice, second, doc["id"], {"name": "b.txt"}) == {
        "code": 102,
        "message": "The dataset doesn't own the document.",
    }
    assert listed_names(alice, first) == ["a.txt"]


@pytest.fixture
def parsed_doc(runtime: Runtime, alice: Account, dataset: str) -> str:
    """A document that looks parsed: run DONE, progress 1, counts set."""
    doc = upload_one(alice, dataset, "parsed.txt")
    set_document(
        runtime,
        doc["id"],
        run="3",
        progress=1.0,
        progress_msg="done",
        chunk_count=4,
        token_count=120,
    )
    return str(doc["id"])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("chunk_count", 5),
        ("chunk_count", 0),
        ("chunk_count", "4"),
        ("token_count", 121),
        ("token_count", None),
        ("progress", 0.5),
        ("progress", 0),
    ],
)
def test_update_read_only_fields_cannot_change(
    alice: Account, dataset: str, parsed_doc: str, field: str, value: Any
) -> None:
    assert update(alice, dataset, parsed_doc, {field: value}) == {
        "code": 102,
        "message": f"Can't change `{field}`.",
    }


@pytest.mark.parametrize(
    "body",
    [
        {"chunk_count": 4},
        {"token_count": 120},
        {"progress": 1.0},
        {"progress": 1},
        {"chunk_count": 4, "token_count": 120, "progress": 1.0},
    ],
)
def test_update_read_only_fields_with_equal_values_are_fine(
    alice: Account, dataset: str, parsed_doc: str, body: dict[str, Any]
) -> None:
    result = update(alice, dataset, parsed_doc, body)
    assert result["code"] == 0, result
    assert result["data"]["chunk_count"] == 4
    assert result["data"]["token_count"] == 120
    assert result["data"]["progress"] == 1.0


def test_update_meta_fields_replace_the_whole_object(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    update(alice, dataset, doc["id"], {"meta_fields": {"a": 1, "b": [1, 2]}})
    body = update(alice, dataset, doc["id"], {"meta_fields": {"c": "x"}})
    assert body["data"]["meta_fields"] == {"c": "x"}
    assert one_doc(alice, dataset, doc["id"])["meta_fields"] == {"c": "x"}
    assert update(alice, dataset, doc["id"], {"meta_fields": {}})["data"]["meta_fields"] == {}


@pytest.mark.parametrize("value", ["x", [1, 2], None, 3, True])
def test_update_meta_fields_must_be_a_dict(alice: Account, dataset: str, value: Any) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    assert update(alice, dataset, doc["id"], {"meta_fields": value}) == {
        "code": 102,
        "message": "meta_fields must be a dictionary",
    }


def test_update_rename(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "old.txt")
    body = update(alice, dataset, doc["id"], {"name": "new.txt"})
    assert body["code"] == 0
    assert body["data"]["name"] == body["data"]["location"] == "new.txt"
    listed_doc = one_doc(alice, dataset, doc["id"])
    assert listed_doc["name"] == listed_doc["location"] == "new.txt"
    # the old name is free again
    assert upload_one(alice, dataset, "old.txt")["name"] == "old.txt"


def test_update_rename_to_the_same_name(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "same.txt")
    assert update(alice, dataset, doc["id"], {"name": "same.txt"})["code"] == 0


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("a.txt", "a.pdf"),
        ("a.txt", "a"),
        ("a.txt", ""),
        ("a.txt", "a.txt.pdf"),
        ("a.txt", "txt"),
        ("README", "README.txt"),
        ("README", ""),
        ("a.tar.txt", "a.tar"),
    ],
)
def test_update_rename_cannot_change_the_extension(
    alice: Account, dataset: str, old: str, new: str
) -> None:
    doc = upload_one(alice, dataset, old, b"plain text")
    assert update(alice, dataset, doc["id"], {"name": new}) == {
        "code": 101,
        "message": "The extension of file can't be changed",
    }
    assert listed_names(alice, dataset) == [old]


@pytest.mark.parametrize(
    ("old", "new"),
    [("a.txt", "b.TXT"), ("a.PDF", "b.pdf"), ("README", "LICENSE"), ("a.b.txt", "c.txt")],
)
def test_update_rename_extension_compare_ignores_case(
    alice: Account, dataset: str, old: str, new: str
) -> None:
    content = PDF if old.lower().endswith(".pdf") else b"text"
    doc = upload_one(alice, dataset, old, content)
    body = update(alice, dataset, doc["id"], {"name": new})
    assert body["code"] == 0, body
    assert body["data"]["name"] == new


def test_update_rename_to_a_taken_name(alice: Account, dataset: str) -> None:
    upload_one(alice, dataset, "a.txt")
    doc = upload_one(alice, dataset, "b.txt")
    assert update(alice, dataset, doc["id"], {"name": "a.txt"}) == {
        "code": 102,
        "message": "Duplicated document name in the same dataset.",
    }
    assert sorted(listed_names(alice, dataset)) == ["a.txt", "b.txt"]


def test_update_rename_to_a_name_taken_in_another_dataset(alice: Account, dataset: str) -> None:
    other = make_dataset(alice)
    upload_one(alice, other, "a.txt")
    doc = upload_one(alice, dataset, "b.txt")
    assert update(alice, dataset, doc["id"], {"name": "a.txt"})["code"] == 0


def test_update_rename_changing_only_case_is_allowed(alice: Account, dataset: str) -> None:
    first = upload_one(alice, dataset, "a.txt")
    second = upload_one(alice, dataset, "b.txt")
    assert update(alice, dataset, first["id"], {"name": "A.txt"})["data"]["name"] == "A.txt"
    assert update(alice, dataset, second["id"], {"name": "a.txt"})["data"]["name"] == "a.txt"
    assert sorted(listed_names(alice, dataset)) == ["A.txt", "a.txt"]


@pytest.mark.parametrize("name", [5, None, ["a.txt"], {"n": "a.txt"}, True])
def test_update_name_must_be_a_string(alice: Account, dataset: str, name: Any) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    assert update(alice, dataset, doc["id"], {"name": name}) == {
        "code": 101,
        "message": "`name` must be a string.",
    }


@pytest.mark.parametrize("name", ["a" * 252 + ".txt", "é" * 126 + ".txt"])
def test_update_name_over_255_bytes(alice: Account, dataset: str, name: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    assert update(alice, dataset, doc["id"], {"name": name}) == {
        "code": 101,
        "message": "File name must be 255 bytes or less.",
    }


def test_update_name_of_255_bytes_is_fine(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    name = "é" * 125 + "x.txt"
    assert len(name.encode()) == 255
    assert update(alice, dataset, doc["id"], {"name": name})["data"]["name"] == name


def test_update_unicode_rename(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    assert update(alice, dataset, doc["id"], {"name": "文档 📄.txt"})["data"]["name"] == (
        "文档 📄.txt"
    )
    assert listed_names(alice, dataset, name="文档 📄.txt") == ["文档 📄.txt"]


def test_update_failed_request_changes_nothing(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    body = {"meta_fields": {"k": "v"}, "enabled": False, "name": "a.pdf"}
    assert update(alice, dataset, doc["id"], body)["code"] == 101
    current = one_doc(alice, dataset, doc["id"])
    assert current["meta_fields"] == {}
    assert current["status"] == "1"
    assert current["name"] == "a.txt"


@pytest.mark.parametrize(
    ("method", "message"),
    [
        ("xyz", "`chunk_method` xyz doesn't exist"),
        ("", "`chunk_method`  doesn't exist"),
        ("audio", "`chunk_method` audio doesn't exist"),
        ("resume", "`chunk_method` resume doesn't exist"),
        ("NAIVE", "`chunk_method` NAIVE doesn't exist"),
        (5, "`chunk_method` 5 doesn't exist"),
    ],
)
def test_update_unknown_chunk_method(
    alice: Account, dataset: str, method: Any, message: str
) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    assert update(alice, dataset, doc["id"], {"chunk_method": method}) == {
        "code": 102,
        "message": message,
    }


@pytest.mark.parametrize(
    ("name", "content", "method"),
    [
        ("photo.png", PNG, "naive"),
        ("photo.png", PNG, "picture"),
        ("scan", PNG, "one"),
        ("clip.mp4", bytes(8), "naive"),
        ("slides.pptx", ZIP, "naive"),
        ("slides.ppt", bytes(8), "presentation"),
        ("deck.pages", ZIP, "book"),
    ],
)
def test_update_chunk_method_of_pictures_and_slides_is_not_supported(
    alice: Account, dataset: str, name: str, content: bytes, method: str
) -> None:
    doc = upload_one(alice, dataset, name, content)
    assert update(alice, dataset, doc["id"], {"chunk_method": method}) == {
        "code": 102,
        "message": "Not supported yet!",
    }
    assert one_doc(alice, dataset, doc["id"])["chunk_method"] == doc["chunk_method"]


def test_update_chunk_method_resets_the_parse_state(
    alice: Account, dataset: str, parsed_doc: str
) -> None:
    body = update(alice, dataset, parsed_doc, {"chunk_method": "qa"})
    assert body["code"] == 0, body
    doc = body["data"]
    assert doc["chunk_method"] == "qa"
    assert doc["run"] == "UNSTART"
    assert doc["progress"] == 0.0
    assert doc["progress_msg"] == ""
    listed_doc = one_doc(alice, dataset, parsed_doc)
    assert (listed_doc["chunk_method"], listed_doc["run"], listed_doc["progress"]) == (
        "qa",
        "UNSTART",
        0.0,
    )


def test_update_same_chunk_method_keeps_the_parse_state(
    alice: Account, dataset: str, parsed_doc: str
) -> None:
    before = one_doc(alice, dataset, parsed_doc)
    doc = update(alice, dataset, parsed_doc, {"chunk_method": "naive"})["data"]
    assert (doc["run"], doc["progress"], doc["chunk_count"]) == ("DONE", 1.0, 4)
    assert doc["parser_config"] == before["parser_config"]


def test_update_chunk_method_merges_the_method_defaults(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    original = doc["parser_config"]
    config = update(alice, dataset, doc["id"], {"chunk_method": "qa"})["data"]["parser_config"]
    assert config["raptor"]["use_raptor"] is False
    assert config["graphrag"]["use_graphrag"] is False
    # merged, not replaced: keys of the old config survive
    assert config["raptor"]["prompt"] == original["raptor"]["prompt"]
    assert config["graphrag"]["entity_types"] == original["graphrag"]["entity_types"]
    assert config["chunk_token_num"] == original["chunk_token_num"]
    assert config["llm_id"] == original["llm_id"]
    assert config["table_context_size"] == 0


def test_update_chunk_method_to_knowledge_graph_defaults(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    body = update(alice, dataset, doc["id"], {"chunk_method": "knowledge_graph"})
    config = body["data"]["parser_config"]
    assert config["chunk_token_num"] == 8192
    assert config["delimiter"] == "\\n"
    assert config["entity_types"] == ["organization", "person", "location", "event", "time"]
    assert config["raptor"]["use_raptor"] is False


def test_update_chunk_method_with_parser_config_skips_the_defaults(
    alice: Account, dataset: str
) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    body = update(
        alice, dataset, doc["id"], {"chunk_method": "qa", "parser_config": {"chunk_token_num": 99}}
    )
    config = body["data"]["parser_config"]
    assert body["data"]["chunk_method"] == "qa"
    assert config["chunk_token_num"] == 99
    assert config["raptor"]["use_raptor"] is True  # the qa default was not merged in


def test_update_parser_config_is_deep_merged(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    original = doc["parser_config"]
    patch = {"raptor": {"max_token": 100}, "chunk_token_num": 1024, "extra_key": "x"}
    config = update(alice, dataset, doc["id"], {"parser_config": patch})["data"]["parser_config"]
    assert config["raptor"] == {**original["raptor"], "max_token": 100}
    assert config["chunk_token_num"] == 1024
    assert config["extra_key"] == "x"
    assert config["graphrag"] == original["graphrag"]
    assert config["delimiter"] == original["delimiter"]
    assert one_doc(alice, dataset, doc["id"])["parser_config"] == config


def test_update_parser_config_without_raptor_keeps_raptor(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    config = update(alice, dataset, doc["id"], {"parser_config": {"chunk_token_num": 256}})["data"][
        "parser_config"
    ]
    assert config["raptor"] == doc["parser_config"]["raptor"]


def test_update_parser_config_must_be_a_dict(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    assert update(alice, dataset, doc["id"], {"parser_config": "x"}) == {
        "code": 102,
        "message": "parser_config must be a dictionary",
    }


def test_update_parser_config_does_not_touch_the_dataset(alice: Account, dataset: str) -> None:
    before = get_dataset(alice, dataset)["parser_config"]
    doc = upload_one(alice, dataset, "a.txt")
    update(alice, dataset, doc["id"], {"parser_config": {"chunk_token_num": 3}})
    assert get_dataset(alice, dataset)["parser_config"] == before
    assert upload_one(alice, dataset, "b.txt")["parser_config"] == before


@pytest.mark.parametrize(("enabled", "status"), [(False, "0"), (0, "0"), (True, "1"), (1, "1")])
def test_update_enabled_sets_status(
    alice: Account, dataset: str, enabled: Any, status: str
) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    if status == "1":
        update(alice, dataset, doc["id"], {"enabled": False})
    assert update(alice, dataset, doc["id"], {"enabled": enabled})["data"]["status"] == status
    assert one_doc(alice, dataset, doc["id"])["status"] == status


def test_update_run_schedule_is_shown_as_null(
    runtime: Runtime, alice: Account, dataset: str
) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    set_document(runtime, doc["id"], run="5")
    assert update(alice, dataset, doc["id"], {})["data"]["run"] is None


def test_update_several_fields_at_once(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    body = {
        "name": "b.txt",
        "meta_fields": {"author": "alice"},
        "chunk_method": "manual",
        "enabled": False,
    }
    data = update(alice, dataset, doc["id"], body)["data"]
    assert (data["name"], data["meta_fields"], data["chunk_method"], data["status"]) == (
        "b.txt",
        {"author": "alice"},
        "manual",
        "0",
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{bad json", MALFORMED_JSON),
        (
            b'{"name": "a.txt",}',
            MALFORMED_JSON,
        ),
        (b"\xff\xfe{}", MALFORMED_JSON),
        (b"[1, 2]", "Invalid request payload: expected object, got list"),
        (b'"name"', "Invalid request payload: expected object, got str"),
    ],
)
def test_update_malformed_json(alice: Account, dataset: str, raw: bytes, message: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    response = alice.client.put(
        docs_url(dataset, doc["id"]),
        content=raw,
        headers={**alice.api_headers, "Content-Type": "application/json"},
    )
    assert response.json() == {"code": 101, "message": message}


# --------------------------------------------------------------------------------------------
# delete


def test_delete_some_documents(runtime: Runtime, alice: Account, dataset: str) -> None:
    body = upload(alice, dataset, ("a.txt", b"a"), ("b.txt", b"b"), ("c.txt", b"c"))
    ids = {doc["name"]: doc["id"] for doc in body["data"]}
    assert delete(alice, dataset, {"ids": [ids["a.txt"], ids["c.txt"]]}) == {"code": 0}
    assert listed_names(alice, dataset) == ["b.txt"]
    assert not runtime.blobs.exists(blob_key(alice.id, dataset, ids["a.txt"]))
    assert not runtime.blobs.exists(blob_key(alice.id, dataset, ids["c.txt"]))
    assert runtime.blobs.exists(blob_key(alice.id, dataset, ids["b.txt"]))


@pytest.mark.parametrize("body", [None, {}, {"ids": None}, {"ids": []}, {"other": 1}])
def test_delete_without_ids_deletes_every_document(
    runtime: Runtime, alice: Account, dataset: str, body: Any
) -> None:
    other = make_dataset(alice)
    kept = upload_one(alice, other, "kept.txt")
    docs = upload(alice, dataset, ("a.txt", b"a"), ("b.txt", b"b"))["data"]
    assert delete(alice, dataset, body) == {"code": 0}
    assert list_docs(alice, dataset)["data"] == {"total": 0, "docs": []}
    for doc in docs:
        assert not runtime.blobs.exists(blob_key(alice.id, dataset, doc["id"]))
    assert listed_names(alice, other) == ["kept.txt"]
    assert runtime.blobs.exists(blob_key(alice.id, other, kept["id"]))


def test_delete_all_of_an_empty_dataset(alice: Account, dataset: str) -> None:
    assert delete(alice, dataset, {"ids": []}) == {"code": 0}


def test_delete_unknown_ids_still_deletes_the_others(
    runtime: Runtime, alice: Account, dataset: str
) -> None:
    docs = upload(alice, dataset, ("a.txt", b"a"), ("b.txt", b"b"))["data"]
    unknown = new_id()
    body = delete(alice, dataset, {"ids": [docs[0]["id"], unknown]})
    assert body == {"code": 102, "message": f"Documents not found: ['{unknown}']"}
    assert listed_names(alice, dataset) == ["b.txt"]
    assert not runtime.blobs.exists(blob_key(alice.id, dataset, docs[0]["id"]))


def test_delete_lists_every_unknown_id_in_order(alice: Account, dataset: str) -> None:
    first, second = new_id(), new_id()
    assert delete(alice, dataset, {"ids": [first, second]}) == {
        "code": 102,
        "message": f"Documents not found: ['{first}', '{second}']",
    }


def test_delete_ids_of_another_dataset_are_not_found_and_kept(
    runtime: Runtime, alice: Account
) -> None:
    first, second = make_dataset(alice), make_dataset(alice)
    mine = upload_one(alice, first, "mine.txt")
    elsewhere = upload_one(alice, second, "elsewhere.txt")
    body = delete(alice, first, {"ids": [mine["id"], elsewhere["id"]]})
    assert body == {"code": 102, "message": f"Documents not found: ['{elsewhere['id']}']"}
    assert listed_names(alice, first) == []
    assert listed_names(alice, second) == ["elsewhere.txt"]
    assert runtime.blobs.exists(blob_key(alice.id, second, elsewhere["id"]))


def test_delete_duplicate_ids(runtime: Runtime, alice: Account, dataset: str) -> None:
    docs = upload(alice, dataset, ("a.txt", b"a"), ("b.txt", b"b"), ("c.txt", b"c"))["data"]
    a, b = docs[0]["id"], docs[1]["id"]
    body = delete(alice, dataset, {"ids": [a, b, a, a]})
    assert body == {
        "code": 0,
        "data": {"success_count": 2, "errors": [f"Duplicate document ids: {a}"]},
    }
    assert listed_names(alice, dataset) == ["c.txt"]
    assert not runtime.blobs.exists(blob_key(alice.id, dataset, a))


def test_delete_several_duplicates(alice: Account, dataset: str) -> None:
    docs = upload(alice, dataset, ("a.txt", b"a"), ("b.txt", b"b"))["data"]
    a, b = docs[0]["id"], docs[1]["id"]
    body = delete(alice, dataset, {"ids": [b, a, b, a]})
    assert body == {
        "code": 0,
        "data": {
            "success_count": 2,
            "errors": [f"Duplicate document ids: {b}", f"Duplicate document ids: {a}"],
        },
    }


def test_delete_duplicate_unknown_id_is_not_found(alice: Account, dataset: str) -> None:
    unknown = new_id()
    assert delete(alice, dataset, {"ids": [unknown, unknown]}) == {
        "code": 102,
        "message": f"Documents not found: ['{unknown}']",
    }


@pytest.mark.parametrize("ids", ["abc", 5, {"id": "x"}, [1, 2]])
def test_delete_ids_must_be_a_list_of_strings(alice: Account, dataset: str, ids: Any) -> None:
    upload_one(alice, dataset, "a.txt")
    body = delete(alice, dataset, {"ids": ids})
    assert body["code"] == 101
    assert body["message"].startswith("Field: <ids")
    assert listed_names(alice, dataset) == ["a.txt"]


def test_deleted_document_is_gone_everywhere(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    assert delete(alice, dataset, {"ids": [doc["id"]]}) == {"code": 0}
    assert download(alice, dataset, doc["id"]).json()["code"] == 102
    assert update(alice, dataset, doc["id"], {"name": "b.txt"}) == {
        "code": 102,
        "message": "The dataset doesn't own the document.",
    }
    assert list_docs(alice, dataset, id=doc["id"])["code"] == 102
    assert delete(alice, dataset, {"ids": [doc["id"]]}) == {
        "code": 102,
        "message": f"Documents not found: ['{doc['id']}']",
    }
    # the name is free again
    assert upload_one(alice, dataset, "a.txt")["name"] == "a.txt"


def test_delete_in_unknown_dataset(alice: Account) -> None:
    unknown = new_id()
    assert delete(alice, unknown, {"ids": []}) == {
        "code": 102,
        "message": f"You don't own the dataset {unknown}. ",
    }


def test_delete_in_another_tenants_dataset(
    runtime: Runtime, alice: Account, bob: Account, bob_doc: tuple[str, str]
) -> None:
    dataset_id, document_id = bob_doc
    bodies: list[dict[str, Any] | None] = [{"ids": [document_id]}, {"ids": []}, None]
    for body in bodies:
        assert delete(alice, dataset_id, body) == {
            "code": 102,
            "message": f"You don't own the dataset {dataset_id}. ",
        }
    assert listed_names(bob, dataset_id) == ["secret.txt"]
    assert runtime.blobs.exists(blob_key(bob.id, dataset_id, document_id))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{bad json", MALFORMED_JSON),
        (b'{"ids": ["a",]}', MALFORMED_JSON),
        (b"[]", "Invalid request payload: expected object, got list"),
        (b"null", "Invalid request payload: expected object, got NoneType"),
    ],
)
def test_delete_malformed_json_deletes_nothing(
    alice: Account, dataset: str, raw: bytes, message: str
) -> None:
    upload_one(alice, dataset, "a.txt")
    response = alice.client.request(
        "DELETE",
        docs_url(dataset),
        content=raw,
        headers={**alice.api_headers, "Content-Type": "application/json"},
    )
    assert response.json() == {"code": 101, "message": message}
    assert listed_names(alice, dataset) == ["a.txt"]


# --------------------------------------------------------------------------------------------
# document_count on the dataset


def test_document_count_follows_uploads_and_deletes(alice: Account, dataset: str) -> None:
    assert get_dataset(alice, dataset)["document_count"] == 0
    docs = upload(alice, dataset, ("a.txt", b"a"), ("b.txt", b"b"), ("c.txt", b"c"))["data"]
    assert get_dataset(alice, dataset)["document_count"] == 3
    upload(alice, dataset, ("bad.exe", EXE))
    assert get_dataset(alice, dataset)["document_count"] == 3
    delete(alice, dataset, {"ids": [docs[0]["id"]]})
    assert get_dataset(alice, dataset)["document_count"] == 2
    delete(alice, dataset, {})
    assert get_dataset(alice, dataset)["document_count"] == 0


def test_document_count_is_per_dataset(alice: Account) -> None:
    first, second = make_dataset(alice), make_dataset(alice)
    upload(alice, first, ("a.txt", b"a"), ("b.txt", b"b"))
    upload(alice, second, ("c.txt", b"c"))
    assert get_dataset(alice, first)["document_count"] == 2
    assert get_dataset(alice, second)["document_count"] == 1


# --------------------------------------------------------------------------------------------
# isolation: bob's ids look exactly like unknown ids to alice


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_another_tenants_dataset_looks_unknown(
    runtime: Runtime, alice: Account, bob: Account, bob_doc: tuple[str, str], endpoint: str
) -> None:
    bob_dataset, bob_document = bob_doc
    unknown_dataset, unknown_document = new_id(), new_id()
    seen = call(alice, endpoint, bob_dataset, bob_document)
    expected = call(alice, endpoint, unknown_dataset, unknown_document)
    assert seen["code"] == expected["code"] != 0
    assert set(seen) == set(expected)
    assert without(seen["message"], bob_dataset, bob_document) == without(
        expected["message"], unknown_dataset, unknown_document
    )
    # and bob's document is untouched
    assert listed_names(bob, bob_dataset) == ["secret.txt"]
    assert runtime.blobs.read(blob_key(bob.id, bob_dataset, bob_document)) == b"bob's secret"


@pytest.mark.parametrize("endpoint", ["list_by_id", "download", "update", "delete"])
def test_another_tenants_document_in_own_dataset_looks_unknown(
    runtime: Runtime,
    alice: Account,
    bob: Account,
    dataset: str,
    bob_doc: tuple[str, str],
    endpoint: str,
) -> None:
    bob_dataset, bob_document = bob_doc
    upload_one(alice, dataset, "mine.txt")
    unknown = new_id()
    seen = call(alice, endpoint, dataset, bob_document)
    expected = call(alice, endpoint, dataset, unknown)
    assert seen["code"] == expected["code"] == 102
    assert set(seen) == set(expected)
    assert without(seen["message"], bob_document) == without(expected["message"], unknown)
    assert listed_names(bob, bob_dataset) == ["secret.txt"]
    assert runtime.blobs.exists(blob_key(bob.id, bob_dataset, bob_document))


def test_bob_does_not_see_alices_documents(alice: Account, bob: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "alice.txt", b"alice only")
    assert list_docs(bob, dataset)["code"] == 102
    assert download(bob, dataset, doc["id"]).json()["code"] == 102
    assert b"alice only" not in download(bob, dataset, doc["id"]).content


# --------------------------------------------------------------------------------------------
# authentication


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_endpoint_needs_an_api_key(
    client: TestClient, alice: Account, dataset: str, endpoint: str
) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    stranger = Account.__new__(Account)
    stranger.client = client
    stranger.api_key = "ragflow-not-a-real-token-000000000000"
    body = call(stranger, endpoint, dataset, doc["id"])
    assert body["code"] == 109
    assert body["message"] == "Authentication error: API key is invalid!"
    assert listed_names(alice, dataset) == ["a.txt"]


def test_web_session_token_is_not_an_api_key(alice: Account, dataset: str) -> None:
    response = alice.client.get(docs_url(dataset), headers=alice.web_headers)
    assert response.json()["code"] == 109


@pytest.mark.parametrize("name", ["../x.txt", "dir/x.txt", "dir\\x.txt", " x.txt"])
def test_rename_refuses_paths(alice: Account, dataset: str, name: str) -> None:
    document_id = upload_one(alice, dataset, "a.txt", b"x")["id"]
    result = update(alice, dataset, document_id, {"name": name})
    assert result == {
        "code": 101,
        "message": "File name can't contain '/' or '\\' or surrounding spaces.",
    }
    assert one_doc(alice, dataset, document_id)["name"] == "a.txt"


def test_numbered_duplicate_names_count_up(alice: Account, dataset: str) -> None:
    first = upload(alice, dataset, ("rep(3).txt", b"x"))["data"][0]["name"]
    second = upload(alice, dataset, ("rep(3).txt", b"x"))["data"][0]["name"]
    assert (first, second) == ("rep(3).txt", "rep(4).txt")


def test_download_name_with_reserved_characters(alice: Account, dataset: str) -> None:
    document_id = upload_one(alice, dataset, "a;b=c,d.txt", b"x")["id"]
    disposition = download(alice, dataset, document_id).headers["content-disposition"]
    assert disposition == "attachment; filename*=UTF-8''a%3Bb%3Dc%2Cd.txt"
