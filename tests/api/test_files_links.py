"""Files and datasets: convert, delete with the documents made from files, agent attachments."""

from __future__ import annotations

import copy
import io
import json
from typing import Any

from docx import Document as DocxDocument
from sqlalchemy import delete

from api.test_agents import ECHO_DSL, make_agent
from api.test_files import call, error, listing, mkdir, root, upload
from api.test_parsing import new_dataset, parse
from api.test_parsing import upload as dataset_upload
from conftest import Account
from ragserve.blobs.attachments import store_attachment
from ragserve.db.models import File
from ragserve.runtime import Runtime

TEXT = b"# Cranes\n\nCranes are large birds with long legs and necks. They migrate every year.\n"


def documents(account: Account, dataset_id: str) -> list[dict[str, Any]]:
    body = account.client.get(
        f"/api/v1/datasets/{dataset_id}/documents", headers=account.api_headers
    ).json()
    assert body["code"] == 0, body
    docs: list[dict[str, Any]] = body["data"]["docs"]
    return docs


def convert(account: Account, file_ids: list[str], kb_ids: list[str]) -> dict[str, Any]:
    return call(account, "POST", "convert", json={"file_ids": file_ids, "kb_ids": kb_ids})


# --------------------------------------------------------------------------------------------
# convert


def test_convert_makes_a_parseable_document_sharing_the_bytes(
    alice: Account, runtime: Runtime
) -> None:
    (file,) = upload(alice, ("cranes.md", TEXT))
    dataset_id = new_dataset(alice, name="birds")
    body = convert(alice, [file["id"]], [dataset_id])
    assert body["code"] == 0, body
    (link,) = body["data"]
    assert link["file_id"] == file["id"]
    (doc,) = documents(alice, dataset_id)
    assert (doc["id"], doc["name"], doc["size"]) == (link["document_id"], "cranes.md", len(TEXT))
    assert (doc["suffix"], doc["type"], doc["chunk_method"]) == ("md", "doc", "naive")
    # no copy: the dataset keeps no blob of its own
    assert not runtime.blobs.exists(f"{alice.id}/{dataset_id}/{doc['id']}")
    assert parse(alice, dataset_id, [doc["id"]]) == {"code": 0}
    (parsed,) = documents(alice, dataset_id)
    assert parsed["run"] == "DONE" and parsed["chunk_count"] > 0
    download = alice.client.get(
        f"/api/v1/datasets/{dataset_id}/documents/{doc['id']}", headers=alice.api_headers
    )
    assert download.content == TEXT
    (listed,) = listing(alice)["files"]
    assert listed["kbs_info"] == [
        {"kb_id": dataset_id, "kb_name": "birds", "document_id": doc["id"]}
    ]


def test_convert_again_replaces_the_documents_and_folders_convert_their_files(
    alice: Account, runtime: Runtime
) -> None:
    (one, two, _) = upload(
        alice, ("box/one.md", TEXT), ("box/in/two.txt", b"two"), ("box/x.bin", b"\0")
    )
    first, second = new_dataset(alice, name="first"), new_dataset(alice, name="second")
    assert convert(alice, [one["id"]], [first])["code"] == 0
    (old,) = documents(alice, first)
    assert parse(alice, first, [old["id"]]) == {"code": 0}
    body = convert(alice, [one["parent_id"]], [first, second])
    assert body["code"] == 0, body
    assert {(link["file_id"]) for link in body["data"]} == {one["id"], two["id"]}
    assert len(body["data"]) == 4  # the .bin file, of no known type, is skipped
    for dataset_id in (first, second):
        assert {d["name"] for d in documents(alice, dataset_id)} == {"one.md", "two.txt"}
    assert old["id"] not in {d["id"] for d in documents(alice, first)}
    assert runtime.chunks.counts(document_id=old["id"]).chunks == 0
    assert runtime.blobs.read(one["location"]) == TEXT  # the file's bytes stay


def test_convert_names_taken_in_the_dataset_are_suffixed(alice: Account) -> None:
    dataset_id = new_dataset(alice, name="d")
    (a,) = upload(alice, ("a/same.md", TEXT))
    (b,) = upload(alice, ("b/same.md", TEXT))
    assert convert(alice, [a["id"], b["id"]], [dataset_id])["code"] == 0
    assert sorted(d["name"] for d in documents(alice, dataset_id)) == ["same(1).md", "same.md"]


