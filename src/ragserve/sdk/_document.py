"""``Document``: a file in a dataset, its metadata, its bytes and its chunks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ragserve.sdk._chunk import AsyncChunk, Chunk
from ragserve.sdk._http import QueryValue, content_of
from ragserve.sdk._model import Base, _Object, default

if TYPE_CHECKING:
    from ragserve.sdk._async_client import AsyncRAGFlow
    from ragserve.sdk._client import RAGFlow

__all__ = ["AsyncDocument", "Document"]


class _DocumentFields(_Object):
    """The attributes ragflow-sdk keeps; other keys the server sends are dropped."""

    class ParserConfig(Base):
        """The document's chunking settings (``chunk_token_num``, ``delimiter``...)."""

    _keep_unknown = False
    _nested: ClassVar[Mapping[str, type[_Object]]] = {"parser_config": ParserConfig}

    id: str = ""
    name: str = ""
    thumbnail: str | None = None
    dataset_id: str | None = None
    chunk_method: str = "naive"
    parser_config: ParserConfig | None = default({"pages": [[1, 1000000]]})
    source_type: str = "local"
    type: str = ""
    created_by: str = ""
    size: int = 0
    token_count: int = 0
    chunk_count: int = 0
    progress: float = 0.0
    progress_msg: str = ""
    process_begin_at: str | None = None
    process_duration: float = 0.0
    run: str = "0"
    """UNSTART, RUNNING, CANCEL, DONE or FAIL."""
    status: str = "1"
    """"1" enabled, "0" disabled."""
    meta_fields: Base = default({})

    @property
    def _path(self) -> str:
        return f"/datasets/{self.dataset_id}/documents/{self.id}"


def chunk_query(page: int, page_size: int, keywords: str, id: str) -> dict[str, QueryValue]:
    return {"keywords": keywords, "page": page, "page_size": page_size, "id": id}


def chunk_body(
    content: str, important_keywords: Sequence[str], questions: Sequence[str]
) -> dict[str, Any]:
    return {
        "content": content,
        "important_keywords": list(important_keywords),
        "questions": list(questions),
    }


class Document(_DocumentFields):
    rag: RAGFlow

    def update(self, update_message: dict[str, Any]) -> Document:
        """Changes the document (``name``, ``meta_fields``, ``chunk_method``,
        ``parser_config``, ``enabled``) and takes on the server's new values.

        :returns: this document.
        """
        data = self.rag._http.call("PUT", self._path, json=update_message)
        self._merge(data if isinstance(data, dict) else {})
        return self

    def download(self) -> bytes:
        """The file's bytes."""
        return content_of(self.rag._http.send("GET", self._path))

    def list_chunks(
        self, page: int = 1, page_size: int = 30, keywords: str = "", id: str = ""
    ) -> list[Chunk]:
        """The document's chunks, a page at a time; ``keywords`` matches their text, ``id``
        picks one."""
        query = chunk_query(page, page_size, keywords, id)
        data = self.rag._http.call("GET", f"{self._path}/chunks", params=query)
        return [Chunk(self.rag, chunk) for chunk in data["chunks"]]

    def add_chunk(
        self, content: str, important_keywords: Sequence[str] = (), questions: Sequence[str] = ()
    ) -> Chunk:
        """Adds a chunk written by hand; it is embedded at once."""
        body = chunk_body(content, important_keywords, questions)
        data = self.rag._http.call("POST", f"{self._path}/chunks", json=body)
        return Chunk(self.rag, data["chunk"])

    def delete_chunks(self, ids: list[str] | None = None) -> None:
        """Deletes these chunks; ``None`` deletes all of the document's chunks."""
        self.rag._http.call("DELETE", f"{self._path}/chunks", json={"chunk_ids": ids})


class AsyncDocument(_DocumentFields):
    """``Document`` of ``AsyncRAGFlow``; the methods are the same, awaited."""

    rag: AsyncRAGFlow

    async def update(self, update_message: dict[str, Any]) -> AsyncDocument:
        data = await self.rag._http.call("PUT", self._path, json=update_message)
        self._merge(data if isinstance(data, dict) else {})
        return self

    async def download(self) -> bytes:
        return content_of(await self.rag._http.send("GET", self._path))

    async def list_chunks(
        self, page: int = 1, page_size: int = 30, keywords: str = "", id: str = ""
    ) -> list[AsyncChunk]:
        query = chunk_query(page, page_size, keywords, id)
        data = await self.rag._http.call("GET", f"{self._path}/chunks", params=query)
        return [AsyncChunk(self.rag, chunk) for chunk in data["chunks"]]

    async def add_chunk(
        self, content: str, important_keywords: Sequence[str] = (), questions: Sequence[str] = ()
    ) -> AsyncChunk:
        body = chunk_body(content, important_keywords, questions)
        data = await self.rag._http.call("POST", f"{self._path}/chunks", json=body)
        return AsyncChunk(self.rag, data["chunk"])

    async def delete_chunks(self, ids: list[str] | None = None) -> None:
        await self.rag._http.call("DELETE", f"{self._path}/chunks", json={"chunk_ids": ids})
