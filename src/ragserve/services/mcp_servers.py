"""The MCP server registry (RAGFlow's ``mcp_server`` table and ``/v1/mcp_server/*``): external
MCP servers a tenant registers, whose tools its agents' Agent components call.

Each server belongs to one tenant; only that tenant's users see, change, probe or call it. An id
of another tenant reads as missing. Registering or changing a server connects to it and keeps
its tool list in ``variables["tools"]`` (by name, each with an ``enabled`` flag); ``cache_tools``
replaces that list without connecting. Connections happen outside database transactions, and
every URL passes ``mcp_client.check_url`` first (the ``allow_private_urls`` setting)."""

from __future__ import annotations

import json
import math
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ragserve.db.models import McpServer
from ragserve.errors import DataError, RagserveError
from ragserve.runtime import Runtime
from ragserve.schemas.mcp_servers import (
    CreateMcpServer,
    ImportResult,
    ListBody,
    ListQuery,
    McpServerDetail,
    McpServerListed,
    McpServerPage,
    ProbeBody,
    UpdateMcpServer,
)
from ragserve.services.listing import named_page
from ragserve.services.mcp_client import SERVER_TYPES, McpFailure, McpTarget, check_url
from ragserve.services.mcp_client import call_tool as client_call_tool
from ragserve.services.mcp_client import list_tools as client_list_tools
from ragserve.services.tenancy import Caller
from ragserve.timeutil import rfc1123

NAME_LIMIT = 255
MAX_TIMEOUT = 300.0
UNSUPPORTED_TYPE = "Unsupported MCP server type."
DUPLICATED_NAME = "Duplicated MCP server name."
INVALID_URL = "Invalid url."
NO_IDS = "No MCP server IDs provided."
NO_ID = "No MCP server ID provided."


def missing(mcp_id: Any, caller: Caller) -> DataError:
    return DataError(f"Cannot find MCP server {mcp_id} for user {caller.user_id}")


def json_object(value: Any) -> dict[str, Any]:
    """RAGFlow's ``safe_json_parse``: an object, or a string holding one; else ``{}``."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return dict(value) if isinstance(value, dict) else {}


def timeout_of(runtime: Runtime, value: Any) -> float:
    """A request's ``timeout`` in seconds (at most ``MAX_TIMEOUT``); the setting if absent or
    not a positive number."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return runtime.settings.mcp_timeout
    if not math.isfinite(seconds) or seconds <= 0:
        return runtime.settings.mcp_timeout
    return min(seconds, MAX_TIMEOUT)


def _server_type(value: Any) -> str:
    if value not in SERVER_TYPES:
        raise DataError(UNSUPPORTED_TYPE)
    return str(value)


def _name(value: Any) -> str:
    name = value if isinstance(value, str) else ""
    if not name.strip() or len(name.encode("utf-8")) > NAME_LIMIT:
        raise DataError(
            f"Invalid MCP name or length is {len(name)} which is large than {NAME_LIMIT}."
        )
    return name.strip()


def _url(runtime: Runtime, value: Any, message: str = INVALID_URL) -> str:
    url = value.strip() if isinstance(value, str) else ""
    if not url:
        raise DataError(message)
    return url


def _reachable(runtime: Runtime, url: str) -> None:
    """102 with the reason when the URL may not be connected to (``check_url``)."""
    try:
        check_url(url, allow_private=runtime.settings.allow_private_urls)
    except McpFailure as failure:
        raise DataError(str(failure)) from None


def _name_taken(session: Session, tenant_id: str, name: str, *, other_than: str = "") -> bool:
    return (
        session.scalars(
            select(McpServer.id).where(
                McpServer.tenant_id == tenant_id,
                func.lower(McpServer.name) == name.lower(),
                McpServer.id != other_than,
            )
        ).first()
        is not None
    )


def target_of(server: McpServer) -> McpTarget:
    return McpTarget(server.url, server.server_type, server.headers or {}, server.variables or {})