def test_convert_refusals(alice: Account, bob: Account) -> None:
    (file,) = upload(alice, ("f.md", TEXT))
    (bobs_file,) = upload(bob, ("b.md", TEXT))
    dataset_id = new_dataset(alice, name="mine")
    bobs_dataset = new_dataset(bob, name="bobs")
    for kb_id in ("0" * 32, bobs_dataset):
        assert convert(alice, [file["id"]], [kb_id]) == error(404, "Can't find this dataset!")
    for file_id in ("0" * 32, bobs_file["id"]):
        assert convert(alice, [file_id], [dataset_id]) == error(404, "Can't find this file!")
    virtual = call(alice, "POST", "create", json={"name": "v.md"})["data"]
    assert convert(alice, [virtual["id"]], [dataset_id]) == error(
        101, "v.md: This type of file has not been supported yet!"
    )
    assert convert(alice, [], [dataset_id]) == {"code": 0, "message": "success", "data": []}
    assert call(alice, "POST", "convert", json={"file_ids": [file["id"]]}) == error(
        101, "required argument are missing: kb_ids; "
    )
    assert documents(alice, dataset_id) == []


def test_deleting_the_document_or_the_dataset_keeps_the_file(
    alice: Account, runtime: Runtime
) -> None:
    (file,) = upload(alice, ("keep.md", TEXT))
    dataset_id = new_dataset(alice, name="d")
    link = convert(alice, [file["id"]], [dataset_id])["data"][0]
    deleted = alice.client.request(
        "DELETE",
        f"/api/v1/datasets/{dataset_id}/documents",
        json={"ids": [link["document_id"]]},
        headers=alice.api_headers,
    ).json()
    assert deleted == {"code": 0}
    assert runtime.blobs.read(file["location"]) == TEXT
    assert listing(alice)["files"][0]["kbs_info"] == []
    convert(alice, [file["id"]], [dataset_id])
    deleted = alice.client.request(
        "DELETE", "/api/v1/datasets", json={"ids": [dataset_id]}, headers=alice.api_headers
    ).json()
    assert deleted["code"] == 0, deleted
    assert runtime.blobs.read(file["location"]) == TEXT
    assert listing(alice)["files"][0]["kbs_info"] == []


def test_renaming_a_file_renames_its_documents(alice: Account) -> None:
    (file,) = upload(alice, ("old.md", TEXT))
    dataset_id = new_dataset(alice, name="d")
    convert(alice, [file["id"]], [dataset_id])
    assert call(alice, "POST", "rename", json={"file_id": file["id"], "name": "new.md"})["data"]
    assert [d["name"] for d in documents(alice, dataset_id)] == ["new.md"]


# --------------------------------------------------------------------------------------------
# remove


def test_remove_is_recursive_and_removes_linked_documents(alice: Account, runtime: Runtime) -> None:
    (one, two, kept) = upload(
        alice, ("box/one.md", TEXT), ("box/in/two.md", TEXT), ("kept.md", TEXT)
    )
    dataset_id = new_dataset(alice, name="d")
    assert convert(alice, [one["parent_id"], kept["id"]], [dataset_id])["code"] == 0
    ids = {d["name"]: d["id"] for d in documents(alice, dataset_id)}
    assert parse(alice, dataset_id, list(ids.values())) == {"code": 0}
    assert runtime.chunks.counts(document_id=ids["one.md"]).chunks > 0
    body = call(alice, "POST", "rm", json={"file_ids": [one["parent_id"]]})
    assert body == {"code": 0, "message": "success", "data": True}
    assert [f["name"] for f in listing(alice)["files"]] == ["kept.md"]
    assert [d["name"] for d in documents(alice, dataset_id)] == ["kept.md"]
    assert runtime.chunks.counts(document_id=ids["one.md"]).chunks == 0
    assert runtime.chunks.counts(document_id=ids["kept.md"]).chunks > 0
    assert not runtime.blobs.exists(one["location"]) and not runtime.blobs.exists(two["location"])
    assert runtime.blobs.exists(kept["location"])


