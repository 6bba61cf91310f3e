"""A small real HTTP server speaking Tavily's search protocol (``POST /search``).

The key comes as a bearer token or as ``api_key`` in the JSON body; any key starting with
``tvly-`` is accepted, others answer 401 as Tavily does. The answer is
``{"query", "results": [{"title", "url", "content", "score", "raw_content"}], "response_time"}``:
the ``PAGES`` sharing a word (4+ letters) with the query, best overlap first, at most
``max_results``.

Usage::

    with FakeTavily() as tavily:  # tavily.base_url: "http://127.0.0.1:<port>"
        ...  # tavily.requests: the JSON bodies received, with the key seen
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from helpers.local_http import LocalHTTPServer

PAGES = [
    {
        "title": "Crane migration - Bird Atlas",
        "url": "https://birds.example/cranes/migration",
        "content": "Sandhill cranes stop over on the Platte River in Nebraska each spring.",
    },
    {
        "title": "Sourdough basics",
        "url": "https://bread.example/sourdough",
        "content": "A sourdough starter needs flour, water and about a week of feeding.",
    },
]


@dataclass
class TavilyRequest:
    api_key: str | None
    body: dict[str, Any]


class FakeTavily:
    def __init__(self) -> None:
        self.requests: list[TavilyRequest] = []
        self._http = LocalHTTPServer(_handler(self))

    @property
    def base_url(self) -> str:
        return self._http.origin

    def __enter__(self) -> FakeTavily:
        self._http.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.stop()

    def answer(self, api_key: str | None, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.requests.append(TavilyRequest(api_key, body))
        if not api_key or not api_key.startswith("tvly-"):
            return 401, {"detail": {"error": "Unauthorized: missing or invalid API key."}}
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            return 400, {"detail": {"error": "Query is missing."}}
        words = {w for w in re.findall(r"\w+", query.lower()) if len(w) >= 4}
        scored = []
        for page in PAGES:
            found = words & set(re.findall(r"\w+", (page["title"] + " " + page["content"]).lower()))
            if found:
                scored.append((len(found) / len(words), page))
        scored.sort(key=lambda item: -item[0])
        limit = body.get("max_results") if isinstance(body.get("max_results"), int) else 5
        results = [
            {**page, "score": round(score, 3), "raw_content": None}
            for score, page in scored[:limit]
        ]
        return 200, {"query": query, "results": results, "response_time": 0.01}


def _handler(fake: FakeTavily) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = None
            auth = self.headers.get("Authorization", "")
            key = auth[7:] if auth.lower().startswith("bearer ") else None
            if self.path.split("?")[0] != "/search":
                status, answer = 404, {"detail": {"error": "Not found"}}
            elif not isinstance(body, dict):
                status, answer = 400, {"detail": {"error": "Invalid JSON."}}
            else:
                status, answer = fake.answer(key or body.get("api_key"), body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
