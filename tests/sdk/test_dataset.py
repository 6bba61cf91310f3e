"""``DataSet`` and ``Document`` methods against the in-process app."""

from __future__ import annotations

import io

import pytest

from ragserve.sdk import APIError, ChunkUpdateError, DataSet, Document, ErrorCode, RAGFlow
from sdk.conftest import OWLS


def test_update_takes_on_the_servers_values(rag: RAGFlow) -> None:
    dataset = rag.create_dataset("before")
    assert dataset.update({"name": "after", "chunk_method": "manual"}) is dataset
    assert (dataset.name, dataset.chunk_method) == ("after", "manual")
    assert dataset.parser_config is not None and dataset.parser_config.raptor.use_raptor is False
    with pytest.raises(APIError, match="No properties were modified"):
        dataset.update({})
    assert dataset.name == "after"


def test_documents_are_uploaded_listed_and_deleted(rag: RAGFlow) -> None:
    dataset = rag.create_dataset("files")
    uploaded = dataset.upload_documents(
        [
            {"display_name": "a.txt", "blob": b"alpha"},
            {"display_name": "b.md", "blob": "# Beta"},  # text is sent as UTF-8
            {"display_name": "c.txt", "blob": io.BytesIO(b"gamma")},
        ]
    )
    assert [(d.name, d.size, d.run) for d in uploaded] == [
        ("a.txt", 5, "UNSTART"), ("b.md", 6, "UNSTART"), ("c.txt", 5, "UNSTART")
    ]  # fmt: skip
    assert all(isinstance(d, Document) and d.dataset_id == dataset.id for d in uploaded)
    names = [d.name for d in dataset.list_documents(orderby="name", desc=False)]
    assert names == ["a.txt", "b.md", "c.txt"]
    assert [d.name for d in dataset.list_documents(keywords="B.")] == ["b.md"]
    assert [d.id for d in dataset.list_documents(id=uploaded[0].id)] == [uploaded[0].id]
    assert len(dataset.list_documents(page=2, page_size=2)) == 1

    dataset.delete_documents([uploaded[0].id])
    assert {d.name for d in dataset.list_documents()} == {"b.md", "c.txt"}
    with pytest.raises(APIError, match="Documents not found") as caught:
        dataset.delete_documents([uploaded[0].id])
    assert caught.value.code == ErrorCode.DATA_ERROR
    dataset.delete_documents()
    assert dataset.list_documents() == []


def test_parse_documents_reports_progress_and_results(rag: RAGFlow) -> None:
    dataset = rag.create_dataset("parse")
    docs = dataset.upload_documents(
        [
            {"display_name": "owls.md", "blob": OWLS.encode()},
            {"display_name": "x.pdf", "blob": b"no"},
        ]
    )
    seen: list[tuple[str, str]] = []
    results = dataset.parse_documents(
        [d.id for d in docs], on_progress=lambda d: seen.append((d.name, d.run)), timeout=60
    )
    [(owls_id, done, chunks, tokens), (pdf_id, failed, none, _)] = results
    assert (owls_id, done, pdf_id, failed, none) == (docs[0].id, "DONE", docs[1].id, "FAIL", 0)
    assert chunks == 1 and tokens > 0
    assert sorted(seen) == [("owls.md", "DONE"), ("x.pdf", "FAIL")]  # each change, once


def test_parse_documents_cancels_what_it_started_on_ctrl_c(rag: RAGFlow) -> None:
    dataset = rag.create_dataset("interrupted")
    [doc] = dataset.upload_documents([{"display_name": "owls.md", "blob": OWLS.encode()}])

    def interrupt(document: Document) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        dataset.parse_documents([doc.id], on_progress=interrupt)


def test_async_parse_and_cancel(rag: RAGFlow) -> None:
    dataset = rag.create_dataset("async")
    [doc] = dataset.upload_documents([{"display_name": "owls.md", "blob": OWLS.encode()}])
    dataset.async_parse_documents([doc.id])  # inline here: done on return
    assert dataset.list_documents(id=doc.id)[0].run == "DONE"
    with pytest.raises(APIError, match=r"Documents not found: \['nope'\]"):
        dataset.async_parse_documents(["nope"])
    with pytest.raises(APIError):
        dataset.async_cancel_parse_documents(["nope"])


def test_documents_are_updated_and_downloaded(owls: DataSet) -> None:
    [document] = owls.list_documents()
    assert document.download() == OWLS.encode()
    returned = document.update({"name": "barn-owls.md", "meta_fields": {"genus": "Tyto"}})
    assert returned is document and document.name == "barn-owls.md"
    assert document.meta_fields.to_json() == {"genus": "Tyto"}
    with pytest.raises(APIError, match="meta_fields must be a dictionary"):
        document.update({"meta_fields": ["not", "a", "dict"]})
    owls.delete_documents([document.id])
    with pytest.raises(APIError, match="The dataset not own the document"):
        document.download()


def test_chunks_are_listed_added_updated_and_deleted(owls: DataSet) -> None:
    [document] = owls.list_documents()
    [chunk] = document.list_chunks()
    assert chunk.document_id == document.id and chunk.dataset_id == owls.id
    assert chunk.document_name == "owls.md"  # RAGFlow sends it as docnm_kwd here

    added = document.add_chunk("Owls swallow their prey whole.", ["prey"], ["What do owls eat?"])
    assert (added.important_keywords, added.questions) == (["prey"], ["What do owls eat?"])
    assert {c.id for c in document.list_chunks()} == {chunk.id, added.id}
    [found] = document.list_chunks(keywords="swallow")
    assert found.id == added.id
    assert [c.id for c in document.list_chunks(id=chunk.id)] == [chunk.id]

    added.update({"content": "Owls swallow small prey whole.", "available": False})
    [changed] = document.list_chunks(id=added.id)
    assert changed.content == "Owls swallow small prey whole." and changed.available is False
    with pytest.raises(ChunkUpdateError) as caught:
        added.update({"content": 42})
    assert caught.value.message == "`content` should be a string"
    assert isinstance(caught.value, APIError) and caught.value.code == ErrorCode.DATA_ERROR

    document.delete_chunks([added.id])
    assert [c.id for c in document.list_chunks()] == [chunk.id]
    document.delete_chunks()
    assert document.list_chunks() == []
