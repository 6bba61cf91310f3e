"""The FastAPI application: routers, middleware and error handlers over one ``Runtime``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from ragserve import __version__
from ragserve.api import (
    admin,
    agent_templates,
    agents,
    agents_openai,
    ask,
    bots,
    canvas,
    chat_sessions,
    chats,
    chats_openai,
    chunks,
    completions,
    conversation,
    datasets,
    dify,
    documents,
    early,
    files,
    files_web,
    kb_tasks,
    llm,
    mcp_servers,
    memories,
    metadata,
    password_reset,
    retrieval,
    search_apps,
    search_bots,
    speech,
    sso,
    system,
    teams,
    users,
    webhooks,
)
from ragserve.api.docs import install_docs
from ragserve.api.errors import install_error_handlers
from ragserve.api.mcp_server import PATH as MCP_PATH
from ragserve.api.mcp_server import McpEndpoint
from ragserve.api.middleware import (
    AdminPortMiddleware,
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
)
from ragserve.api.openapi import install_openapi
from ragserve.bootstrap import build_runtime
from ragserve.ingest import store_sync
from ragserve.runtime import Runtime
from ragserve.services import admin as admin_service
from ragserve.settings import Settings

ROUTERS = (
    # Routes are matched in order, about 15 µs each: the hot paths come first.
    retrieval.router,
    completions.router,
    chats_openai.router,
    agents.router,
    agents_openai.router,
    canvas.router,
    dify.router,
    users.router,
    system.router,
    llm.router,
    datasets.router,
    documents.router,
    metadata.router,
    chunks.router,
    chats.router,
    chat_sessions.router,
    ask.router,
    admin.router,
    sso.router,
    password_reset.router,
    early.router,
    teams.router,
    search_apps.router,
    bots.router,
    search_bots.router,
    mcp_servers.router,
    kb_tasks.router,
    conversation.router,
    speech.router,
    webhooks.router,
    agent_templates.router,
    files.router,
    files_web.router,
    files_web.links_router,
    memories.router,
    memories.messages_router,
)


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def create_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    """Build the app; the stores are opened (and migrated) here, closed at shutdown."""
    runtime = runtime or build_runtime(
        settings, embedding_threads=settings.server_embedding_threads
    )

    mcp = McpEndpoint(runtime)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # chunk-store changes a failure left pending before the last stop
        await run_in_threadpool(store_sync.apply_all, runtime.sessions, runtime.chunks)
        await run_in_threadpool(admin_service.ensure_first_admin, runtime)
        async with mcp.run():
            yield
        runtime.close()

    app = FastAPI(
        title="ragserve",
        version=__version__,
        description="RAG engine with RAGFlow's HTTP API.",
        lifespan=lifespan,
        # /docs is served from the installed Swagger UI (api/docs.py), not FastAPI's CDN pages
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=_operation_id,
        # a JSON body without a content type is read as JSON; another type is refused
        strict_content_type=False,
    )
    app.state.runtime = runtime
    for router in ROUTERS:
        app.include_router(router)
    # MCP over streamable HTTP (api/mcp_server.py), outside the OpenAPI schema. Starlette runs
    # an endpoint that is not a function as a plain ASGI app; its annotation knows only
    # request handlers.
    app.add_route(
        MCP_PATH,
        mcp,  # type: ignore[arg-type]
        # stateless: no stream to GET, no session to DELETE (405, as the MCP spec allows)
        methods=["POST"],
        include_in_schema=False,
    )
    install_error_handlers(app)
    install_openapi(app)
    install_docs(app)
    # Added innermost first: CORS wraps everything, so even error responses carry its headers.
    app.add_middleware(BodySizeLimitMiddleware, max_body_size=settings.max_body_size)
    app.add_middleware(RequestContextMiddleware)
    if settings.admin_port is not None or not settings.admin_on_main_port:
        app.add_middleware(AdminPortMiddleware, settings=settings)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["Authorization", "X-Request-ID"],
        )
    return app


def run_server(application: FastAPI, settings: Settings) -> None:
    """Serve ``application`` on ``port``, and on ``admin_port`` too when it is set (one
    process, one runtime: ``AdminPortMiddleware`` keeps each port to its routes)."""
    import socket

    import uvicorn

    config = uvicorn.Config(application, log_level=settings.log_level)
    ports = [settings.port] if settings.admin_port is None else [settings.port, settings.admin_port]
    sockets = []
    for port in ports:
        family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((settings.host, port))
        sockets.append(listener)
    try:
        uvicorn.Server(config).run(sockets=sockets)
    finally:
        for listener in sockets:
            listener.close()
