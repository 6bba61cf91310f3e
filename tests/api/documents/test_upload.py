"""Uploading documents: names, types, duplicates, batches, unicode."""

from __future__ import annotations

import os
from urllib.parse import unquote

import pytest

from api.documents.support import (
    EXE,
    PDF,
    PNG,
    UNSUPPORTED,
    UPLOAD_KEYS,
    ZIP,
    blob_key,
    docs_url,
    download,
    get_dataset,
    list_docs,
    listed_names,
    make_dataset,
    new_id,
    raw_upload,
    stored_files,
    upload,
    upload_one,
)
from conftest import Account
from ragserve.runtime import Runtime

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
