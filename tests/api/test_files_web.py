"""The web twins ``/v1/file/*`` and ``/v1/file2document/*``: the API routes for a web login
(their logic is tested through ``/api/v1/file`` in test_files.py and test_files_links.py)."""

from __future__ import annotations

from typing import Any

from api.test_files import error
from api.test_parsing import new_dataset
from conftest import Account

TEXT = b"# Herons\n\nHerons wade in shallow water.\n"


def web(account: Account, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    response = account.client.request(method, path, headers=account.web_headers, **kwargs)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_every_web_route(alice: Account) -> None:
    root = web(alice, "GET", "/v1/file/root_folder")["data"]["root_folder"]
    folder = web(alice, "POST", "/v1/file/create", json={"name": "box", "type": "folder"})["data"]
    parts = [("file", ("in/herons.md", TEXT))]
    body = web(alice, "POST", "/v1/file/upload", files=parts, data={"parent_id": folder["id"]})
    (file,) = body["data"]
    page = web(alice, "GET", "/v1/file/list", params={"parent_id": folder["id"]})["data"]
    assert [f["name"] for f in page["files"]] == ["in"]
    parent = web(alice, "GET", "/v1/file/parent_folder", params={"file_id": file["id"]})
    assert parent["data"]["parent_folder"]["name"] == "in"
    chain = web(alice, "GET", "/v1/file/all_parent_folder", params={"file_id": file["id"]})
    assert [f["name"] for f in chain["data"]["parent_folders"]] == ["herons.md", "in", "box", "/"]
    renamed = web(alice, "POST", "/v1/file/rename", json={"file_id": file["id"], "name": "h.md"})
    assert renamed == {"code": 0, "message": "success", "data": True}
    moved = {"src_file_ids": [file["id"]], "dest_file_id": root["id"]}
    assert web(alice, "POST", "/v1/file/mv", json=moved)["data"] is True
    download = alice.client.get(f"/v1/file/get/{file['id']}", headers=alice.web_headers)
    assert download.content == TEXT

    dataset_id = new_dataset(alice, name="birds")
    converted = web(
        alice,
        "POST",
        "/v1/file2document/convert",
        json={"file_ids": [file["id"]], "kb_ids": [dataset_id]},
    )
    (link,) = converted["data"]
    docs = alice.client.get(
        f"/api/v1/datasets/{dataset_id}/documents", headers=alice.api_headers
    ).json()["data"]["docs"]
    assert [d["id"] for d in docs] == [link["document_id"]]
    unlinked = web(alice, "POST", "/v1/file2document/rm", json={"file_ids": [file["id"]]})
    assert unlinked == {"code": 0, "message": "success", "data": True}
    docs = alice.client.get(
        f"/api/v1/datasets/{dataset_id}/documents", headers=alice.api_headers
    ).json()["data"]["docs"]
    assert docs == []
    assert web(alice, "POST", "/v1/file/rm", json={"file_ids": [folder["id"], file["id"]]})["data"]
    assert web(alice, "GET", "/v1/file/list")["data"]["total"] == 0


def test_web_refusals(alice: Account, bob: Account) -> None:
    assert alice.client.get("/v1/file/root_folder").json()["code"] == 401
    (file,) = web(alice, "POST", "/v1/file/upload", files=[("file", ("a.md", TEXT))])["data"]
    assert web(alice, "POST", "/v1/file2document/rm", json={"file_ids": [file["id"]]}) == error(
        102, "Inform not found!"
    )
    assert web(bob, "POST", "/v1/file2document/rm", json={"file_ids": [file["id"]]}) == error(
        102, "Inform not found!"
    )
    assert web(alice, "POST", "/v1/file2document/rm", json={"file_ids": []}) == {
        "code": 101,
        "message": 'Lack of "Files ID"',
        "data": False,
    }
    assert web(bob, "GET", f"/v1/file/get/{file['id']}") == error(404, "Document not found!")
    assert web(bob, "POST", "/v1/file/rm", json={"file_ids": [file["id"]]}) == error(
        404, "File or Folder not found!"
    )
