"""``Chunk``: a piece of a document, as listed, added or retrieved."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ragserve.sdk._exceptions import APIError, ChunkUpdateError
from ragserve.sdk._model import _Object, default

if TYPE_CHECKING:
    from ragserve.sdk._async_client import AsyncRAGFlow
    from ragserve.sdk._client import RAGFlow

__all__ = ["AsyncChunk", "Chunk"]


class _ChunkFields(_Object):
    """The attributes ragflow-sdk keeps; other keys the server sends are dropped."""

    _keep_unknown = False

    id: str = ""
    content: str = ""
    important_keywords: list[str] = default([])
    questions: list[str] = default([])
    create_time: str = ""
    create_timestamp: float = 0.0
    dataset_id: str | None = None
    document_name: str = ""
    documnet_keyword: str = ""  # sic: ragflow-sdk's name
    document_id: str = ""
    available: bool = True
    similarity: float = 0.0
    vector_similarity: float = 0.0
    term_similarity: float = 0.0
    positions: list[Any] = default([])
    doc_type: str = ""

    def __init__(self, rag: Any, res_dict: Any) -> None:
        super().__init__(rag, res_dict)
        if not self.document_name:  # RAGFlow sends the name under other keys
            keys = ("document_keyword", "docnm_kwd")  # retrieval; a document's chunk list
            found = [str(res_dict[key]) for key in keys if res_dict.get(key)]
            self.document_name = self.documnet_keyword or next(iter(found), "")

    @property
    def _path(self) -> str:
        return f"/datasets/{self.dataset_id}/documents/{self.document_id}/chunks/{self.id}"


def _update_error(error: APIError) -> ChunkUpdateError:
    return ChunkUpdateError(error.message, code=error.code or 0, data=error.data,
                            details=error.details)  # fmt: skip


class Chunk(_ChunkFields):
    rag: RAGFlow

    def update(self, update_message: dict[str, Any]) -> None:
        """Changes the chunk (``content``, ``important_keywords``, ``questions``,
        ``available``...).

        :raises ChunkUpdateError: the server refused the change.
        """
        try:
            self.rag._http.call("PUT", self._path, json=update_message)
        except APIError as error:
            raise _update_error(error) from error


class AsyncChunk(_ChunkFields):
    """``Chunk`` of ``AsyncRAGFlow``."""

    rag: AsyncRAGFlow

    async def update(self, update_message: dict[str, Any]) -> None:
        """See ``Chunk.update``."""
        try:
            await self.rag._http.call("PUT", self._path, json=update_message)
        except APIError as error:
            raise _update_error(error) from error
