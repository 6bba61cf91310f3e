"""The MCP client's checks that need no server: which URLs may be connected to, and the headers
sent (placeholders filled from the variables)."""

from __future__ import annotations

import pytest

from ragserve.services.mcp_client import McpFailure, McpTarget, check_url, request_headers


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/mcp",
        "http://localhost/mcp",
        "http://10.0.0.1/mcp",
        "http://172.16.5.4/sse",
        "http://192.168.1.1/mcp",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.0.1/mcp",
        "http://0.0.0.0/mcp",
        "http://224.0.0.1/mcp",
        "http://[::1]/mcp",
        "http://[fd00::1]/mcp",
        "http://[fe80::1]/mcp",
        "http://[::ffff:127.0.0.1]/mcp",
        "https://2130706433/mcp",  # 127.0.0.1 spelt as a number
    ],
)
def test_addresses_that_are_not_public_are_refused(url: str) -> None:
    with pytest.raises(McpFailure, match=r"is a private address"):
        check_url(url, allow_private=False)
    check_url(url, allow_private=True)  # the setting lets them through


def test_public_addresses_and_bad_urls() -> None:
    check_url("https://93.184.216.34/mcp", allow_private=False)
    check_url("http://[2606:4700:4700::1111]:8080/sse", allow_private=False)
    for url in ("ftp://example.com/x", "file:///etc/passwd", "http:///mcp", "mcp.example.com"):
        with pytest.raises(McpFailure, match="must be an http:// or https:// URL with a host"):
            check_url(url, allow_private=True)
    with pytest.raises(McpFailure, match="port is not a number from 0 to 65535"):
        check_url("http://example.com:99999/mcp", allow_private=True)
    with pytest.raises(McpFailure, match=r"no-such-host\.invalid cannot be resolved"):
        check_url("http://no-such-host.invalid/mcp", allow_private=False)


def test_headers_are_filled_from_the_variables() -> None:
    target = McpTarget(
        "http://x/mcp",
        "sse",
        headers={
            "Authorization": "Bearer $authorization_token",
            "X-Team": "${team}-${missing}",
            "X-Empty": "$empty",
            "X-Bare": "Bearer ",
            "": "no name",
            "$header_name": "named",
            "X-Number": 7,
        },
        variables={"authorization_token": "tok", "team": "blue", "empty": "",
                   "header_name": "X-Named", "tools": {"a": {}}},
    )  # fmt: skip
    assert request_headers(target) == {
        "Authorization": "Bearer tok",
        "X-Team": "blue-${missing}",
        "X-Named": "named",
        "X-Number": "7",
    }
    no_token = McpTarget("http://x/mcp", "sse", {"Authorization": "Bearer $t"}, {"t": ""})
    assert request_headers(no_token) == {}
