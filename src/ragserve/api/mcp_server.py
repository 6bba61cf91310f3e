"""ragserve as an MCP server (issue 17, 6a): the ``ragserve_retrieval``, ``ragserve_list_datasets``
and ``ragserve_list_documents`` tools, built on the official ``mcp`` package.

Served two ways by the same ``MCPServer``:

* streamable HTTP at ``/mcp`` on the main server (``McpEndpoint``), stateless with JSON
  answers, each HTTP request authenticated by its ``Authorization: Bearer <API key>`` (or
  ``api_key: <key>``) header as RAGFlow's MCP server in host mode: no valid key, no MCP at all
  (401);
* stdio (``ragserve mcp``, in-process), with the one API key given on the command line.

Each tool call authenticates its key again (a revoked key stops working at once), then runs the
same services as ``/api/v1/retrieval``, ``GET /api/v1/datasets`` and ``GET …/documents``, in a
worker thread. A ``RagserveError``'s message is the tool's error text; anything else is logged
and answered "Internal error" with no exception text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal, TypeVar

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, InputRequiredResult, ToolAnnotations
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from ragserve import __version__
from ragserve.errors import RagserveError
from ragserve.runtime import Runtime
from ragserve.schemas.datasets import ListDatasets
from ragserve.schemas.documents import ListDocuments
from ragserve.schemas.retrieval import RetrievalRequest
from ragserve.services import datasets, documents, retrieval
from ragserve.services.auth import authenticate_api_key
from ragserve.services.tenancy import Caller

logger = logging.getLogger(__name__)

PATH = "/mcp"
RETRIEVAL_TOOL = "ragserve_retrieval"
LIST_DATASETS_TOOL = "ragserve_list_datasets"
LIST_DOCUMENTS_TOOL = "ragserve_list_documents"
INTERNAL_ERROR = "Internal error"

T = TypeVar("T")

_LOG_LEVELS: dict[str, Literal["DEBUG", "INFO", "WARNING", "ERROR"]] = {
    "debug": "DEBUG",
    "info": "INFO",
    "warning": "WARNING",
    "error": "ERROR",
}

_READ_ONLY = ToolAnnotations(readOnlyHint=True, idempotentHint=True, openWorldHint=False)


def authorization_of(headers: Any) -> str | None:
    """The credential of an HTTP request: ``Authorization`` as the API takes it, else RAGFlow's
    MCP ``api_key`` header (a bare key)."""
    authorization: str | None = headers.get("authorization")
    if authorization:
        return authorization
    api_key: str | None = headers.get("api_key") or headers.get("api-key")
    return f"Bearer {api_key}" if api_key else None


def _error_text(error: ValidationError) -> str:
    """A validation failure as the caller's text: RAGFlow's fixed messages as they are, other
    failures as ``field: message`` (never an exception's repr)."""
    first = error.errors()[0]
    context = first.get("ctx") or {}
    if "message" in context and "code" in context:
        return str(context["message"])
    field = ".".join(str(part) for part in first["loc"])
    return f"{field}: {first['msg']}" if field else str(first["msg"])


class ToolRunner:
    """Authenticates a tool call and runs its blocking work in a worker thread."""

    def __init__(self, runtime: Runtime, api_key: str | None = None) -> None:
        self.runtime = runtime
        self.api_key = api_key
        """The stdio server's key; over HTTP each request brings its own."""

    def authorization(self, ctx: Context) -> str | None:
        """The credential of the tool call: its HTTP request's, else the stdio server's key."""
        request = ctx.request_context.request
        if isinstance(request, Request):
            return authorization_of(request.headers)
        return f"Bearer {self.api_key}" if self.api_key else None

    async def run(self, authorization: str | None, work: Callable[[Caller], T]) -> T:
        """``work`` for the caller of ``authorization``, in a worker thread; any failure as a
        ``ToolError`` whose text is a ragserve message, never an exception's."""

        def call() -> T:
            with self.runtime.read() as session:
                caller = authenticate_api_key(session, authorization)
            return work(caller)

        try:
            return await anyio.to_thread.run_sync(call)
        except ToolError:
            raise
        except RagserveError as error:
            raise ToolError(error.message) from None
        except ValidationError as error:
            raise ToolError(_error_text(error)) from None
        except Exception:
            logger.exception("MCP tool call failed")
            raise ToolError(INTERNAL_ERROR) from None


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class _Server(MCPServer[Any]):
    """The ``mcp`` package's server, except that arguments refused by a tool's signature are
    reported as ``field: message``, not as pydantic's exception text."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as error:
            if isinstance(error.__cause__, ValidationError):
                text = _error_text(error.__cause__)
                raise ToolError(f"Error executing tool {name}: {text}") from None
            raise


def build_server(runtime: Runtime, api_key: str | None = None) -> MCPServer[Any]:
    """The MCP server with ragserve's tools over ``runtime``."""
    runner = ToolRunner(runtime, api_key)
    server = _Server(
        "ragserve",
        version=__version__,
        # MCPServer calls logging.basicConfig: a no-op once the command configured logging,
        # else (the app built by other code) at the server's level, not the package's INFO
        log_level=_LOG_LEVELS[runtime.settings.log_level],
        instructions="Search the datasets of a ragserve account: list them with "
        f"{LIST_DATASETS_TOOL} (and their documents with {LIST_DOCUMENTS_TOOL}), then find "
        f"the passages that answer a question with {RETRIEVAL_TOOL}.",
    )

    async def ragserve_retrieval(
        ctx: Context,
        question: str,
        dataset_ids: list[str] | None = None,
        document_ids: list[str] | None = None,
        page: int = 1,
        page_size: int = 10,
        similarity_threshold: float = 0.2,
        vector_similarity_weight: float = 0.3,
        keyword: bool = False,
        top_k: int = 1024,
        rerank_id: str | None = None,
        force_refresh: bool = False,
    ) -> str:
        """Retrieve the chunks of the account's datasets most relevant to `question`, best
        first, as JSON `{"chunks": [...], "pagination": {...}, "query_info": {...}}`; each
        chunk as POST /api/v1/retrieval gives it (id, content, document_id,
        document_keyword = the document's name, dataset_id, similarity, ...). Give
        `dataset_ids` to search only those datasets (see ragserve_list_datasets), or omit
        them to search all datasets the API key can see (they must then share one embedding
        model); `document_ids` to search only those documents. `similarity_threshold` drops
        weaker chunks; `vector_similarity_weight` weighs vector against keyword similarity;
        `keyword` adds keywords drawn from the question by the account's chat model; `top_k`
        bounds the vector candidates; `rerank_id` names a rerank model. `force_refresh` is
        accepted for RAGFlow compatibility and has no effect (nothing is cached)."""
        del force_refresh  # nothing is cached: every call reads the current datasets

        def work(caller: Caller) -> str:
            ids = dataset_ids
            if not ids:
                with runtime.read() as session:
                    ids = datasets.visible_dataset_ids(session, caller)
                if not ids:
                    raise ToolError("No datasets to search: this API key sees none.")
            request = RetrievalRequest.model_validate(
                {
                    "dataset_ids": ids,
                    "document_ids": document_ids or [],
                    "question": question,
                    "page": page,
                    "page_size": page_size,
                    "similarity_threshold": similarity_threshold,
                    "vector_similarity_weight": vector_similarity_weight,
                    "keyword": keyword,
                    "top_k": top_k,
                    "rerank_id": rerank_id,
                    "highlight": False,
                }
            )
            data = retrieval.retrieve(runtime, caller, request)
            return _dump(
                {
                    "chunks": [chunk.model_dump(mode="json") for chunk in data.chunks],
                    "pagination": {
                        "page": request.page,
                        "page_size": request.page_size,
                        "total_chunks": data.total,
                        "total_pages": -(-data.total // request.page_size),
                    },
                    "query_info": {
                        "question": question,
                        "similarity_threshold": request.similarity_threshold,
                        "vector_weight": request.vector_similarity_weight,
                        "keyword_search": request.keyword,
                        "dataset_count": len(request.dataset_ids),
                    },
                }
            )

        return await runner.run(runner.authorization(ctx), work)

    async def ragserve_list_datasets(
        ctx: Context, page: int = 1, page_size: int = 30, name: str | None = None
    ) -> str:
        """The datasets this API key can see (its own, and `team` datasets of tenants it has
        joined), newest first, as JSON `{"datasets": [...], "total": n}`: each with id,
        name, description, embedding_model, document_count, chunk_count, ... as GET
        /api/v1/datasets gives them. `name` keeps only the dataset of that name."""

        def work(caller: Caller) -> str:
            query = ListDatasets.model_validate(
                {"page": page, "page_size": page_size, "name": name}
            )
            with runtime.read() as session:
                views, total = datasets.list_datasets(session, caller, query)
                rows = [datasets.public(view).model_dump(mode="json") for view in views]
            return _dump({"datasets": rows, "total": total})

        return await runner.run(runner.authorization(ctx), work)

    async def ragserve_list_documents(
        ctx: Context,
        dataset_id: str,
        page: int = 1,
        page_size: int = 30,
        keywords: str | None = None,
    ) -> str:
        """The documents of one dataset, newest first, as JSON `{"docs": [...], "total": n}`:
        each with id, name, size, run (parse state), chunk_count, meta_fields, ... as GET
        /api/v1/datasets/{dataset_id}/documents gives them. `keywords` keeps documents whose
        name contains it (ignoring case)."""

        def work(caller: Caller) -> str:
            query = ListDocuments.model_validate(
                {"page": page, "page_size": page_size, "keywords": keywords}
            )
            with runtime.read() as session:
                page_of = documents.list_documents(session, caller, dataset_id, query)
            return _dump(page_of.model_dump(mode="json"))

        return await runner.run(runner.authorization(ctx), work)

    server.add_tool(
        ragserve_retrieval,
        name=RETRIEVAL_TOOL,
        title="Search datasets",
        annotations=_READ_ONLY,
        structured_output=False,
    )
    server.add_tool(
        ragserve_list_datasets,
        name=LIST_DATASETS_TOOL,
        title="List datasets",
        annotations=_READ_ONLY,
        structured_output=False,
    )
    server.add_tool(
        ragserve_list_documents,
        name=LIST_DOCUMENTS_TOOL,
        title="List a dataset's documents",
        annotations=_READ_ONLY,
        structured_output=False,
    )
    return server


class McpEndpoint:
    """The ASGI app at ``/mcp``: refuses a request without a valid API key (401, RAGFlow's
    authentication texts), passes the others to the MCP streamable HTTP transport. ``run()``
    must be entered for the app's lifetime (its lifespan)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._ran = False
        self._build()

    def _build(self) -> None:
        self.server = build_server(self.runtime)
        self.transport = self.server.streamable_http_app(
            streamable_http_path=PATH,
            json_response=True,
            # Each request stands alone: no session state in this process, so any server
            # process behind a balancer answers any request.
            stateless_http=True,
            # Bearer keys, not cookies, authenticate: a rebinding page cannot send one.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        # A session manager runs once: an app whose lifespan runs again (a test client opened
        # twice) gets a new one.
        if self._ran:
            self._build()
        self._ran = True
        async with self.server.session_manager.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            authorization = authorization_of(Request(scope).headers)

            def check() -> None:
                with self.runtime.read() as session:
                    authenticate_api_key(session, authorization)

            try:
                await anyio.to_thread.run_sync(check)
            except RagserveError as error:
                response = JSONResponse(
                    {"code": int(error.code), "message": error.message, "data": False},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
        await self.transport(scope, receive, send)