def _fetch_tools(
    runtime: Runtime, target: McpTarget, timeout: float, cached: dict[str, Any]
) -> list[dict[str, Any]]:
    """The server's tools, each ``enabled`` as in ``cached`` (default: true); 102 with the
    reason when the URL may not be reached or the tools cannot be listed
    (``MCP list tools error: …``)."""
    _reachable(runtime, target.url)
    try:
        tools = client_list_tools(target, timeout)
    except McpFailure as failure:
        raise DataError(f"MCP list tools error: {failure}") from None
    for tool in tools:
        kept = cached.get(tool["name"])
        tool["enabled"] = bool(kept.get("enabled", True)) if isinstance(kept, dict) else True
    return tools


def _by_name(tools: list[Any]) -> dict[str, Any]:
    return {str(tool["name"]): tool for tool in tools if isinstance(tool, dict) and "name" in tool}


def _listed(server: McpServer) -> McpServerListed:
    return McpServerListed(
        id=server.id,
        name=server.name,
        server_type=server.server_type,
        url=server.url,
        description=server.description,
        variables=server.variables or {},
        create_date=rfc1123(server.create_date) or "",
        update_date=rfc1123(server.update_date) or "",
    )


def _detail(server: McpServer) -> McpServerDetail:
    return McpServerDetail(
        **_listed(server).model_dump(),
        tenant_id=server.tenant_id,
        headers=server.headers or {},
        create_time=server.create_time,
        update_time=server.update_time,
    )


def owned(session: Session, caller: Caller, mcp_id: Any) -> McpServer | None:
    """The caller's tenant's server ``mcp_id``, or None (missing or another tenant's)."""
    if not isinstance(mcp_id, str) or not mcp_id:
        return None
    server = session.get(McpServer, mcp_id)
    return server if server is not None and server.tenant_id == caller.tenant_id else None


def create(runtime: Runtime, caller: Caller, request: CreateMcpServer) -> McpServerDetail:
    """Check the request in RAGFlow's order, fetch the server's tools, save it."""
    server_type = _server_type(request.server_type)
    name = _name(request.name)
    with runtime.read() as session:
        if _name_taken(session, caller.tenant_id, name):
            raise DataError(DUPLICATED_NAME)
    url = _url(runtime, request.url)
    headers = json_object(request.headers)
    variables = json_object(request.variables)
    variables.pop("tools", None)
    target = McpTarget(url, server_type, headers, variables)
    tools = _fetch_tools(runtime, target, timeout_of(runtime, request.timeout), {})
    with runtime.transaction() as session:
        if _name_taken(session, caller.tenant_id, name):
            raise DataError(DUPLICATED_NAME)
        server = McpServer(
            tenant_id=caller.tenant_id,
            name=name,
            url=url,
            server_type=server_type,
            description=request.description if isinstance(request.description, str) else "",
            headers=headers,
            variables={**variables, "tools": _by_name(tools)},
        )
        session.add(server)
        session.flush()
        return _detail(server)


def update(runtime: Runtime, caller: Caller, request: UpdateMcpServer) -> McpServerDetail:
    """Replace the keys given, fetch the tools again (keeping their ``enabled`` flags), save."""
    with runtime.read() as session:
        server = owned(session, caller, request.mcp_id)
        if server is None:
            raise missing(request.mcp_id, caller)
        saved = _detail(server)
    server_type = _server_type(
        saved.server_type if request.server_type is None else request.server_type
    )
    name = _name(saved.name if request.name is None else request.name)
    url = _url(runtime, saved.url if request.url is None else request.url)
    headers = json_object(saved.headers if request.headers is None else request.headers)
    variables = json_object(saved.variables if request.variables is None else request.variables)
    variables.pop("tools", None)
    cached = saved.variables.get("tools", {})
    target = McpTarget(url, server_type, headers, variables)
    tools = _fetch_tools(runtime, target, timeout_of(runtime, request.timeout), cached)
    with runtime.transaction() as session:
        server = owned(session, caller, saved.id)
        if server is None:
            raise missing(request.mcp_id, caller)
        if _name_taken(session, caller.tenant_id, name, other_than=server.id):
            raise DataError(DUPLICATED_NAME)
        server.name, server.url, server.server_type = name, url, server_type
        server.headers = headers
        server.variables = {**variables, "tools": _by_name(tools)}
        if isinstance(request.description, str):
            server.description = request.description
        session.flush()
        return _detail(server)


