"""Downloading documents, and what team members may do."""

from __future__ import annotations

import pytest

from api.documents.support import (
    PDF,
    PNG,
    ZIP,
    blob_key,
    delete,
    download,
    join_tenant,
    list_docs,
    listed_names,
    make_dataset,
    new_id,
    update,
    upload,
    upload_one,
)
from conftest import Account
from ragserve.db.models import TenantRole
from ragserve.runtime import Runtime

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
