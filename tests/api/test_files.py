"""The file manager's tree, ``/api/v1/file/*``: root, create, upload, list, parents, rename,
move, download (convert, delete and attachments: test_files_links.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import Account
from ragserve.app import create_app
from ragserve.settings import Settings


def call(account: Account, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    response = account.client.request(
        method, f"/api/v1/file/{path}", headers=account.api_headers, **kwargs
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def root(account: Account) -> dict[str, Any]:
    body = call(account, "GET", "root_folder")
    assert body["code"] == 0, body
    folder: dict[str, Any] = body["data"]["root_folder"]
    return folder


def upload(
    account: Account, *files: tuple[str, bytes], parent_id: str | None = None
) -> list[dict[str, Any]]:
    data = {"parent_id": parent_id} if parent_id else None
    parts = [("file", (name, content)) for name, content in files]
    body = call(account, "POST", "upload", files=parts, data=data)
    assert body["code"] == 0, body
    rows: list[dict[str, Any]] = body["data"]
    return rows


def mkdir(account: Account, name: str, parent_id: str | None = None) -> dict[str, Any]:
    body = call(
        account, "POST", "create", json={"name": name, "parent_id": parent_id, "type": "folder"}
    )
    assert body["code"] == 0, body
    folder: dict[str, Any] = body["data"]
    return folder


def listing(account: Account, **params: Any) -> dict[str, Any]:
    body = call(account, "GET", "list", params=params)
    assert body["code"] == 0, body
    page: dict[str, Any] = body["data"]
    return page


def error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "data": None}


# --------------------------------------------------------------------------------------------
# root folder


def test_root_folder_is_made_once_and_is_its_own_parent(alice: Account, bob: Account) -> None:
    first, again = root(alice), root(alice)
    assert first == again
    assert first["parent_id"] == first["id"] and first["name"] == "/"
    assert (first["type"], first["size"], first["tenant_id"]) == ("folder", 0, alice.id)
    assert root(bob)["id"] != first["id"]


def test_routes_need_an_api_key(alice: Account) -> None:
    response = alice.client.get("/api/v1/file/root_folder")
    assert response.json()["code"] == 109


# --------------------------------------------------------------------------------------------
# create


def test_create_folder_and_virtual_file(alice: Account) -> None:
    home = root(alice)
    docs = mkdir(alice, "docs")
    assert (docs["parent_id"], docs["type"], docs["name"]) == (home["id"], "folder", "docs")
    nested = mkdir(alice, "inner", docs["id"])
    assert nested["parent_id"] == docs["id"]
    # RAGFlow compares with "folder": "FOLDER" (as documented) makes a virtual file
    virtual = call(alice, "POST", "create", json={"name": "note", "type": "FOLDER"})["data"]
    assert (virtual["type"], virtual["size"], virtual["location"]) == ("virtual", 0, "")


def test_create_refusals(alice: Account, bob: Account) -> None:
    mkdir(alice, "docs")
    assert call(alice, "POST", "create", json={"name": "docs", "type": "folder"}) == error(
        409, "Duplicated folder name in the same folder."
    )
    assert call(alice, "POST", "create", json={"name": "x", "parent_id": "0" * 32}) == error(
        400, "Parent Folder Doesn't Exist!"
    )
    bobs = mkdir(bob, "bobs")
    assert call(alice, "POST", "create", json={"name": "x", "parent_id": bobs["id"]}) == error(
        400, "Parent Folder Doesn't Exist!"
    )
    assert call(alice, "POST", "create", json={"type": "folder"}) == error(
        101, "required argument are missing: name; "
    )
    assert call(alice, "POST", "create", json={"name": "  "}) == error(
        101, "File name can't be empty."
    )
    assert call(alice, "POST", "create", json={"name": "a/b"}) == error(
        101, "Invalid file name: 'a/b'."
    )
    assert call(alice, "POST", "create", json={"name": "é" * 128}) == error(
        101, "File name must be 255 bytes or less."
    )


# --------------------------------------------------------------------------------------------
# upload


def test_upload_makes_sub_folders_and_suffixes_taken_names(alice: Account) -> None:
    home = root(alice)
    rows = upload(alice, ("a/b/c.txt", b"hello"), ("d.md", b"# hi"))
    assert [row["name"] for row in rows] == ["c.txt", "d.md"]
    assert rows[1]["parent_id"] == home["id"]
    assert (rows[0]["size"], rows[0]["type"], rows[0]["source_type"]) == (5, "doc", "")
    chain = call(alice, "GET", "all_parent_folder", params={"file_id": rows[0]["id"]})
    assert [item["name"] for item in chain["data"]["parent_folders"]] == ["c.txt", "b", "a", "/"]
    again = upload(alice, ("a/b/c.txt", b"again"), ("d.md", b"x"))
    assert [row["name"] for row in again] == ["c(1).txt", "d(1).md"]
    assert again[0]["parent_id"] == rows[0]["parent_id"]  # the folders are reused


def test_upload_into_a_folder(alice: Account) -> None:
    docs = mkdir(alice, "docs")
    rows = upload(
        alice, ("x.pdf", b"%PDF-1.4 not really"), ("y.bin", b"\x00\x01"), parent_id=docs["id"]
    )
    assert {row["parent_id"] for row in rows} == {docs["id"]}
    assert [row["type"] for row in rows] == ["pdf", "other"]


def test_upload_refusals(alice: Account, bob: Account) -> None:
    assert call(alice, "POST", "upload") == error(400, "No file part!")
    assert call(alice, "POST", "upload", data={"file": "text, not a file"}) == error(
        400, "No file part!"
    )
    parts = [("file", ("/", b"x"))]
    assert call(alice, "POST", "upload", files=parts) == error(400, "No selected file!")
    parts = [("file", ("a/../b.txt", b"x"))]
    assert call(alice, "POST", "upload", files=parts) == error(
        101, "Invalid file name: 'a/../b.txt'."
    )
    parts = [("file", ("ok.txt", b"x")), ("file", ("n" * 256 + ".txt", b"x"))]
    assert call(alice, "POST", "upload", files=parts) == error(
        101, "File name must be 255 bytes or less."
    )
    assert listing(alice)["total"] == 0  # one refused name stores nothing
    bobs = mkdir(bob, "bobs")
    for parent_id in ("0" * 32, bobs["id"]):
        parts = [("file", ("ok.txt", b"x"))]
        assert call(alice, "POST", "upload", files=parts, data={"parent_id": parent_id}) == error(
            404, "Can't find this folder!"
        )


@pytest.fixture
def small_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(home=tmp_path / "small", workers=0, max_body_size=2000)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_upload_over_the_body_limit_is_refused(small_client: TestClient) -> None:
    carol = Account(small_client, "carol@example.com")
    response = small_client.post(
        "/api/v1/file/upload", files=[("file", ("big.txt", b"x" * 5000))], headers=carol.api_headers
    )
    assert response.status_code == 413
    assert response.json()["message"] == "Request body is too large: the limit is 2000 bytes."
    assert listing(carol)["total"] == 0


# --------------------------------------------------------------------------------------------
# list


def test_list_pages_sorts_and_filters(alice: Account) -> None:
    upload(alice, ("b.txt", b"bb"), ("A.txt", b"a"), ("c.md", b"ccc"))
    page = listing(alice, page_size=2, orderby="name")
    assert page["total"] == 3 and [f["name"] for f in page["files"]] == ["A.txt", "b.txt"]
    page = listing(alice, page=2, page_size=2, orderby="name")
    assert [f["name"] for f in page["files"]] == ["c.md"]
    # QUIRK kept: any desc value, "false" too, sorts descending
    page = listing(alice, orderby="name", desc="false")
    assert [f["name"] for f in page["files"]] == ["c.md", "b.txt", "A.txt"]
    page = listing(alice, keywords="TXT", orderby="size")
    assert [f["name"] for f in page["files"]] == ["A.txt", "b.txt"]
    assert page["parent_folder"]["id"] == root(alice)["id"]
    assert all(f["kbs_info"] == [] for f in page["files"])


def test_list_folder_sizes_count_everything_inside(alice: Account) -> None:
    upload(alice, ("top/one.txt", b"12345"), ("top/sub/two.txt", b"123"), ("flat/three.txt", b"1"))
    folders = {f["name"]: f for f in listing(alice)["files"]}
    assert (folders["top"]["size"], folders["top"]["has_child_folder"]) == (8, True)
    assert (folders["flat"]["size"], folders["flat"]["has_child_folder"]) == (1, False)
    inside = listing(alice, parent_id=folders["top"]["id"])
    assert {f["name"] for f in inside["files"]} == {"one.txt", "sub"}
    assert inside["parent_folder"]["name"] == "top"


def test_list_unknown_and_foreign_folders(alice: Account, bob: Account) -> None:
    bobs = mkdir(bob, "bobs")
    for parent_id in ("0" * 32, bobs["id"]):
        assert call(alice, "GET", "list", params={"parent_id": parent_id}) == error(
            404, "Folder not found!"
        )
    files = upload(alice, ("f.txt", b"x"))
    assert call(alice, "GET", "list", params={"parent_id": files[0]["id"]}) == error(
        404, "Folder not found!"
    )


# --------------------------------------------------------------------------------------------
# parents


def test_parent_folders(alice: Account, bob: Account) -> None:
    (file,) = upload(alice, ("a/f.txt", b"x"))
    parent = call(alice, "GET", "parent_folder", params={"file_id": file["id"]})["data"]
    assert parent["parent_folder"]["name"] == "a"
    home = root(alice)
    top = call(alice, "GET", "parent_folder", params={"file_id": home["id"]})["data"]
    assert top["parent_folder"]["id"] == home["id"]
    chain = call(alice, "GET", "all_parent_folder", params={"file_id": home["id"]})["data"]
    assert [f["id"] for f in chain["parent_folders"]] == [home["id"]]
    for route in ("parent_folder", "all_parent_folder"):
        for file_id in ("0" * 32, root(bob)["id"]):
            assert call(alice, "GET", route, params={"file_id": file_id}) == error(
                404, "Folder not found!"
            )
        missing = call(alice, "GET", route)
        assert missing["code"] == 101 and "file_id" in missing["message"]


# --------------------------------------------------------------------------------------------
# rename


def test_rename_keeps_the_extension(alice: Account) -> None:
    (file, _other) = upload(alice, ("report.PDF", b"%PDF-1.4"), ("other.pdf", b"%PDF-1.4"))
    docs = mkdir(alice, "docs")
    assert call(alice, "POST", "rename", json={"file_id": file["id"], "name": "final.pdf"}) == {
        "code": 0,
        "message": "success",
        "data": True,
    }
    assert call(alice, "POST", "rename", json={"file_id": docs["id"], "name": "papers"})["data"]
    names = {f["name"] for f in listing(alice)["files"]}
    assert names == {"final.pdf", "other.pdf", "papers"}
    assert call(alice, "POST", "rename", json={"file_id": file["id"], "name": "final.txt"}) == (
        error(400, "The extension of file can't be changed")
    )
    assert call(alice, "POST", "rename", json={"file_id": file["id"], "name": "other.pdf"}) == (
        error(409, "Duplicated file name in the same folder.")
    )


def test_rename_refusals(alice: Account, bob: Account) -> None:
    (bobs,) = upload(bob, ("b.txt", b"x"))
    for file_id in ("0" * 32, bobs["id"]):
        assert call(alice, "POST", "rename", json={"file_id": file_id, "name": "n.txt"}) == error(
            404, "File not found!"
        )
    assert call(alice, "POST", "rename", json={"name": "n.txt"}) == error(
        101, "required argument are missing: file_id; "
    )
    assert call(alice, "POST", "rename", json={"file_id": root(alice)["id"], "name": "x"}) == (
        error(400, "The root folder can't be renamed.")
    )


# --------------------------------------------------------------------------------------------
# move


def test_move_files_and_folders(alice: Account) -> None:
    (one, two) = upload(alice, ("one.txt", b"1"), ("box/two.txt", b"2"))
    target = mkdir(alice, "target")
    box = two["parent_id"]
    body = {"src_file_ids": [one["id"], box], "dest_file_id": target["id"]}
    assert call(alice, "POST", "mv", json=body) == {"code": 0, "message": "success", "data": True}
    inside = listing(alice, parent_id=target["id"])
    assert {f["name"] for f in inside["files"]} == {"one.txt", "box"}
    chain = call(alice, "GET", "all_parent_folder", params={"file_id": two["id"]})["data"]
    assert [f["name"] for f in chain["parent_folders"]] == ["two.txt", "box", "target", "/"]


def test_move_refusals(alice: Account, bob: Account) -> None:
    (one,) = upload(alice, ("a/one.txt", b"1"))
    outer = one["parent_id"]
    inner = mkdir(alice, "inner", outer)
    bobs = mkdir(bob, "bobs")
    for dest in ("0" * 32, bobs["id"], one["id"]):
        body = {"src_file_ids": [one["id"]], "dest_file_id": dest}
        assert call(alice, "POST", "mv", json=body) == error(404, "Parent Folder not found!")
    for src in ("0" * 32, bobs["id"]):
        body = {"src_file_ids": [src], "dest_file_id": inner["id"]}
        assert call(alice, "POST", "mv", json=body) == error(404, "File or Folder not found!")
    for dest in (outer, inner["id"]):
        body = {"src_file_ids": [outer], "dest_file_id": dest}
        assert call(alice, "POST", "mv", json=body) == error(
            400, "A folder can't be moved into itself or its sub-folders."
        )
    upload(alice, ("one.txt", b"other"))
    body = {"src_file_ids": [one["id"]], "dest_file_id": root(alice)["id"]}
    assert call(alice, "POST", "mv", json=body) == error(
        409, "Duplicated file name in the same folder."
    )
    assert call(alice, "POST", "mv", json={"src_file_ids": [one["id"]]}) == error(
        101, "required argument are missing: dest_file_id; "
    )


# --------------------------------------------------------------------------------------------
# download


def test_download_a_file(alice: Account, bob: Account) -> None:
    (file,) = upload(alice, ("notes/été.md", b"# summer\n"))
    response = alice.client.get(f"/api/v1/file/get/{file['id']}", headers=alice.api_headers)
    assert response.status_code == 200 and response.content == b"# summer\n"
    assert response.headers["content-type"].startswith("text/markdown")
    assert (
        response.headers["content-disposition"] == "attachment; filename*=UTF-8''%C3%A9t%C3%A9.md"
    )
    virtual = call(alice, "POST", "create", json={"name": "empty"})["data"]
    response = alice.client.get(f"/api/v1/file/get/{virtual['id']}", headers=alice.api_headers)
    assert (response.status_code, response.content) == (200, b"")
    for file_id in ("0" * 32, file["parent_id"]):
        assert call(alice, "GET", f"get/{file_id}") == error(404, "Document not found!")
    assert call(bob, "GET", f"get/{file['id']}") == error(404, "Document not found!")
