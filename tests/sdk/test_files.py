"""The SDK's file-manager methods, sync and async, against the in-process app."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ragserve.blobs.attachments import store_attachment
from ragserve.runtime import Runtime
from ragserve.sdk import APIError, AsyncRAGFlow, RAGFlow
from sdk.conftest import OWLS
from sdk.test_async import Scenario, run  # noqa: F401  (the async client fixture)


def test_file_manager_round_trip(rag: RAGFlow, runtime: Runtime) -> None:
    root = rag.get_root_folder()
    assert root["name"] == "/"
    folder = rag.create_folder("notes")
    [owls, other] = rag.upload_files(
        [("owls.md", OWLS.encode()), ("deep/other.txt", b"other")], parent_id=folder["id"]
    )
    page = rag.list_files(folder["id"], orderby="name", desc=True)
    assert page["total"] == 2 and [f["name"] for f in page["files"]] == ["owls.md", "deep"]
    assert rag.download_file(owls["id"]) == OWLS.encode()
    rag.rename_file(owls["id"], "barn-owls.md")
    rag.move_files([other["id"]], root["id"])
    assert {f["name"] for f in rag.list_files()["files"]} == {"notes", "other.txt"}
    dataset = rag.create_dataset(name="birds")
    [link] = rag.convert_files([owls["id"]], [dataset.id])
    [document] = dataset.list_documents()
    assert (document.id, document.name) == (link["document_id"], "barn-owls.md")
    rag.delete_files([folder["id"]])
    assert dataset.list_documents() == []
    with pytest.raises(APIError) as refused:
        rag.download_file(owls["id"])
    assert (refused.value.code, refused.value.message) == (404, "Document not found!")
    attachment_id = store_attachment(runtime.blobs, root["tenant_id"], b"<p>hi</p>")
    assert rag.download_attachment(attachment_id, "html") == b"<p>hi</p>"


def test_async_file_methods(run: Callable[[Scenario], None]) -> None:  # noqa: F811  (the fixture)
    async def scenario(rag: AsyncRAGFlow) -> None:
        root = await rag.get_root_folder()
        folder = await rag.create_folder("a", root["id"])
        [file] = await rag.upload_files([("x.txt", b"x")], folder["id"])
        assert (await rag.list_files(folder["id"]))["files"][0]["id"] == file["id"]
        assert await rag.download_file(file["id"]) == b"x"
        await rag.rename_file(file["id"], "y.txt")
        await rag.move_files([file["id"]], root["id"])
        dataset = await rag.create_dataset("d")
        [link] = await rag.convert_files([file["id"]], [dataset.id])
        assert link["file_id"] == file["id"]
        await rag.delete_files([file["id"], folder["id"]])
        assert (await rag.list_files())["total"] == 0
        with pytest.raises(APIError):
            await rag.download_attachment("0" * 32)

    run(scenario)