def test_remove_refusals(alice: Account, bob: Account) -> None:
    (file,) = upload(alice, ("f.md", TEXT))
    (bobs,) = upload(bob, ("b.md", TEXT))
    for file_id in ("0" * 32, bobs["id"]):
        body = call(alice, "POST", "rm", json={"file_ids": [file["id"], file_id]})
        assert body == error(404, "File or Folder not found!")
    assert [f["name"] for f in listing(alice)["files"]] == ["f.md"]  # nothing deleted
    assert call(alice, "POST", "rm", json={"file_ids": [root(alice)["id"]]}) == error(
        400, "The root folder can't be removed."
    )
    assert call(alice, "POST", "rm", json={}) == error(
        101, "required argument are missing: file_ids; "
    )
    assert [f["name"] for f in listing(bob)["files"]] == ["b.md"]


def test_remove_an_empty_folder(alice: Account) -> None:
    folder = mkdir(alice, "empty")
    assert call(alice, "POST", "rm", json={"file_ids": [folder["id"]]})["data"] is True
    assert listing(alice)["total"] == 0


# --------------------------------------------------------------------------------------------
# agent attachments


def test_attachment_download(alice: Account, bob: Account, runtime: Runtime) -> None:
    attachment_id = store_attachment(runtime.blobs, alice.id, b"# Report\n")
    response = alice.client.get(
        f"/api/v1/file/download/{attachment_id}", params={"ext": "md"}, headers=alice.api_headers
    )
    assert (response.status_code, response.content) == (200, b"# Report\n")
    assert response.headers["content-type"].startswith("text/markdown")
    response = alice.client.get(
        f"/api/v1/file/download/{attachment_id}", params={"ext": "docx"}, headers=alice.api_headers
    )
    assert response.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    missing = error(404, "Attachment not found!")
    assert call(bob, "GET", f"download/{attachment_id}") == missing
    assert call(alice, "GET", f"download/{'0' * 32}") == missing
    assert call(alice, "GET", "download/.hidden") == missing


# --------------------------------------------------------------------------------------------
# dataset documents in /.knowledgebase


def kb_folder(account: Account) -> dict[str, Any]:
    (found,) = [f for f in listing(account)["files"] if f["name"] == ".knowledgebase"]
    return found


def test_uploaded_documents_appear_in_the_knowledgebase_folder(
    alice: Account, runtime: Runtime
) -> None:
    dataset_id = new_dataset(alice, name="birds")
    document_id = dataset_upload(alice, dataset_id, "cranes.md", TEXT)
    top = kb_folder(alice)
    assert (top["type"], top["source_type"], top["size"]) == ("folder", "knowledgebase", len(TEXT))
    (folder,) = listing(alice, parent_id=top["id"])["files"]
    assert (folder["id"], folder["name"]) == (dataset_id, "birds")
    (file,) = listing(alice, parent_id=dataset_id)["files"]
    assert (file["name"], file["source_type"], file["size"]) == (
        "cranes.md",
        "knowledgebase",
        len(TEXT),
    )
    assert file["kbs_info"] == [
        {"kb_id": dataset_id, "kb_name": "birds", "document_id": document_id}
    ]
    response = alice.client.get(f"/api/v1/file/get/{file['id']}", headers=alice.api_headers)
    assert response.content == TEXT
    # the file manager neither deletes, moves nor converts them
    assert call(alice, "POST", "rm", json={"file_ids": [top["id"]]})["data"] is True
    assert [d["id"] for d in documents(alice, dataset_id)] == [document_id]
    body = {"src_file_ids": [file["id"]], "dest_file_id": root(alice)["id"]}
    assert call(alice, "POST", "mv", json=body) == error(
        400, "Dataset documents stay in their .knowledgebase folder."
    )
    assert convert(alice, [file["id"]], [dataset_id]) == error(
        101, "cranes.md: a dataset's document already; convert the file it was made from."
    )
    # renames go both ways
    assert call(alice, "POST", "rename", json={"file_id": file["id"], "name": "storks.md"})["data"]
    assert [d["name"] for d in documents(alice, dataset_id)] == ["storks.md"]
    renamed = alice.client.put(
        f"/api/v1/datasets/{dataset_id}/documents/{document_id}",
        json={"name": "herons.md"},
        headers=alice.api_headers,
    ).json()
    assert renamed["code"] == 0, renamed
    assert [f["name"] for f in listing(alice, parent_id=dataset_id)["files"]] == ["herons.md"]
    renamed = alice.client.put(
        f"/api/v1/datasets/{dataset_id}", json={"name": "waders"}, headers=alice.api_headers
    ).json()
    assert renamed["code"] == 0, renamed
    [folder] = listing(alice, parent_id=top["id"])["files"]
    assert (folder["id"], folder["name"]) == (dataset_id, "waders")


