"""``DataSet``: a knowledge base, its documents and their parsing."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, ClassVar, Generic, TypeAlias, TypedDict, TypeVar

from ragserve.sdk._document import AsyncDocument, Document, _DocumentFields
from ragserve.sdk._exceptions import ParseTimeout, RAGServeError
from ragserve.sdk._http import Files, QueryValue
from ragserve.sdk._model import Base, _Object

if TYPE_CHECKING:
    from ragserve.sdk._async_client import AsyncRAGFlow
    from ragserve.sdk._client import RAGFlow

__all__ = ["AsyncDataSet", "DataSet", "DocumentUpload", "ParseResult"]

ParseResult: TypeAlias = tuple[str, str, int, int]
"""``(document_id, run, chunk_count, token_count)`` of a document whose parsing ended."""
FINISHED = frozenset({"DONE", "FAIL", "CANCEL"})


class DocumentUpload(TypedDict):
    """A file for ``upload_documents``: its name and its content."""

    display_name: str
    blob: bytes | str | IO[bytes]


class _DataSetFields(_Object):
    """The attributes ragflow-sdk keeps; other keys the server sends are dropped."""

    class ParserConfig(Base):
        """Chunking settings (``chunk_token_num``, ``delimiter``, ``raptor``...). Built by
        hand as ``DataSet.ParserConfig(rag, {...})`` for ``create_dataset``."""

    _keep_unknown = False
    _nested: ClassVar[Mapping[str, type[_Object]]] = {"parser_config": ParserConfig}

    id: str = ""
    name: str = ""
    avatar: str | None = ""
    tenant_id: str | None = None
    description: str | None = ""
    embedding_model: str = ""
    permission: str = "me"
    document_count: int = 0
    chunk_count: int = 0
    chunk_method: str = "naive"
    parser_config: ParserConfig | None = None
    pagerank: int = 0

    @property
    def _path(self) -> str:
        return f"/datasets/{self.id}"


def upload_files(document_list: Sequence[DocumentUpload]) -> Files:
    return [("file", (document["display_name"], document["blob"])) for document in document_list]


def documents_query(
    id: str | None,
    name: str | None,
    keywords: str | None,
    page: int,
    page_size: int,
    orderby: str,
    desc: bool,
    create_time_from: int,
    create_time_to: int,
) -> dict[str, QueryValue]:
    return {
        "id": id,
        "name": name,
        "keywords": keywords,
        "page": page,
        "page_size": page_size,
        "orderby": orderby,
        "desc": desc,
        "create_time_from": create_time_from,
        "create_time_to": create_time_to,
    }


D = TypeVar("D", bound=_DocumentFields)


class _ParseWatch(Generic[D]):
    """What ``parse_documents`` has seen: which documents finished, which changed since the
    last look (for the progress callback), and how long it may still wait."""

    def __init__(
        self,
        document_ids: Sequence[str],
        on_progress: Callable[[D], object] | None,
        timeout: float | None,
    ) -> None:
        self.order = list(dict.fromkeys(document_ids))
        self.pending = list(self.order)
        self.finished: dict[str, ParseResult] = {}
        self._on_progress = on_progress
        self._seen: dict[str, tuple[object, ...]] = {}
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._timeout = timeout

    def observe(self, document: D) -> None:
        state = (document.run, document.progress, document.progress_msg)
        if self._seen.get(document.id) != state:
            self._seen[document.id] = state
            if self._on_progress is not None:
                self._on_progress(document)
        run = str(document.run).upper()
        if run in FINISHED or float(document.progress or 0.0) >= 1.0:
            run = document.run if run in FINISHED else "DONE"
            self.finished[document.id] = (
                document.id, run, document.chunk_count, document.token_count
            )  # fmt: skip
            self.pending.remove(document.id)

    def results(self) -> list[ParseResult]:
        """The results in the order the documents were given."""
        return [self.finished[id] for id in self.order if id in self.finished]

    def pause(self, poll_interval: float) -> float:
        """Seconds to sleep before the next look; raises ``ParseTimeout`` when time is up."""
        if self._deadline is None:
            return poll_interval
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise ParseTimeout(
                f"Parsing did not finish within {self._timeout} s; cancelling the parsing of "
                f"{len(self.pending)} document(s): {', '.join(self.pending)}",
                pending=self.pending,
                finished=self.results(),
            )
        return min(poll_interval, left)


def one(documents: Sequence[D], document_id: str) -> D:
    if not documents:
        raise RAGServeError(f"The document {document_id} is gone.")
    return documents[0]


class DataSet(_DataSetFields):
    rag: RAGFlow

    def update(self, update_message: dict[str, Any]) -> DataSet:
        """Changes the dataset (``name``, ``description``, ``chunk_method``, ``parser_config``,
        ``permission``, ``pagerank``...) and takes on the server's new values.

        :returns: this dataset.
        """
        data = self.rag._http.call("PUT", self._path, json=update_message)
        self._merge(data if isinstance(data, dict) else {})
        return self

    def upload_documents(self, document_list: Sequence[DocumentUpload]) -> list[Document]:
        """Uploads files (``[{"display_name": "a.pdf", "blob": b"..."}]``); they are not
        parsed yet."""
        path = f"{self._path}/documents"
        data = self.rag._http.call("POST", path, files=upload_files(document_list))
        return [Document(self.rag, document) for document in data]

    def list_documents(
        self,
        id: str | None = None,
        name: str | None = None,
        keywords: str | None = None,
        page: int = 1,
        page_size: int = 30,
        orderby: str = "create_time",
        desc: bool = True,
        create_time_from: int = 0,
        create_time_to: int = 0,
    ) -> list[Document]:
        """The dataset's documents, a page at a time, newest first unless ``desc=False``."""
        query = documents_query(id, name, keywords, page, page_size, orderby, desc,
                                create_time_from, create_time_to)  # fmt: skip
        data = self.rag._http.call("GET", f"{self._path}/documents", params=query)
        return [Document(self.rag, document) for document in data["docs"]]

    def delete_documents(self, ids: list[str] | None = None) -> None:
        """Deletes these documents with their chunks; ``None`` deletes all of them."""
        self.rag._http.call("DELETE", f"{self._path}/documents", json={"ids": ids})

    def async_parse_documents(self, document_ids: list[str]) -> None:
        """Starts parsing the documents and returns at once (progress shows in
        ``list_documents``)."""
        body = {"document_ids": document_ids}
        self.rag._http.call("POST", f"{self._path}/chunks", json=body)

    def async_cancel_parse_documents(self, document_ids: list[str]) -> None:
        """Stops parsing the documents."""
        body = {"document_ids": document_ids}
        self.rag._http.call("DELETE", f"{self._path}/chunks", json=body)

    def parse_documents(
        self,
        document_ids: list[str],
        *,
        on_progress: Callable[[Document], object] | None = None,
        timeout: float | None = None,
        poll_interval: float = 1.0,
    ) -> list[ParseResult]:
        """Parses the documents and waits until each is done, failed or cancelled.

        :param on_progress: called with a document each time its ``run``, ``progress`` or
            ``progress_msg`` changed, checked every ``poll_interval`` seconds.
        :param timeout: seconds to wait at most; then the unfinished documents' parsing is
            cancelled and ``ParseTimeout`` raised. ``None`` waits as long as it takes.
        :returns: ``(document_id, run, chunk_count, token_count)`` per document, in order.
        :raises ParseTimeout: ``timeout`` passed first.

        On Ctrl-C (``KeyboardInterrupt``) the unfinished documents' parsing is cancelled and
        the interrupt goes on.
        """
        self.async_parse_documents(document_ids)
        watch: _ParseWatch[Document] = _ParseWatch(document_ids, on_progress, timeout)
        try:
            while True:
                for document_id in list(watch.pending):
                    watch.observe(one(self.list_documents(id=document_id), document_id))
                if not watch.pending:
                    return watch.results()
                time.sleep(watch.pause(poll_interval))
        except (KeyboardInterrupt, ParseTimeout):
            for document_id in watch.pending:  # one by one: one that just ended fails alone
                with contextlib.suppress(RAGServeError):
                    self.async_cancel_parse_documents([document_id])
            raise

    def async_reembed(self, embedding_model: str | None = None) -> str:
        """Starts embedding the dataset's chunks again with ``embedding_model`` (default: the
        tenant's default embedding model) and returns the task's id at once. A ragserve
        extension; follow it with ``reembed_status``."""
        body = {} if embedding_model is None else {"embedding_model": embedding_model}
        data = self.rag._http.call("POST", f"{self._path}/reembed", json=body)
        return str(data["reembed_task_id"])

    def reembed_status(self) -> dict[str, Any]:
        """The newest re-embedding task (``progress`` 0..1, -1 when it failed or was
        cancelled; ``progress_msg``; ``embedding_model``), or ``{}``."""
        data = self.rag._http.call("GET", f"{self._path}/reembed")
        return dict(data) if isinstance(data, dict) else {}

    def cancel_reembed(self) -> None:
        """Cancels the running re-embedding; the dataset keeps its model and vectors."""
        self.rag._http.call("DELETE", f"{self._path}/reembed")

    def reembed(
        self,
        embedding_model: str | None = None,
        *,
        on_progress: Callable[[dict[str, Any]], object] | None = None,
        timeout: float | None = None,
        poll_interval: float = 1.0,
    ) -> DataSet:
        """Embeds the dataset's chunks again with ``embedding_model`` (default: the tenant's
        default embedding model) and waits until the dataset uses it.

        :param on_progress: called with the task row each time its progress or log changed.
        :param timeout: seconds to wait at most; then the re-embedding is cancelled and
            ``ParseTimeout`` raised.
        :returns: this dataset, with its new ``embedding_model``.
        :raises RAGServeError: the task failed or was cancelled (the dataset is unchanged).
        """
        self.async_reembed(embedding_model)
        watch = _ReembedWatch(on_progress, timeout)
        try:
            while not watch.observe(self.reembed_status()):
                time.sleep(watch.pause(poll_interval))
        except (KeyboardInterrupt, ParseTimeout):
            with contextlib.suppress(RAGServeError):
                self.cancel_reembed()
            raise
        self._merge(self.rag._http.call("GET", "/datasets", params={"id": self.id})[0])
        return self


