"""The MCP server registry (RAGFlow's ``/v1/mcp_server/*`` web routes): requests and answers.

Bodies are read as RAGFlow reads them: the required keys must be present (101 ``required
argument are missing: …``), then each value is checked in RAGFlow's order by the service
(``services/mcp_servers.py``), each failure a 102 with RAGFlow's text. ``headers`` and
``variables`` may be JSON objects or strings holding one (anything else reads as ``{}``);
``timeout`` is seconds (default: the ``mcp_timeout`` setting)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ragserve.schemas.common import required_arguments


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")

    REQUIRED: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _required_keys(cls, data: Any) -> Any:
        required_arguments(data, *cls.REQUIRED)
        return data


class CreateMcpServer(_Body):
    """Body of ``POST /v1/mcp_server/create``."""

    REQUIRED = ("name", "url", "server_type")
    name: Any = Field(description="Unique in the tenant; 1 to 255 UTF-8 bytes.")
    url: Any = Field(description="The server's endpoint, e.g. `https://host/mcp` or `…/sse`.")
    server_type: Any = Field(description="`sse` or `streamable-http`.")
    description: Any = ""
    headers: Any = Field(None, description="HTTP headers; `$name` is filled from `variables`.")
    variables: Any = Field(None, description="Values for the headers' placeholders.")
    timeout: Any = None


class UpdateMcpServer(_Body):
    """Body of ``POST /v1/mcp_server/update``: the keys given replace the saved ones."""

    REQUIRED = ("mcp_id",)
    mcp_id: Any
    name: Any = None
    url: Any = None
    server_type: Any = None
    description: Any = None
    headers: Any = None
    variables: Any = None
    timeout: Any = None


class McpIds(_Body):
    """Body of ``rm`` and ``export``: ``mcp_ids``, a list of server ids."""

    REQUIRED = ("mcp_ids",)
    mcp_ids: Any


class ListToolsBody(McpIds):
    """Body of ``POST /v1/mcp_server/list_tools``."""

    timeout: Any = None


class ImportBody(_Body):
    """Body of ``POST /v1/mcp_server/import``: ``{"mcpServers": {name: {type, url,
    authorization_token?, headers?}}}``, the format ``export`` answers."""

    REQUIRED = ("mcpServers",)
    mcpServers: Any  # RAGFlow's key
    timeout: Any = None


class ToolTrialBody(_Body):
    """Body of ``POST /v1/mcp_server/test_tool``."""

    REQUIRED = ("mcp_id", "tool_name", "arguments")
    mcp_id: Any
    tool_name: Any
    arguments: Any
    timeout: Any = None


class CacheToolsBody(_Body):
    """Body of ``POST /v1/mcp_server/cache_tools``: the tool list to keep (each a tool as
    ``list_tools`` answers it, with its ``enabled`` flag)."""

    REQUIRED = ("mcp_id", "tools")
    mcp_id: Any
    tools: Any


class ProbeBody(_Body):
    """Body of ``POST /v1/mcp_server/test_mcp``: a server to probe, not saved."""

    REQUIRED = ("url", "server_type")
    url: Any
    server_type: Any
    headers: Any = None
    variables: Any = None
    timeout: Any = None


class DetailQuery(BaseModel):
    """Query of ``GET /v1/mcp_server/detail``."""

    mcp_id: str


class ListQuery(BaseModel):
    """Query of ``POST /v1/mcp_server/list``; ``page`` or ``page_size`` 0 lists everything."""

    keywords: str = Field("", description="Only servers whose name contains this (any case).")
    page: int = Field(0, ge=0)
    page_size: int = Field(0, ge=0)
    orderby: str = Field("create_time", description="`create_time`, `update_time` or `name`.")
    desc: str = Field("true", description="Anything but `false` sorts newest first.")


class ListBody(BaseModel):
    """Body of ``POST /v1/mcp_server/list``."""

    model_config = ConfigDict(extra="ignore")

    mcp_ids: list[str] = Field(default_factory=list, description="Only these servers.")


class McpServerListed(BaseModel):
    """A server as ``list`` shows it (RAGFlow's ``get_servers`` fields)."""

    id: str
    name: str
    server_type: str
    url: str
    description: str
    variables: dict[str, Any]
    create_date: str
    update_date: str


class McpServerPage(BaseModel):
    mcp_servers: list[McpServerListed]
    total: int


class McpServerDetail(McpServerListed):
    """A whole server (``detail``, ``create``, ``update``): with its tenant and headers; the
    fetched tools are in ``variables.tools``, by name."""

    tenant_id: str
    headers: dict[str, Any]
    create_time: int
    update_time: int


class ImportResult(BaseModel):
    """One server of an import: created (with its id and the name it got) or why not."""

    model_config = ConfigDict(extra="allow")

    server: str
    success: bool


class ImportAnswer(BaseModel):
    results: list[ImportResult]


class ExportAnswer(BaseModel):
    mcpServers: dict[str, dict[str, Any]]  # RAGFlow's key