def detail(session: Session, caller: Caller, mcp_id: str) -> McpServerDetail:
    server = owned(session, caller, mcp_id)
    if server is None:
        raise missing(mcp_id, caller)
    return _detail(server)


def list_servers(
    session: Session, caller: Caller, query: ListQuery, body: ListBody
) -> McpServerPage:
    """The tenant's servers (or those of ``mcp_ids``), with ``keywords`` in the name, sorted,
    one page (all when ``page`` or ``page_size`` is 0); ``total`` counts every match."""
    statement = select(McpServer).where(McpServer.tenant_id == caller.tenant_id)
    if body.mcp_ids:
        statement = statement.where(McpServer.id.in_(body.mcp_ids))
    statement, total = named_page(session, statement, McpServer, query)
    return McpServerPage(
        mcp_servers=[_listed(server) for server in session.scalars(statement)], total=total
    )


def id_list(value: Any) -> list[str]:
    """``mcp_ids``: a non-empty list of strings; else 102 ``No MCP server IDs provided.``"""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise DataError(NO_IDS)
    return list(dict.fromkeys(value))


def remove(session: Session, caller: Caller, mcp_ids: Any) -> None:
    """Delete the servers, all or none: an id that is not the tenant's refuses the lot."""
    ids = id_list(mcp_ids)
    servers = [owned(session, caller, mcp_id) for mcp_id in ids]
    if any(server is None for server in servers):
        raise DataError(f"Failed to delete MCP servers {ids}")
    for server in servers:
        session.delete(server)
    session.flush()


def export(session: Session, caller: Caller, mcp_ids: Any) -> dict[str, dict[str, Any]]:
    """The tenant's servers among ``mcp_ids`` in the ``mcpServers`` format, by name; other
    ids are left out."""
    exported: dict[str, dict[str, Any]] = {}
    for mcp_id in id_list(mcp_ids):
        server = owned(session, caller, mcp_id)
        if server is None:
            continue
        variables = server.variables or {}
        exported[server.name] = {
            "type": server.server_type,
            "url": server.url,
            "name": server.name,
            "authorization_token": variables.get("authorization_token", ""),
            "headers": server.headers or {},
            "tools": variables.get("tools", {}),
        }
    return exported


def _import_one(
    runtime: Runtime, caller: Caller, name: Any, config: Any, timeout: float
) -> ImportResult:
    label = str(name)
    if not isinstance(config, dict) or not {"type", "url"} <= config.keys():
        return ImportResult(
            server=label, success=False, message="Missing required fields (type or url)"
        )
    try:
        base = _name(name)
        server_type = _server_type(config["type"])
        url = _url(runtime, config["url"])
    except RagserveError as failure:
        return ImportResult(server=label, success=False, message=failure.message)
    token = config.get("authorization_token", "")
    variables = {"authorization_token": token if isinstance(token, str) else ""}
    headers = json_object(config.get("headers"))
    target = McpTarget(url, server_type, headers, variables)
    try:
        tools = _fetch_tools(runtime, target, timeout, {})
    except RagserveError as failure:
        return ImportResult(server=label, success=False, message=failure.message)
    with runtime.transaction() as session:
        new_name, counter = base, 0
        while _name_taken(session, caller.tenant_id, new_name):
            new_name, counter = f"{base}_{counter}", counter + 1
        server = McpServer(
            tenant_id=caller.tenant_id,
            name=new_name,
            url=url,
            server_type=server_type,
            description="",
            headers=headers,
            variables={**variables, "tools": _by_name(tools)},
        )
        session.add(server)
        session.flush()
        created: dict[str, Any] = {"action": "created", "id": server.id, "new_name": new_name}
    if new_name != base:
        created["message"] = f"Renamed from '{base}' to '{new_name}' avoid duplication"
    return ImportResult(server=label, success=True, **created)