class _ReembedWatch:
    """Follows a re-embedding task's row until it ends."""

    def __init__(
        self, on_progress: Callable[[dict[str, Any]], object] | None, timeout: float | None
    ) -> None:
        self.on_progress = on_progress
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.seen: tuple[Any, Any] | None = None

    def observe(self, row: dict[str, Any]) -> bool:
        """Whether the task is done; raises if it failed."""
        state = (row.get("progress"), row.get("progress_msg"))
        if state != self.seen:
            self.seen = state
            if self.on_progress is not None:
                self.on_progress(row)
        progress = float(row.get("progress") or 0)
        if progress < 0:
            lines = str(row.get("progress_msg") or "").strip().splitlines()
            raise RAGServeError(lines[-1] if lines else "The re-embedding failed.")
        return progress >= 1

    def pause(self, poll_interval: float) -> float:
        if self.deadline is None:
            return poll_interval
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ParseTimeout(
                "The re-embedding did not finish in time; it was cancelled.",
                pending=[],
                finished=[],
            )
        return min(poll_interval, left)


class AsyncDataSet(_DataSetFields):
    """``DataSet`` of ``AsyncRAGFlow``; the methods are the same, awaited."""

    rag: AsyncRAGFlow

    async def update(self, update_message: dict[str, Any]) -> AsyncDataSet:
        data = await self.rag._http.call("PUT", self._path, json=update_message)
        self._merge(data if isinstance(data, dict) else {})
        return self

    async def upload_documents(
        self, document_list: Sequence[DocumentUpload]
    ) -> list[AsyncDocument]:
        path = f"{self._path}/documents"
        data = await self.rag._http.call("POST", path, files=upload_files(document_list))
        return [AsyncDocument(self.rag, document) for document in data]

    async def list_documents(
        self,
        id: str | None = None,
        name: str | None = None,
        keywords: str | None = None,
        page: int = 1,
        page_size: int = 30,
        orderby: str = "create_time",
        desc: bool = True,
        create_time_from: int = 0,
        create_time_to: int = 0,
    ) -> list[AsyncDocument]:
        query = documents_query(id, name, keywords, page, page_size, orderby, desc,
                                create_time_from, create_time_to)  # fmt: skip
        data = await self.rag._http.call("GET", f"{self._path}/documents", params=query)
        return [AsyncDocument(self.rag, document) for document in data["docs"]]

    async def delete_documents(self, ids: list[str] | None = None) -> None:
        await self.rag._http.call("DELETE", f"{self._path}/documents", json={"ids": ids})

    async def async_parse_documents(self, document_ids: list[str]) -> None:
        body = {"document_ids": document_ids}
        await self.rag._http.call("POST", f"{self._path}/chunks", json=body)

    async def async_cancel_parse_documents(self, document_ids: list[str]) -> None:
        body = {"document_ids": document_ids}
        await self.rag._http.call("DELETE", f"{self._path}/chunks", json=body)

    async def parse_documents(
        self,
        document_ids: list[str],
        *,
        on_progress: Callable[[AsyncDocument], object] | None = None,
        timeout: float | None = None,
        poll_interval: float = 1.0,
    ) -> list[ParseResult]:
        """See ``DataSet.parse_documents``; cancelling the task cancels the parsing too."""
        await self.async_parse_documents(document_ids)
        watch: _ParseWatch[AsyncDocument] = _ParseWatch(document_ids, on_progress, timeout)
        try:
            while True:
                for document_id in list(watch.pending):
                    found = await self.list_documents(id=document_id)
                    watch.observe(one(found, document_id))
                if not watch.pending:
                    return watch.results()
                await asyncio.sleep(watch.pause(poll_interval))
        except (asyncio.CancelledError, ParseTimeout):
            for document_id in watch.pending:
                with contextlib.suppress(RAGServeError):
                    await self.async_cancel_parse_documents([document_id])
            raise

    async def async_reembed(self, embedding_model: str | None = None) -> str:
        body = {} if embedding_model is None else {"embedding_model": embedding_model}
        data = await self.rag._http.call("POST", f"{self._path}/reembed", json=body)
        return str(data["reembed_task_id"])

    async def reembed_status(self) -> dict[str, Any]:
        data = await self.rag._http.call("GET", f"{self._path}/reembed")
        return dict(data) if isinstance(data, dict) else {}

    async def cancel_reembed(self) -> None:
        await self.rag._http.call("DELETE", f"{self._path}/reembed")

    async def reembed(
        self,
        embedding_model: str | None = None,
        *,
        on_progress: Callable[[dict[str, Any]], object] | None = None,
        timeout: float | None = None,
        poll_interval: float = 1.0,
    ) -> AsyncDataSet:
        """See ``DataSet.reembed``; cancelling the task cancels the re-embedding too."""
        await self.async_reembed(embedding_model)
        watch = _ReembedWatch(on_progress, timeout)
        try:
            while not watch.observe(await self.reembed_status()):
                await asyncio.sleep(watch.pause(poll_interval))
        except (asyncio.CancelledError, ParseTimeout):
            with contextlib.suppress(RAGServeError):
                await self.cancel_reembed()
            raise
        found = await self.rag._http.call("GET", "/datasets", params={"id": self.id})
        self._merge(found[0])
        return self
