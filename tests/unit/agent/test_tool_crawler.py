"""Crawler against a local web server: Markdown, text and HTML of a page, redirects, the
private-address guard (and the guard itself, ``url_guard.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from helpers.local_http import LocalHTTPServer
from ragserve.settings import Settings
from ragserve.url_guard import UrlRefused, check_host, check_url
from unit.agent.conftest import Environment, Runner, chain

PAGE = b"""<html><head><title>Cranes</title><script>alert(1)</script></head><body>
<nav>Home | About</nav>
<h1>Cranes</h1><p>Cranes are <b>large</b> birds.</p>
<ul><li>Sandhill</li><li>Whooping</li></ul>
<table><tr><th>Name</th><th>Wingspan</th></tr><tr><td>Sarus</td><td>2.5 m</td></tr></table>
<footer>(c) birds</footer></body></html>"""


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/hop"):
            hops = int(self.path[4:] or 0)
            self.send_response(302)
            self.send_header("Location", f"/hop{hops + 1}" if hops < 9 else "/page")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/page")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, body = (200, PAGE) if self.path == "/page" else (404, b"no")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def site() -> Iterator[str]:
    server = LocalHTTPServer(Handler)
    server.start()
    try:
        yield server.origin
    finally:
        server.stop()


@pytest.fixture
def private_ok(environment: Environment) -> Environment:
    environment.settings = Settings(allow_private_urls=True)
    return environment


def crawl(run: Runner, query: str, **params: Any) -> tuple[str | None, str]:
    _events, turn = run(chain(("Crawler:c", "Crawler", params)), query=query)
    return turn.error, turn.state.outputs.get("Crawler:c", {}).get("content", "")


def test_markdown(run: Runner, site: str, private_ok: Environment) -> None:
    error, content = crawl(run, f"Read {site}/moved please.")
    assert error is None, error
    assert content == (
        "# Cranes\n\nCranes are large birds.\n\n- Sandhill\n\n- Whooping\n\n"
        "| Name | Wingspan |\n|---|---|\n| Sarus | 2.5 m |"
    )


def test_text_and_html(run: Runner, site: str, private_ok: Environment) -> None:
    _error, content = crawl(run, f"{site}/page", extract_type="content")
    assert "Cranes are large birds." in content and "#" not in content and "alert" not in content
    _error, content = crawl(run, f"{site}/page", extract_type="html")
    assert content == PAGE.decode()


def test_failures(run: Runner, site: str, private_ok: Environment) -> None:
    assert crawl(run, f"{site}/missing")[0] == "Crawler: HTTP 404."
    assert crawl(run, f"{site}/hop0")[0] == "Crawler: more than 5 redirects."
    assert crawl(run, "no address here")[0] == "Crawler Crawler:c: no http(s) URL to fetch."


def test_private_pages_are_refused_by_default(run: Runner, site: str) -> None:
    error, _ = crawl(run, f"{site}/page")
    assert error is not None and "is a private address (127.0.0.1)" in error


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/", "http://localhost:8080/x", "http://169.254.169.254/latest/meta-data",
     "http://10.1.2.3/", "http://[::1]/", "http://[::ffff:192.168.0.1]/", "http://0.0.0.0/",
     "file:///etc/passwd", "ftp://example.com/", "http:///nohost"],
)  # fmt: skip
def test_the_guard_refuses(url: str) -> None:
    with pytest.raises(UrlRefused):
        check_url(url, allow_private=False)


def test_the_guard_lets_public_and_allowed_through() -> None:
    assert check_host("8.8.8.8", allow_private=False) == "8.8.8.8"  # the address to use
    check_host("2001:4860:4860::8888", allow_private=False)
    check_url("http://127.0.0.1/", allow_private=True)
