"""The MCP server registry (``/v1/mcp_server/*``) against a real MCP server (``helpers/fake_mcp.py``,
streamable HTTP and SSE): every route's happy path, RAGFlow's error texts, another tenant's
servers refused or left out, missing ids, and the private-address guard."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import Account
from helpers.fake_mcp import TOOL_NAMES, FakeMcp, fake_mcp
from helpers.live_app import live_app
from ragserve.app import create_app
from ragserve.settings import Settings

MISSING_ID = "0" * 32


@pytest.fixture(scope="module")
def mcp() -> Iterator[FakeMcp]:
    with fake_mcp() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", workers=0, allow_private_urls=True)


def call(account: Account, route: str, body: Any = None, **params: Any) -> Any:
    response = account.post(f"/v1/mcp_server/{route}", json=body, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def register(account: Account, mcp: FakeMcp, name: str = "tools", **fields: Any) -> Any:
    body = {"name": name, "url": mcp.mcp_url, "server_type": "streamable-http", **fields}
    return call(account, "create", body)


def new_server(account: Account, mcp: FakeMcp, name: str = "tools", **fields: Any) -> str:
    result = register(account, mcp, name, **fields)
    assert result["code"] == 0, result
    server_id: str = result["data"]["id"]
    return server_id


def detail(account: Account, mcp_id: str) -> Any:
    return account.get("/v1/mcp_server/detail", params={"mcp_id": mcp_id}).json()


def error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def failed(result: Any) -> dict[str, Any]:
    return {"code": result["code"], "message": result["message"]}


def test_create_fetches_the_tools_and_detail_shows_them(alice: Account, mcp: FakeMcp) -> None:
    result = register(
        alice, mcp, " tools ", description="fake tools",
        headers={"Authorization": "Bearer $token"}, variables={"token": "t0k", "tools": "x"},
    )  # fmt: skip
    assert result["code"] == 0 and result["message"] == "success", result
    created = result["data"]
    assert (created["name"], created["url"], created["server_type"]) == (
        "tools", mcp.mcp_url, "streamable-http",
    )  # fmt: skip
    assert created["tenant_id"] == alice.id and created["description"] == "fake tools"
    assert created["headers"] == {"Authorization": "Bearer $token"}
    tools = created["variables"]["tools"]
    assert set(tools) == TOOL_NAMES and created["variables"]["token"] == "t0k"
    assert tools["shout"]["enabled"] is True
    assert tools["shout"]["description"] == "Says the text loudly."
    assert tools["add"]["inputSchema"]["required"] == ["a", "b"]
    shown = detail(alice, created["id"])
    assert shown["code"] == 0 and shown["data"] == created
    assert shown["data"]["create_date"].endswith(" GMT")


def test_sse_server_and_string_headers(alice: Account, mcp: FakeMcp) -> None:
    body = {
        "name": "over sse", "url": mcp.sse_url, "server_type": "sse",
        "headers": '{"Authorization": "Bearer ${token}"}', "variables": '{"token": "s3"}',
    }  # fmt: skip
    created = call(alice, "create", body)["data"]
    assert created["headers"] == {"Authorization": "Bearer ${token}"}
    assert set(created["variables"]["tools"]) == TOOL_NAMES
    # the header reaches the server with the variable filled in
    answer = call(alice, "test_tool", {"mcp_id": created["id"], "tool_name": "whoami",
                                        "arguments": {}})  # fmt: skip
    assert answer == {"code": 0, "message": "success", "data": "Bearer s3"}


def test_create_validation(alice: Account, mcp: FakeMcp) -> None:
    assert failed(call(alice, "create", {"name": "x"})) == error(
        101, "required argument are missing: url,server_type; "
    )
    assert failed(register(alice, mcp, server_type="stdio")) == error(
        102, "Unsupported MCP server type."
    )
    assert failed(register(alice, mcp, name="")) == error(
        102, "Invalid MCP name or length is 0 which is large than 255."
    )
    assert failed(register(alice, mcp, name="n" * 256)) == error(
        102, "Invalid MCP name or length is 256 which is large than 255."
    )
    assert failed(register(alice, mcp, url="")) == error(102, "Invalid url.")
    assert failed(register(alice, mcp, url="ftp://example.com/mcp")) == error(
        102, "The URL must be an http:// or https:// URL with a host."
    )
    unreachable = register(alice, mcp, url=mcp.origin + "/nowhere")
    assert failed(unreachable) == error(102, "MCP list tools error: the server answered HTTP 404")
    sse_unreachable = register(alice, mcp, url=mcp.origin + "/nowhere", server_type="sse")
    assert failed(sse_unreachable) == error(
        102, "MCP list tools error: the server answered HTTP 404"
    )
    new_server(alice, mcp)
    assert failed(register(alice, mcp, name="TOOLS")) == error(102, "Duplicated MCP server name.")
    listed = call(alice, "list", {})["data"]
    assert listed["total"] == 1


def test_the_wrong_transport_fails_cleanly(alice: Account, mcp: FakeMcp) -> None:
    result = register(alice, mcp, url=mcp.mcp_url, server_type="sse", timeout=3)
    assert result["code"] == 102 and result["message"].startswith("MCP list tools error: ")
    assert "Traceback" not in result["message"]


def test_list_filters_sorts_and_pages(alice: Account, bob: Account, mcp: FakeMcp) -> None:
    first, second, third = (new_server(alice, mcp, name) for name in ("alpha", "beta", "alps"))
    new_server(bob, mcp, "alpha")
    page = call(alice, "list", {})["data"]
    assert page["total"] == 3
    assert [s["id"] for s in page["mcp_servers"]] == [third, second, first]
    assert set(page["mcp_servers"][0]) == {
        "id", "name", "server_type", "url", "description", "variables", "create_date",
        "update_date",
    }  # fmt: skip
    found = call(alice, "list", {}, keywords="AL", orderby="name", desc="false")["data"]
    assert [s["name"] for s in found["mcp_servers"]] == ["alpha", "alps"]
    paged = call(alice, "list", {}, page=2, page_size=2)["data"]
    assert paged["total"] == 3 and [s["id"] for s in paged["mcp_servers"]] == [first]
    chosen = call(alice, "list", {"mcp_ids": [first, MISSING_ID]})["data"]
    assert [s["id"] for s in chosen["mcp_servers"]] == [first]
    assert call(alice, "list")["data"]["total"] == 3  # no body


def test_other_tenants_and_missing_ids(alice: Account, bob: Account, mcp: FakeMcp) -> None:
    theirs = new_server(bob, mcp)
    for mcp_id in (theirs, MISSING_ID):
        assert failed(detail(alice, mcp_id)) == error(
            102, f"Cannot find MCP server {mcp_id} for user {alice.id}"
        )
        assert failed(call(alice, "update", {"mcp_id": mcp_id, "name": "mine"})) == error(
            102, f"Cannot find MCP server {mcp_id} for user {alice.id}"
        )
        assert failed(call(alice, "rm", {"mcp_ids": [mcp_id]})) == error(
            102, f"Failed to delete MCP servers ['{mcp_id}']"
        )
        assert call(alice, "export", {"mcp_ids": [mcp_id]})["data"] == {"mcpServers": {}}
        assert call(alice, "list_tools", {"mcp_ids": [mcp_id]})["data"] == {}
        trial = {"mcp_id": mcp_id, "tool_name": "shout", "arguments": {"text": "x"}}
        assert failed(call(alice, "test_tool", trial)) == error(
            102, f"Cannot find MCP server {mcp_id} for user {alice.id}"
        )
        assert failed(call(alice, "cache_tools", {"mcp_id": mcp_id, "tools": []})) == error(
            102, f"Cannot find MCP server {mcp_id} for user {alice.id}"
        )
    assert detail(bob, theirs)["code"] == 0  # untouched
    assert call(alice, "list", {"mcp_ids": [theirs]})["data"] == {"mcp_servers": [], "total": 0}


def test_update(alice: Account, mcp: FakeMcp) -> None:
    server = new_server(alice, mcp)
    call(alice, "cache_tools", {"mcp_id": server, "tools": [{"name": "add", "enabled": False}]})
    changed = call(alice, "update", {"mcp_id": server, "name": "renamed", "url": mcp.sse_url,
                                     "server_type": "sse", "description": "now sse"})  # fmt: skip
    assert changed["code"] == 0, changed
    data = changed["data"]
    assert (data["name"], data["url"], data["server_type"], data["description"]) == (
        "renamed", mcp.sse_url, "sse", "now sse",
    )  # fmt: skip
    tools = data["variables"]["tools"]
    assert set(tools) == TOOL_NAMES  # listed again, keeping the enabled flags
    assert tools["add"]["enabled"] is False and tools["shout"]["enabled"] is True
    assert detail(alice, server)["data"] == data
    kept = call(alice, "update", {"mcp_id": server})  # nothing given: all kept
    assert kept["data"]["name"] == "renamed" and kept["data"]["url"] == mcp.sse_url


def test_update_validation(alice: Account, mcp: FakeMcp) -> None:
    server = new_server(alice, mcp)
    new_server(alice, mcp, "other")
    assert failed(call(alice, "update", {"name": "x"})) == error(
        101, "required argument are missing: mcp_id; "
    )
    for fields, message in (
        ({"server_type": "websocket"}, "Unsupported MCP server type."),
        ({"name": "x" * 300}, "Invalid MCP name or length is 300 which is large than 255."),
        ({"url": ""}, "Invalid url."),
        ({"name": "Other"}, "Duplicated MCP server name."),
    ):
        assert failed(call(alice, "update", {"mcp_id": server, **fields})) == error(102, message)
    down = call(alice, "update", {"mcp_id": server, "url": mcp.origin + "/gone", "timeout": 3})
    assert down["code"] == 102 and down["message"].startswith("MCP list tools error: ")
    assert detail(alice, server)["data"]["name"] == "tools"  # unchanged


def test_rm(alice: Account, mcp: FakeMcp) -> None:
    first, second = new_server(alice, mcp, "one"), new_server(alice, mcp, "two")
    assert failed(call(alice, "rm", {})) == error(101, "required argument are missing: mcp_ids; ")
    assert failed(call(alice, "rm", {"mcp_ids": []})) == error(102, "No MCP server IDs provided.")
    assert failed(call(alice, "rm", {"mcp_ids": [first, MISSING_ID]}))["code"] == 102
    assert detail(alice, first)["code"] == 0  # all or nothing
    assert call(alice, "rm", {"mcp_ids": [first, second]}) == {
        "code": 0, "message": "success", "data": True,
    }  # fmt: skip
    assert call(alice, "list", {})["data"]["total"] == 0


def test_export_then_import(alice: Account, bob: Account, mcp: FakeMcp) -> None:
    server = new_server(alice, mcp, headers={"X-Key": "$authorization_token"},
                        variables={"authorization_token": "k1"})  # fmt: skip
    assert failed(call(alice, "export", {})) == error(
        101, "required argument are missing: mcp_ids; "
    )
    assert failed(call(alice, "export", {"mcp_ids": []})) == error(
        102, "No MCP server IDs provided."
    )
    exported = call(alice, "export", {"mcp_ids": [server]})["data"]["mcpServers"]
    entry = exported["tools"]
    assert (entry["type"], entry["url"], entry["name"], entry["authorization_token"]) == (
        "streamable-http", mcp.mcp_url, "tools", "k1",
    )  # fmt: skip
    assert set(entry["tools"]) == TOOL_NAMES and entry["headers"] == {
        "X-Key": "$authorization_token"
    }

    imported = call(alice, "import", {"mcpServers": {
        **exported,
        "sse one": {"type": "sse", "url": mcp.sse_url},
        "no url": {"type": "sse"},
        "bad type": {"type": "stdio", "url": mcp.mcp_url},
        "down": {"type": "sse", "url": mcp.origin + "/gone"},
    }, "timeout": 5})  # fmt: skip
    assert imported["code"] == 0, imported
    results = {r["server"]: r for r in imported["data"]["results"]}
    renamed = results["tools"]
    assert renamed["success"] and renamed["action"] == "created"
    assert renamed["new_name"] == "tools_0"
    assert renamed["message"] == "Renamed from 'tools' to 'tools_0' avoid duplication"
    assert results["sse one"]["success"] and results["sse one"]["new_name"] == "sse one"
    assert "message" not in results["sse one"]
    assert results["no url"] == {
        "server": "no url", "success": False, "message": "Missing required fields (type or url)",
    }  # fmt: skip
    assert results["bad type"]["message"] == "Unsupported MCP server type."
    assert not results["down"]["success"]
    assert results["down"]["message"].startswith("MCP list tools error: ")
    copy = detail(alice, renamed["id"])["data"]
    assert copy["headers"] == {"X-Key": "$authorization_token"}
    assert copy["variables"]["authorization_token"] == "k1"
    assert set(copy["variables"]["tools"]) == TOOL_NAMES
    assert call(bob, "list", {})["data"]["total"] == 0  # only alice's

    assert failed(call(alice, "import", {})) == error(
        101, "required argument are missing: mcpServers; "
    )
    assert failed(call(alice, "import", {"mcpServers": {}})) == error(
        102, "No MCP servers provided."
    )


def test_list_tools(alice: Account, mcp: FakeMcp) -> None:
    first = new_server(alice, mcp)
    second = new_server(alice, mcp, "sse", url=mcp.sse_url, server_type="sse")
    call(alice, "cache_tools", {"mcp_id": second, "tools": [{"name": "broken", "enabled": False}]})
    listed = call(alice, "list_tools", {"mcp_ids": [first, second], "timeout": 10})
    assert listed["code"] == 0, listed
    data = listed["data"]
    assert set(data) == {first, second}
    assert {t["name"] for t in data[first]} == TOOL_NAMES
    enabled = {t["name"]: t["enabled"] for t in data[second]}
    assert enabled == {"shout": True, "add": True, "whoami": True, "slow": True, "broken": False}
    assert failed(call(alice, "list_tools", {})) == error(
        101, "required argument are missing: mcp_ids; "
    )
    assert failed(call(alice, "list_tools", {"mcp_ids": []})) == error(
        102, "No MCP server IDs provided."
    )


def test_list_tools_of_a_server_gone_down(alice: Account, mcp: FakeMcp) -> None:
    server = new_server(alice, mcp)
    with fake_mcp() as other:
        stopped = new_server(alice, other, "stopped")
    result = call(alice, "list_tools", {"mcp_ids": [server, stopped], "timeout": 3})
    assert failed(result) == error(102, "MCP list tools error: cannot connect to the server")
    trial = {"mcp_id": stopped, "tool_name": "shout", "arguments": {"text": "x"}}
    assert failed(call(alice, "test_tool", trial)) == error(
        100, "MCP tool call error: cannot connect to the server"
    )


def test_test_tool(alice: Account, mcp: FakeMcp) -> None:
    server = new_server(alice, mcp)
    trial = {"mcp_id": server, "tool_name": "shout", "arguments": {"text": "hello"}}
    assert call(alice, "test_tool", trial) == {"code": 0, "message": "success", "data": "HELLO!"}
    added = call(alice, "test_tool", {**trial, "tool_name": "add", "arguments": {"a": 2, "b": 3}})
    assert added["data"] == "5"
    broken = call(alice, "test_tool", {**trial, "tool_name": "broken", "arguments": {}})
    assert broken["data"] == "MCP server error: Error executing tool broken: the tool broke"
    unknown = call(alice, "test_tool", {**trial, "tool_name": "nothing"})
    assert unknown["data"].startswith("MCP server error: ")
    assert failed(call(alice, "test_tool", {"mcp_id": server})) == error(
        101, "required argument are missing: tool_name,arguments; "
    )
    assert failed(call(alice, "test_tool", {**trial, "mcp_id": ""})) == error(
        102, "No MCP server ID provided."
    )
    for wrong in ({"tool_name": ""}, {"arguments": "text"}):
        assert failed(call(alice, "test_tool", {**trial, **wrong})) == error(
            102, "Require provide tool name and arguments."
        )


def test_a_slow_tool_times_out(alice: Account, mcp: FakeMcp) -> None:
    for url, kind in ((mcp.mcp_url, "streamable-http"), (mcp.sse_url, "sse")):
        server = new_server(alice, mcp, kind, url=url, server_type=kind)
        trial = {"mcp_id": server, "tool_name": "slow", "arguments": {"seconds": 0.1}}
        assert call(alice, "test_tool", trial)["data"] == "done"
        late = call(alice, "test_tool", {**trial, "arguments": {"seconds": 30}, "timeout": 1})
        assert failed(late) == error(100, "MCP tool call error: no answer within 1 seconds")


def test_detail_needs_an_id(alice: Account) -> None:
    answer = alice.get("/v1/mcp_server/detail").json()
    assert answer["code"] == 101 and "mcp_id" in answer["message"], answer


def test_cache_tools(alice: Account, mcp: FakeMcp) -> None:
    server = new_server(alice, mcp)
    tools = [{"name": "shout", "enabled": False, "description": "loud"}, {"no": "name"}, "x"]
    kept = call(alice, "cache_tools", {"mcp_id": server, "tools": tools})
    assert kept == {"code": 0, "message": "success",
                    "data": {"shout": {"name": "shout", "enabled": False, "description": "loud"}}}  # fmt: skip
    assert detail(alice, server)["data"]["variables"]["tools"] == kept["data"]
    assert failed(call(alice, "cache_tools", {"mcp_id": server})) == error(
        101, "required argument are missing: tools; "
    )
    assert failed(call(alice, "cache_tools", {"mcp_id": "", "tools": []})) == error(
        102, "No MCP server ID provided."
    )
    assert failed(call(alice, "cache_tools", {"mcp_id": server, "tools": {}})) == error(
        102, "`tools` should be a list of tools."
    )


def test_test_mcp(alice: Account, mcp: FakeMcp) -> None:
    for url, kind in ((mcp.mcp_url, "streamable-http"), (mcp.sse_url, "sse")):
        probed = call(alice, "test_mcp", {"url": url, "server_type": kind})
        assert probed["code"] == 0, probed
        assert {t["name"] for t in probed["data"]} == TOOL_NAMES
        assert all(t["enabled"] is True for t in probed["data"])
    assert call(alice, "list", {})["data"]["total"] == 0  # nothing saved
    assert failed(call(alice, "test_mcp", {"url": mcp.mcp_url})) == error(
        101, "required argument are missing: server_type; "
    )
    assert failed(call(alice, "test_mcp", {"url": "", "server_type": "sse"})) == error(
        102, "Invalid MCP url."
    )
    assert failed(call(alice, "test_mcp", {"url": mcp.mcp_url, "server_type": "x"})) == error(
        102, "Unsupported MCP server type."
    )
    down = call(alice, "test_mcp", {"url": "http://127.0.0.1:1/mcp", "server_type": "sse"})
    assert failed(down) == error(102, "Test MCP error: cannot connect to the server")


def test_routes_need_a_login(client: TestClient, mcp: FakeMcp) -> None:
    for route in ("list", "create", "test_mcp", "list_tools", "import"):
        answer = client.post(f"/v1/mcp_server/{route}", json={"url": mcp.mcp_url}).json()
        assert answer["code"] == 401, (route, answer)
    assert client.get("/v1/mcp_server/detail", params={"mcp_id": "x"}).json()["code"] == 401


def test_private_addresses_are_refused_by_default(tmp_path: Path, mcp: FakeMcp) -> None:
    with TestClient(create_app(Settings(home=tmp_path / "guarded", workers=0))) as guarded:
        account = Account(guarded, "carol@example.com")
        refused = "which may not be reached (set allow_private_urls to allow it)."
        result = register(account, mcp)
        assert result["code"] == 102
        assert (
            result["message"] == f"The host 127.0.0.1 is a private address (127.0.0.1), {refused}"
        )
        for url in ("http://localhost:9/mcp", "http://169.254.169.254/latest",
                    "http://[::1]:9/mcp", "http://10.1.2.3/mcp"):  # fmt: skip
            probed = call(account, "test_mcp", {"url": url, "server_type": "sse"})
            assert probed["code"] == 102 and probed["message"].endswith(refused), probed
        unresolvable = call(account, "test_mcp", {"url": "http://no-such-host.invalid/mcp",
                                                   "server_type": "sse"})  # fmt: skip
        assert failed(unresolvable) == error(
            102, "The host no-such-host.invalid cannot be resolved."
        )


def test_ragserve_registers_its_own_mcp_endpoint(tmp_path: Path) -> None:
    """Interoperability with another MCP server implementation: ragserve's own ``/mcp``
    (stateless, JSON answers, an API key in the header), reached over real HTTP; the key comes
    from the server's variables through the header's placeholder."""
    settings = Settings(home=tmp_path / "live", workers=0, allow_private_urls=True)
    with live_app(settings) as app, httpx.Client(base_url=app.base_url, timeout=60) as http:
        registered = http.post("/v1/user/register", json={
            "nickname": "dora", "email": "dora@example.com", "password": "secret-pw"})  # fmt: skip
        web = {"Authorization": registered.headers["Authorization"]}
        key = http.post("/v1/system/new_token", headers=web).json()["data"]["token"]
        made = http.post("/api/v1/datasets", json={"name": "own set"},
                         headers={"Authorization": f"Bearer {key}"}).json()  # fmt: skip
        assert made["code"] == 0, made
        body = {"name": "myself", "url": app.base_url + "/mcp", "server_type": "streamable-http",
                "headers": {"Authorization": "Bearer $api_key"}, "variables": {"api_key": key}}  # fmt: skip
        created = http.post("/v1/mcp_server/create", json=body, headers=web).json()
        assert created["code"] == 0, created
        tools = created["data"]["variables"]["tools"]
        assert "ragserve_list_datasets" in tools and "ragserve_retrieval" in tools
        trial = {"mcp_id": created["data"]["id"], "tool_name": "ragserve_list_datasets",
                 "arguments": {}}  # fmt: skip
        listed = http.post("/v1/mcp_server/test_tool", json=trial, headers=web).json()
        assert listed["code"] == 0, listed
        assert [d["name"] for d in json.loads(listed["data"])["datasets"]] == ["own set"]
        # without the key, ragserve's MCP endpoint refuses the connection itself
        anonymous = http.post("/v1/mcp_server/test_mcp", headers=web, json={
            "url": app.base_url + "/mcp", "server_type": "streamable-http"}).json()  # fmt: skip
        assert failed(anonymous) == error(102, "Test MCP error: the server answered HTTP 401")