def import_servers(
    runtime: Runtime, caller: Caller, servers: Any, timeout: Any
) -> list[ImportResult]:
    """Register each server of ``{"mcpServers": {name: {type, url, …}}}``; a taken name gets
    ``_0``, ``_1``…; one result per server, the failures with their reason."""
    if not isinstance(servers, dict) or not servers:
        raise DataError("No MCP servers provided.")
    seconds = timeout_of(runtime, timeout)
    return [_import_one(runtime, caller, name, config, seconds) for name, config in servers.items()]


def list_tools(
    runtime: Runtime, caller: Caller, mcp_ids: Any, timeout: Any
) -> dict[str, list[dict[str, Any]]]:
    """Each of the tenant's servers among ``mcp_ids`` asked for its tools now, by server id,
    each tool ``enabled`` as cached; other ids are left out."""
    ids = id_list(mcp_ids)
    with runtime.read() as session:
        targets = {
            server.id: (target_of(server), (server.variables or {}).get("tools", {}))
            for server in (owned(session, caller, mcp_id) for mcp_id in ids)
            if server is not None
        }
    seconds = timeout_of(runtime, timeout)
    return {
        mcp_id: _fetch_tools(runtime, target, seconds, cached)
        for mcp_id, (target, cached) in targets.items()
    }


def _target(runtime: Runtime, caller: Caller, mcp_id: Any) -> McpTarget:
    if not mcp_id:
        raise DataError(NO_ID)
    with runtime.read() as session:
        server = owned(session, caller, mcp_id)
        if server is None:
            raise missing(mcp_id, caller)
        target = target_of(server)
    _reachable(runtime, target.url)
    return target


def call_tool(
    runtime: Runtime,
    caller: Caller,
    mcp_id: Any,
    tool_name: Any,
    arguments: Any,
    timeout: Any = None,
) -> str:
    """Call one tool of the tenant's server; its result as text (an error result is
    ``MCP server error: …``). A server that cannot be reached is a ``RagserveError``."""
    if not mcp_id:
        raise DataError(NO_ID)
    if not tool_name or not isinstance(tool_name, str) or not isinstance(arguments, dict):
        raise DataError("Require provide tool name and arguments.")
    target = _target(runtime, caller, mcp_id)
    try:
        return client_call_tool(target, tool_name, arguments, timeout_of(runtime, timeout))
    except McpFailure as failure:
        raise RagserveError(f"MCP tool call error: {failure}") from None


def cache_tools(session: Session, caller: Caller, mcp_id: Any, tools: Any) -> dict[str, Any]:
    """Keep ``tools`` (a list of tools, by their names) as the server's tool list."""
    if not mcp_id:
        raise DataError(NO_ID)
    server = owned(session, caller, mcp_id)
    if server is None:
        raise missing(mcp_id, caller)
    if not isinstance(tools, list):
        raise DataError("`tools` should be a list of tools.")
    kept = _by_name(tools)
    server.variables = {**(server.variables or {}), "tools": kept}
    session.flush()
    return kept


def probe(runtime: Runtime, request: ProbeBody) -> list[dict[str, Any]]:
    """The tools of a server not registered (``test_mcp``), each ``enabled``."""
    url = _url(runtime, request.url, "Invalid MCP url.")
    server_type = _server_type(request.server_type)
    target = McpTarget(
        url, server_type, json_object(request.headers), json_object(request.variables)
    )
    _reachable(runtime, url)
    try:
        tools = client_list_tools(target, timeout_of(runtime, request.timeout))
    except McpFailure as failure:
        raise DataError(f"Test MCP error: {failure}") from None
    return [{**tool, "enabled": True} for tool in tools]
