"""RAGFlow's official Python SDK (``ragflow_sdk`` 0.23.1) against a real ragserve process.

``run_scenario`` takes the SDK *module* as a parameter, so that the same scenario can be run
against any SDK with RAGFlow's interface (``RAGFlow``, ``DataSet.ParserConfig``): it runs with
``ragflow_sdk`` and with ``ragserve.sdk`` in its place.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import pytest
import ragflow_sdk

import ragserve.sdk
from helpers.server import RunningServer, running_server
from helpers.spec_values import NAIVE_PARSER_CONFIG, STRUCTURED_PARSER_CONFIG

pytestmark = pytest.mark.e2e

ID = re.compile(r"^[0-9a-f]{32}$")
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2-q8@Builtin"
SDKS = [pytest.param(ragflow_sdk, id="ragflow_sdk"), pytest.param(ragserve.sdk, id="ragserve.sdk")]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("sdk") / "home") as running:
        yield running


def plain(value: Any) -> Any:
    """A nested SDK object (``Base``) as plain data; dicts and lists recursively."""
    if hasattr(value, "to_json"):
        return plain(value.to_json())
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def raises(call: Any, *args: Any) -> str:
    """The message of the exception ``call(*args)`` raises; fails if it returns."""
    with pytest.raises(Exception) as caught:  # the SDK raises bare Exception
        call(*args)
    return str(caught.value)


@contextmanager
def sdk_client(rag_module: ModuleType, base_url: str, api_key: str) -> Iterator[Any]:
    """A client of either SDK; ragserve.sdk's keeps a connection pool, closed here."""
    rag = rag_module.RAGFlow(api_key=api_key, base_url=base_url)
    try:
        yield rag
    finally:
        if hasattr(rag, "close"):
            rag.close()


def run_scenario(rag_module: ModuleType, base_url: str, api_key: str) -> None:
    """Datasets and documents through the SDK, asserting every step. Starts by deleting all of
    the caller's datasets and ends with none left."""
    with sdk_client(rag_module, base_url, api_key) as rag:
        scenario(rag_module, rag)


