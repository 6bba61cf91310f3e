"""The MCP server registry, ``/v1/mcp_server/*`` (web login): register external MCP servers,
list, show, change and remove them, import and export them, list and call their tools, cache
a tool list, probe a URL (see ``services/mcp_servers.py``). Routes that reach a server are
plain ``def`` routes: the MCP client runs in the worker thread."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import RuntimeDep, WebCaller
from ragserve.api.envelope import WebResult
from ragserve.schemas.mcp_servers import (
    CacheToolsBody,
    CreateMcpServer,
    DetailQuery,
    ExportAnswer,
    ImportAnswer,
    ImportBody,
    ListBody,
    ListQuery,
    ListToolsBody,
    McpIds,
    McpServerDetail,
    McpServerPage,
    ProbeBody,
    ToolTrialBody,
    UpdateMcpServer,
)
from ragserve.services import mcp_servers

router = APIRouter(prefix="/v1/mcp_server", tags=["mcp servers"], route_class=RagflowRoute)


@router.post("/list", summary="List MCP servers")
def list_servers(
    runtime: RuntimeDep,
    caller: WebCaller,
    query: Annotated[ListQuery, Query()],
    body: Annotated[ListBody | None, Body()] = None,
) -> WebResult[McpServerPage]:
    """The tenant's servers (or those of `mcp_ids`), filtered by name, sorted and paged."""
    with runtime.read() as session:
        return WebResult(data=mcp_servers.list_servers(session, caller, query, body or ListBody()))


@router.get("/detail", summary="Show an MCP server")
def detail(
    runtime: RuntimeDep, caller: WebCaller, query: Annotated[DetailQuery, Query()]
) -> WebResult[McpServerDetail]:
    """One server of the tenant, with its headers and cached tools."""
    with runtime.read() as session:
        return WebResult(data=mcp_servers.detail(session, caller, query.mcp_id))


@router.post("/create", summary="Register an MCP server")
def create(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[CreateMcpServer, Body()]
) -> WebResult[McpServerDetail]:
    """Connect to the server, list its tools and save it with them."""
    return WebResult(data=mcp_servers.create(runtime, caller, request))


@router.post("/update", summary="Change an MCP server")
def update(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[UpdateMcpServer, Body()]
) -> WebResult[McpServerDetail]:
    """Replace the keys given; the tools are listed again."""
    return WebResult(data=mcp_servers.update(runtime, caller, request))


@router.post("/rm", summary="Remove MCP servers")
def remove(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[McpIds, Body()]
) -> WebResult[bool]:
    """Delete the servers of `mcp_ids` (all of them the tenant's, or none is deleted)."""
    with runtime.transaction() as session:
        mcp_servers.remove(session, caller, request.mcp_ids)
    return WebResult(data=True)


@router.post("/import", summary="Import MCP servers")
def import_servers(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[ImportBody, Body()]
) -> WebResult[ImportAnswer]:
    """Register each server of `mcpServers`; one result per server."""
    results = mcp_servers.import_servers(runtime, caller, request.mcpServers, request.timeout)
    return WebResult(data=ImportAnswer(results=results))


@router.post("/export", summary="Export MCP servers")
def export(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[McpIds, Body()]
) -> WebResult[ExportAnswer]:
    """The servers of `mcp_ids` in the `mcpServers` format that `import` reads."""
    with runtime.read() as session:
        exported = mcp_servers.export(session, caller, request.mcp_ids)
    return WebResult(data=ExportAnswer(mcpServers=exported))


@router.post("/list_tools", summary="List the tools of MCP servers")
def list_tools(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[ListToolsBody, Body()]
) -> WebResult[dict[str, list[dict[str, Any]]]]:
    """Ask each server of `mcp_ids` for its tools now; by server id."""
    return WebResult(data=mcp_servers.list_tools(runtime, caller, request.mcp_ids, request.timeout))


@router.post("/test_tool", summary="Call a tool of an MCP server")
def test_tool(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[ToolTrialBody, Body()]
) -> WebResult[str]:
    """Call `tool_name` with `arguments`; its result as text."""
    return WebResult(
        data=mcp_servers.call_tool(
            runtime, caller, request.mcp_id, request.tool_name, request.arguments, request.timeout
        )
    )


@router.post("/cache_tools", summary="Keep a tool list for an MCP server")
def cache_tools(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[CacheToolsBody, Body()]
) -> WebResult[dict[str, Any]]:
    """Save `tools` (with their `enabled` flags) as the server's tools, by name."""
    with runtime.transaction() as session:
        return WebResult(
            data=mcp_servers.cache_tools(session, caller, request.mcp_id, request.tools)
        )


@router.post("/test_mcp", summary="Probe an MCP server")
def test_mcp(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[ProbeBody, Body()]
) -> WebResult[list[dict[str, Any]]]:
    """List the tools of a server that is not registered. Needs a login (RAGFlow's does not)."""
    del caller  # only the login matters: the server is not the tenant's yet
    return WebResult(data=mcp_servers.probe(runtime, request))
