"""Invoke against a local HTTP server (the private-address guard lifted for it), and the
guard refusing such addresses by default."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ragserve.agent.components.invoke import check_target
from ragserve.agent.errors import ComponentError
from unit.agent.conftest import Runner, chain


class Echo(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/slow":
            time.sleep(1.5)
        if parts.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/echo?moved=1")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if parts.path == "/page":
            body = b"<html><head><style>p{}</style><script>x()</script></head>" \
                   b"<body><h1>Title</h1><p>Some <b>bold</b> text.</p></body></html>"  # fmt: skip
            kind = "text/html"
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.dumps({
                "method": self.command,
                "path": parts.path,
                "query": parse_qs(parts.query),
                "token": self.headers.get("X-Token"),
                "type": self.headers.get("Content-Type"),
                "body": self.rfile.read(length).decode() if length else "",
            }).encode()  # fmt: skip
            kind = "application/json"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def invoke(run: Runner, **params: Any) -> tuple[Any, str | None]:
    raw = chain(("call", "Invoke", params))
    raw["variables"] = {"token": {"type": "string", "value": "secret-7"}}
    _, turn = run(raw, "what now", allow_private_urls=params.pop("_allow", True))
    result = turn.state.outputs.get("call", {}).get("result")
    return (json.loads(result) if result and result.startswith("{") else result), turn.error


def test_get_sends_variables_as_the_query(run: Runner, server: str) -> None:
    answer, error = invoke(
        run,
        url=server + "/echo",  # no scheme: http
        headers='{"X-Token": "{env.token}"}',
        variables=[{"key": "q", "ref": "sys.query"}, {"key": "n", "value": "3"}],
    )
    assert error is None
    assert answer["method"] == "GET"
    assert answer["query"] == {"q": ["what now"], "n": ["3"]}
    assert answer["token"] == "secret-7"


def test_post_json_and_put_formdata(run: Runner, server: str) -> None:
    answer, _ = invoke(run, url=f"http://{server}/echo", method="POST",
                       variables=[{"key": "q", "ref": "{sys.query}"}])  # fmt: skip
    assert answer["method"] == "POST"
    assert answer["type"] == "application/json"
    assert json.loads(answer["body"]) == {"q": "what now"}
    answer, _ = invoke(run, url=f"http://{server}/echo", method="put", datatype="formdata",
                       headers={"X-Token": "t"}, variables=[{"key": "q", "value": "a b"}])  # fmt: skip
    assert answer["method"] == "PUT"
    assert answer["type"] == "application/x-www-form-urlencoded"
    assert answer["body"] == "q=a+b"
    assert answer["token"] == "t"


def test_redirects_are_followed(run: Runner, server: str) -> None:
    answer, _ = invoke(run, url=f"http://{server}/moved")
    assert answer["path"] == "/echo" and answer["query"] == {"moved": ["1"]}


def test_clean_html(run: Runner, server: str) -> None:
    answer, _ = invoke(run, url=f"http://{server}/page", clean_html=True)
    assert answer == "Title\nSome bold text."


def test_timeout(run: Runner, server: str) -> None:
    _, error = invoke(run, url=f"http://{server}/slow", timeout=0.2)
    assert error is not None and error.startswith("Invoke call: Http request error:")


def test_the_guard_refuses_a_local_server_by_default(run: Runner, server: str) -> None:
    answer, error = invoke(run, url=f"http://{server}/echo", _allow=False)
    assert answer is None
    assert error == (
        "Invoke: The host 127.0.0.1 is a private address (127.0.0.1), which may not be "
        "reached (set allow_private_urls to allow it)."
    )
    _, error = invoke(run, url=f"http://localhost:{server.split(':')[1]}/", _allow=False)
    assert error is not None and "host localhost is a private address" in error


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/", "http://192.168.0.1:8080/x", "http://169.254.169.254/latest/meta-data",
        "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://100.64.0.1/", "http://0.0.0.0/",
        "http://224.0.0.1/", "http://[fe80::1]/", "http://172.16.5.4/",
    ],
)  # fmt: skip
def test_the_guard_refuses_private_addresses(url: str) -> None:
    with pytest.raises(ComponentError, match="is a private address"):
        check_target(url, allow_private=False)
    check_target(url, allow_private=True)


def test_the_guard_lets_public_addresses_and_refuses_other_schemes() -> None:
    check_target("http://93.184.216.34/", allow_private=False)
    check_target("https://[2606:4700::1111]/", allow_private=False)
    for url in ("file:///etc/passwd", "ftp://93.184.216.34/", "http:///nohost"):
        with pytest.raises(ComponentError, match="must be an http:// or https:// URL"):
            check_target(url, allow_private=True)


def test_a_proxy_at_a_private_address_is_refused(run: Runner, server: str) -> None:
    _, error = invoke(run, url="http://93.184.216.34/", proxy="http://10.0.0.1:3128", _allow=False)
    assert error is not None and "host 10.0.0.1 is a private address" in error