def scenario(rag_module: ModuleType, rag: Any) -> None:
    rag.delete_datasets(ids=None)
    assert rag.list_datasets() == []

    # --- create ------------------------------------------------------------------------------
    first = rag.create_dataset(name="sdk-first")
    assert ID.match(first.id)
    assert first.name == "sdk-first"
    assert ID.match(first.tenant_id)
    assert first.chunk_method == "naive"
    assert first.permission == "me"
    assert first.description is None
    assert first.avatar is None
    assert first.embedding_model == DEFAULT_EMBEDDING_MODEL
    assert (first.document_count, first.chunk_count, first.pagerank) == (0, 0, 0)
    config = plain(first.parser_config)
    assert config == {**NAIVE_PARSER_CONFIG, "llm_id": config["llm_id"]}
    assert config["raptor"]["use_raptor"] is True
    assert config["graphrag"]["use_graphrag"] is True
    assert config["graphrag"]["entity_types"] == [
        "organization",
        "person",
        "geo",
        "event",
        "category",
    ]
    assert "llm_id" in config

    custom = rag_module.DataSet.ParserConfig(rag, {"chunk_token_num": 1024, "delimiter": "\n!?"})
    full = rag.create_dataset(
        name="  sdk-full  ",
        description="A dataset with everything set",
        permission="team",
        chunk_method="qa",
        parser_config=custom,
    )
    assert full.name == "sdk-full"  # stripped
    assert full.description == "A dataset with everything set"
    assert (full.permission, full.chunk_method) == ("team", "qa")
    assert full.tenant_id == first.tenant_id
    config = plain(full.parser_config)
    assert config["chunk_token_num"] == 1024
    assert config["delimiter"] == "\n!?"
    # The client's config is completed with ParserConfig's defaults (spec 3.3).
    assert config["raptor"]["use_raptor"] is False
    assert config["graphrag"]["use_graphrag"] is False
    assert config["topn_tags"] == 1
    assert config["filename_embd_weight"] == 0.1
    assert config["tag_kb_ids"] == []

    book = rag.create_dataset(name="sdk-book", chunk_method="book")
    assert book.chunk_method == "book"
    assert plain(book.parser_config) == {**STRUCTURED_PARSER_CONFIG, "llm_id": config["llm_id"]}

    # Duplicate names are suffixed, ignoring case (spec 2.1).
    again = rag.create_dataset(name="sdk-first")
    assert again.name == "sdk-first(1)" and again.id != first.id
    upper = rag.create_dataset(name="SDK-FIRST")
    assert upper.name == "SDK-FIRST(2)"

    message = raises(rag.create_dataset, "sdk-bad", None, None, None, "me", "nonsense")
    assert message.startswith("Field: <chunk_method> - Message: <Input should be 'naive'")
    message = raises(rag.create_dataset, "x" * 129)
    assert message.startswith("Field: <name> - Message: <String should have at most 128")
    message = raises(rag.create_dataset, "sdk-bad", None, None, "no-provider")
    assert "<model_name>@<provider>" in message

    # --- list --------------------------------------------------------------------------------
    created = [first, full, book, again, upper]
    newest_first = [dataset.id for dataset in reversed(created)]
    listed = rag.list_datasets(page_size=100)
    assert [dataset.id for dataset in listed] == newest_first
    assert [d.id for d in rag.list_datasets(desc=False, page_size=100)] == newest_first[::-1]
    pages = [rag.list_datasets(page=page, page_size=2) for page in (1, 2, 3, 4)]
    assert [len(page) for page in pages] == [2, 2, 1, 0]
    assert [dataset.id for page in pages for dataset in page] == newest_first
    ascending = [rag.list_datasets(page=page, page_size=3, desc=False) for page in (1, 2)]
    assert [dataset.id for page in ascending for dataset in page] == newest_first[::-1]

    [by_id] = rag.list_datasets(id=full.id)
    assert (by_id.id, by_id.name, by_id.permission) == (full.id, "sdk-full", "team")
    assert plain(by_id.parser_config) == plain(full.parser_config)
    [by_name] = rag.list_datasets(name="sdk-book")
    assert by_name.id == book.id
    [ignoring_case] = rag.list_datasets(name="SDK-BOOK")
    assert ignoring_case.id == book.id
    assert rag.get_dataset(name="sdk-full").id == full.id

    tenant = first.tenant_id
    message = raises(rag.get_dataset, "no-such-dataset")
    assert message == f"User '{tenant}' lacks permission for dataset 'no-such-dataset'"
    unknown = uuid.uuid1().hex
    message = raises(lambda: rag.list_datasets(id=unknown))
    assert message == f"User '{tenant}' lacks permission for dataset '{unknown}'"
    message = raises(lambda: rag.list_datasets(orderby="name"))
    assert message.startswith("Field: <orderby> - Message: <Input should be 'create_time'")
    message = raises(lambda: rag.list_datasets(page=0))
    assert message.startswith("Field: <page> - Message: <Input should be greater than or equal")

    # --- update ------------------------------------------------------------------------------
    time.sleep(0.01)  # update_time must differ from every create_time
    returned = first.update({"name": "sdk-renamed", "description": "Now described"})
    assert returned is first
    assert (first.name, first.description) == ("sdk-renamed", "Now described")
    [stored] = rag.list_datasets(id=first.id)
    assert (stored.name, stored.description) == ("sdk-renamed", "Now described")
    by_update = rag.list_datasets(orderby="update_time", page_size=100)
    assert by_update[0].id == first.id
    by_update = rag.list_datasets(orderby="update_time", desc=False, page_size=100)
    assert by_update[-1].id == first.id

    first.update({"chunk_method": "manual"})
    assert first.chunk_method == "manual"
    # A new method without a config replaces the config by the method's defaults (spec 2.1).
    assert plain(first.parser_config) == STRUCTURED_PARSER_CONFIG
    first.update({"parser_config": {"chunk_token_num": 256, "raptor": {"use_raptor": True}}})
    assert plain(first.parser_config) == {
        **STRUCTURED_PARSER_CONFIG,
        "chunk_token_num": 256,
        "raptor": {"use_raptor": True},
    }
    first.update({"permission": "team", "pagerank": 7})
    assert (first.permission, first.pagerank) == ("team", 7)
    [stored] = rag.list_datasets(id=first.id)
    assert (stored.chunk_method, stored.permission, stored.pagerank) == ("manual", "team", 7)
    assert plain(stored.parser_config) == plain(first.parser_config)

    message = raises(full.update, {"name": "sdk-renamed"})
    assert message == "Dataset name 'sdk-renamed' already exists"
    message = raises(full.update, {"name": "SDK-Renamed"})
    assert message == "Dataset name 'SDK-Renamed' already exists"
    assert full.name == "sdk-full"  # a failed update changes nothing
    first.update({"name": "SDK-Renamed"})  # its own name in another case is fine
    assert first.name == "SDK-Renamed"
    assert raises(full.update, {}) == "No properties were modified"
    message = raises(full.update, {"chunk_method": "nonsense"})
    assert message.startswith("Field: <chunk_method> - Message: <Input should be 'naive'")
    message = raises(full.update, {"parser_config": {"chunk_token_num": 0}})
    assert message.startswith("Field: <parser_config.chunk_token_num> - Message: <Input should")
    message = raises(full.update, {"unknown_key": 1})
    assert (
        message == "Field: <unknown_key> - Message: <Extra inputs are not permitted> - Value: <1>"
    )

    # --- delete datasets ---------------------------------------------------------------------
    rag.delete_datasets(ids=[again.id, upper.id])
    remaining = {dataset.id for dataset in rag.list_datasets(page_size=100)}
    assert remaining == {first.id, full.id, book.id}
    message = raises(rag.delete_datasets, [again.id])
    assert message == f"User '{tenant}' lacks permission for datasets: '{again.id}'"
    message = raises(rag.delete_datasets, [book.id, unknown])
    assert message == f"User '{tenant}' lacks permission for datasets: '{unknown}'"
    assert rag.get_dataset(name="sdk-book").id == book.id  # nothing was deleted
    rag.delete_datasets(ids=[])
    assert len(rag.list_datasets()) == 3

    # --- documents ---------------------------------------------------------------------------
    run_document_scenario(rag_module, rag, full)

    rag.delete_datasets(ids=None)
    assert rag.list_datasets() == []
    assert raises(rag.get_dataset, "sdk-full").endswith("lacks permission for dataset 'sdk-full'")