def test_deleting_documents_and_datasets_removes_their_files(alice: Account) -> None:
    first, second = new_dataset(alice, name="first"), new_dataset(alice, name="second")
    document_id = dataset_upload(alice, first, "a.md", TEXT)
    dataset_upload(alice, first, "b.md", TEXT)
    dataset_upload(alice, second, "c.md", TEXT)
    deleted = alice.client.request(
        "DELETE",
        f"/api/v1/datasets/{first}/documents",
        json={"ids": [document_id]},
        headers=alice.api_headers,
    ).json()
    assert deleted == {"code": 0}
    assert [f["name"] for f in listing(alice, parent_id=first)["files"]] == ["b.md"]
    deleted = alice.client.request(
        "DELETE", "/api/v1/datasets", json={"ids": [first]}, headers=alice.api_headers
    ).json()
    assert deleted["code"] == 0, deleted
    assert [f["name"] for f in listing(alice, parent_id=kb_folder(alice)["id"])["files"]] == [
        "second"
    ]
    assert call(alice, "GET", "list", params={"parent_id": first}) == error(
        404, "Folder not found!"
    )


def test_a_message_output_format_is_an_attachment_to_download(alice: Account, bob: Account) -> None:
    dsl = copy.deepcopy(ECHO_DSL)
    dsl["components"]["message"]["obj"]["params"]["output_format"] = "docx"
    agent = make_agent(alice, "report", dsl)
    response = alice.client.post(
        f"/api/v1/agents/{agent}/completions",
        json={"question": "# Owls\n\nThey hunt at night.", "stream": True},
        headers=alice.api_headers,
    )
    events = [
        json.loads(b[len("data:") :]) for b in response.text.split("\n\n") if b.startswith("data:{")
    ]
    [end] = [e["data"] for e in events if e["event"] == "message_end"]
    attachment = end["attachment"]
    assert attachment["format"] == "docx"
    assert attachment["file_name"] == f"{attachment['doc_id'][:8]}.docx"
    download = alice.client.get(
        f"/api/v1/file/download/{attachment['doc_id']}",
        params={"ext": "docx"},
        headers=alice.api_headers,
    )
    paragraphs = [p.text for p in DocxDocument(io.BytesIO(download.content)).paragraphs]
    assert paragraphs == ["Owls", "They hunt at night."]
    assert call(bob, "GET", f"download/{attachment['doc_id']}") == error(
        404, "Attachment not found!"
    )


def test_documents_from_before_the_file_manager_appear_with_the_root(
    alice: Account, runtime: Runtime
) -> None:
    dataset_id = new_dataset(alice, name="old")
    document_id = dataset_upload(alice, dataset_id, "old.md", TEXT)
    (file,) = upload(alice, ("f.md", TEXT))
    convert(alice, [file["id"]], [dataset_id])
    with runtime.transaction() as session:  # as before migration 0014: no file manager rows
        session.execute(delete(File).where(File.tenant_id == alice.id))
    root(alice)
    (folder,) = listing(alice, parent_id=kb_folder(alice)["id"])["files"]
    assert folder["id"] == dataset_id
    (shown,) = listing(alice, parent_id=dataset_id)["files"]  # not the converted document
    assert shown["kbs_info"][0]["document_id"] == document_id
    dataset_upload(alice, dataset_id, "new.md", TEXT)
    names = [f["name"] for f in listing(alice, parent_id=dataset_id, orderby="name")["files"]]
    assert names == ["new.md", "old.md"]