def run_document_scenario(rag_module: ModuleType, rag: Any, dataset: Any) -> None:
    files = {
        "hello.txt": b"hello world\n",
        "日本語の文書.md": "# 見出し\n\n本文です。😀\n".encode(),
        "empty.txt": b"",
        "data.csv": b"a,b\n1,2\n",
        "bytes.pdf": b"%PDF-1.4\n" + bytes(range(256)) * 512,
        "picture.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
    }
    uploaded = dataset.upload_documents(
        [{"display_name": name, "blob": blob} for name, blob in files.items()]
    )
    assert [doc.name for doc in uploaded] == list(files)
    for doc in uploaded:
        assert ID.match(doc.id)
        assert doc.dataset_id == dataset.id
        assert doc.size == len(files[doc.name])
        assert doc.run == "UNSTART"
        assert doc.source_type == "local"
        assert doc.created_by == dataset.tenant_id
    docs = {doc.name: doc for doc in uploaded}
    assert len({doc.id for doc in uploaded}) == len(files)
    assert docs["hello.txt"].chunk_method == "qa"  # the dataset's
    assert plain(docs["hello.txt"].parser_config) == plain(dataset.parser_config)
    assert docs["picture.png"].chunk_method == "picture"
    assert {name: doc.type for name, doc in docs.items()} == {
        "hello.txt": "doc",
        "日本語の文書.md": "doc",
        "empty.txt": "doc",
        "data.csv": "doc",
        "bytes.pdf": "pdf",
        "picture.png": "visual",
    }
    [counted] = rag.list_datasets(id=dataset.id)
    assert counted.document_count == len(files)

    # The same name again is suffixed.
    [copy] = dataset.upload_documents([{"display_name": "hello.txt", "blob": b"second"}])
    assert copy.name == "hello(1).txt"
    message = raises(dataset.upload_documents, [{"display_name": "tool.exe", "blob": b"MZ\x00"}])
    assert message == "tool.exe: This type of file has not been supported yet!"

    # --- list documents ----------------------------------------------------------------------
    listed = dataset.list_documents(page_size=100)
    assert len(listed) == len(files) + 1
    assert {doc.id for doc in listed} == {doc.id for doc in uploaded} | {copy.id}
    all_ids = [doc.id for doc in listed]
    pages = [dataset.list_documents(page=page, page_size=3) for page in (1, 2, 3, 4)]
    assert [len(page) for page in pages] == [3, 3, 1, 0]
    assert [doc.id for page in pages for doc in page] == all_ids
    ascending = dataset.list_documents(page_size=100, desc=False)
    assert [doc.id for doc in ascending] == all_ids[::-1]
    by_size = dataset.list_documents(page_size=100, orderby="size", desc=False)
    assert [doc.size for doc in by_size] == sorted(doc.size for doc in listed)

    [hello] = dataset.list_documents(id=docs["hello.txt"].id)
    assert (hello.name, hello.size, hello.status, hello.run) == ("hello.txt", 12, "1", "UNSTART")
    assert (hello.chunk_count, hello.token_count, hello.progress) == (0, 0, 0.0)
    assert plain(hello.meta_fields) == {}
    [unicode_doc] = dataset.list_documents(name="日本語の文書.md")
    assert unicode_doc.id == docs["日本語の文書.md"].id
    assert {doc.name for doc in dataset.list_documents(keywords="HELLO")} == {
        "hello.txt",
        "hello(1).txt",
    }
    assert [doc.name for doc in dataset.list_documents(keywords="の文")] == ["日本語の文書.md"]
    assert dataset.list_documents(keywords="no such text") == []
    assert raises(dataset.list_documents, "nope") == "You don't own the document nope."
    assert (
        raises(dataset.list_documents, None, "nope.txt") == "You don't own the document nope.txt."
    )

    # --- download ----------------------------------------------------------------------------
    for name in ("hello.txt", "日本語の文書.md", "data.csv", "bytes.pdf", "picture.png"):
        assert docs[name].download() == files[name], name
    assert copy.download() == b"second"

    # --- update ------------------------------------------------------------------------------
    doc = docs["hello.txt"]
    meta = {"author": "Ann", "year": 2024, "tags": ["a", "b"], "nested": {"k": "v"}}
    returned = doc.update(
        {"name": "greeting.txt", "meta_fields": meta, "enabled": 0, "chunk_method": "manual"}
    )
    assert returned is doc
    assert (doc.name, doc.status, doc.chunk_method, doc.run) == (
        "greeting.txt",
        "0",
        "manual",
        "UNSTART",
    )
    assert plain(doc.meta_fields) == meta
    config = plain(doc.parser_config)
    assert config["raptor"]["use_raptor"] is False  # merged with manual's defaults
    [stored] = dataset.list_documents(id=doc.id)
    assert (stored.name, stored.status, stored.chunk_method) == ("greeting.txt", "0", "manual")
    assert plain(stored.meta_fields) == meta
    assert stored.download() == files["hello.txt"]
    assert raises(dataset.list_documents, None, "hello.txt") == (
        "You don't own the document hello.txt."
    )

    doc.update({"enabled": 1, "meta_fields": {"author": "Bob"}})
    assert doc.status == "1"
    assert plain(doc.meta_fields) == {"author": "Bob"}  # replaced, not merged
    doc.update({"parser_config": {"chunk_token_num": 64}})
    assert plain(doc.parser_config)["chunk_token_num"] == 64

    message = raises(doc.update, {"name": "greeting.md"})
    assert message == "The extension of file can't be changed"
    message = raises(doc.update, {"name": "hello(1).txt"})
    assert message == "Duplicated document name in the same dataset."
    message = raises(doc.update, {"chunk_method": "nonsense"})
    assert message == "`chunk_method` nonsense doesn't exist"
    message = raises(docs["picture.png"].update, {"chunk_method": "naive"})
    assert message == "Not supported yet!"
    message = raises(doc.update, {"chunk_count": 5})
    assert message == "Can't change `chunk_count`."
    message = raises(doc.update, {"name": "x" * 252 + ".txt"})
    assert message == "File name must be 255 bytes or less."
    assert doc.name == "greeting.txt"

    # --- delete documents --------------------------------------------------------------------
    dataset.delete_documents(ids=[doc.id, copy.id])
    remaining = {d.id for d in dataset.list_documents(page_size=100)}
    assert remaining == {d.id for d in uploaded} - {doc.id}
    assert raises(dataset.delete_documents, [doc.id]) == f"Documents not found: ['{doc.id}']"
    message = raises(doc.download)
    assert message == f"The dataset not own the document {doc.id}."
    [counted] = rag.list_datasets(id=dataset.id)
    assert counted.document_count == len(files) - 1
    dataset.delete_documents(ids=None)
    assert dataset.list_documents() == []
    [counted] = rag.list_datasets(id=dataset.id)
    assert counted.document_count == 0


@pytest.mark.parametrize("sdk", SDKS)
def test_ragflow_sdk_scenario(server: RunningServer, sdk: ModuleType) -> None:
    run_scenario(sdk, server.base_url, server.api_key)


def test_scenario_can_run_twice(server: RunningServer) -> None:
    """The scenario leaves the server as it found it, so it can be repeated (or reused)."""
    run_scenario(ragflow_sdk, server.base_url, server.api_key)


def test_sdk_download_of_an_empty_file_is_empty(server: RunningServer) -> None:
    """RAGFlow answers ``{"code":102,"message":"This file is empty."}`` for an empty blob; ragserve
    returns the empty file (a deliberate deviation, docs/compatibility.md)."""
    rag = ragflow_sdk.RAGFlow(api_key=server.api_key, base_url=server.base_url)
    dataset = rag.create_dataset(name="sdk-empty-download")
    try:
        [empty] = dataset.upload_documents([{"display_name": "empty.txt", "blob": b""}])
        assert empty.size == 0
        assert empty.download() == b""
    finally:
        rag.delete_datasets(ids=[dataset.id])


@pytest.mark.parametrize("sdk", SDKS)
def test_sdk_with_a_wrong_key_raises(server: RunningServer, sdk: ModuleType) -> None:
    with sdk_client(sdk, server.base_url, "ragflow-not-a-key") as rag:
        assert raises(rag.list_datasets) == "Authentication error: API key is invalid!"
        assert raises(rag.create_dataset, "x") == "Authentication error: API key is invalid!"
