"""Small real HTTP servers speaking the documented protocols of the web APIs the agent tools
call, one fake per API: each is a function ``(request) -> (status, content type, body)`` in
``APIS``, and ``FakeWebAPI(name)`` serves one of them on 127.0.0.1 (``base_url``), recording
the requests it gets (``requests``: method, path, query, JSON body, headers).

The keys they accept: Tavily ``tvly-…``, SerpApi ``serp-key``, DeepL ``deepl-key:fx``,
QWeather ``qw-key``, TuShare ``ts-token``, Jin10 ``jin10-key``; a wrong one is refused as the service does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from helpers.local_http import LocalHTTPServer


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


Answer = tuple[int, str, bytes]
JSON = "application/json"


def _json(value: Any, status: int = 200) -> Answer:
    return status, JSON, json.dumps(value).encode()


def tavily(request: Request) -> Answer:
    auth = request.headers.get("authorization", "")
    if not auth.removeprefix("Bearer ").startswith("tvly-"):
        return _json({"detail": {"error": "Unauthorized: missing or invalid API key."}}, 401)
    if request.path == "/search" and request.method == "POST":
        return _json(
            {
                "query": request.body["query"],
                "results": [
                    {
                        "title": "Crane migration",
                        "url": "https://birds.example/cranes",
                        "content": f"Cranes fly south ({request.body.get('topic')}).",
                        "score": 0.9,
                        "raw_content": None,
                    }
                ],
                "response_time": 0.1,
            }
        )
    if request.path == "/extract" and request.method == "POST":
        results = [{"url": u, "raw_content": f"# Page\nText of {u}"} for u in request.body["urls"]]
        return _json({"results": results, "failed_results": [], "response_time": 0.1})
    return _json({"detail": {"error": "Not found"}}, 404)


def duckduckgo(request: Request) -> Answer:
    if request.path != "/" or request.query.get("format") != "json":
        return 400, "text/html", b"<html>not json</html>"
    return _json(
        {
            "Heading": "Crane",
            "AbstractText": "Cranes are large, long-legged birds.",
            "AbstractURL": "https://en.wikipedia.org/wiki/Crane_(bird)",
            "Results": [],
            "RelatedTopics": [
                {"Text": "Sandhill crane - A large North American crane.",
                 "FirstURL": "https://duckduckgo.com/Sandhill_crane"},
                {"Name": "Machines", "Topics": [
                    {"Text": "Crane (machine) - A lifting machine.",
                     "FirstURL": "https://duckduckgo.com/Crane_(machine)"}]},
            ],
        }
    )  # fmt: skip


def serpapi(request: Request) -> Answer:
    if request.path != "/search.json":
        return _json({"error": "Not found"}, 404)
    if request.query.get("api_key") != "serp-key":
        return _json({"error": "Invalid API key. Your API key should be here."}, 401)
    engine = request.query.get("engine")
    items = [
        {"position": 1, "title": "<b>Crane</b> facts", "link": "https://a.example/crane",
         "snippet": "Cranes &amp; herons", "publication_info": {"summary": "A Author - 2020"}},
        {"position": 2, "title": "More cranes", "link": "https://b.example/crane",
         "snippet": "Second result"},
    ]  # fmt: skip
    return _json({"search_metadata": {"status": "Success", "engine": engine},
                  "organic_results": items})  # fmt: skip


def searxng(request: Request) -> Answer:
    if request.path != "/search" or request.query.get("format") != "json":
        return 403, "text/html", b"Forbidden"
    return _json(
        {
            "query": request.query.get("q"),
            "results": [
                {"title": "Crane", "url": "https://c.example/", "content": "A crane.",
                 "engine": "bing", "score": 2.0},
            ],
        }
    )  # fmt: skip


def wikipedia(request: Request) -> Answer:
    if not request.path.endswith("/w/api.php") or request.query.get("generator") != "search":
        return _json({"error": {"code": "badvalue"}})
    pages = [
        {"pageid": 2, "title": "Whooping crane", "index": 2,
         "fullurl": "https://en.wikipedia.org/wiki/Whooping_crane",
         "extract": "The whooping crane is an endangered crane species."},
        {"pageid": 1, "title": "Crane (bird)", "index": 1,
         "fullurl": "https://en.wikipedia.org/wiki/Crane_(bird)",
         "extract": "Cranes are a family of large birds."},
    ]  # fmt: skip
    return _json({"batchcomplete": True, "query": {"pages": pages}})


def github(request: Request) -> Answer:
    if request.path != "/search/repositories":
        return _json({"message": "Not Found"}, 404)
    return _json(
        {
            "total_count": 1,
            "incomplete_results": False,
            "items": [
                {"name": "ragflow", "full_name": "infiniflow/ragflow",
                 "html_url": "https://github.com/infiniflow/ragflow",
                 "description": "RAG engine", "stargazers_count": 70000, "language": "Python"},
            ],
        }
    )  # fmt: skip


ATOM_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>arXiv Query</title>
  <entry>
    <id>http://arxiv.org/abs/2005.11401v4</id>
    <published>2020-05-22T17:58:04Z</published>
    <title>Retrieval-Augmented Generation for
      Knowledge-Intensive NLP Tasks</title>
    <summary>Large pre-trained language models store factual knowledge.</summary>
    <author><name>Patrick Lewis</name></author>
    <author><name>Ethan Perez</name></author>
  </entry>
</feed>
"""


def arxiv(request: Request) -> Answer:
    if request.path != "/api/query" or not request.query.get("search_query", "").startswith("all:"):
        return 400, "text/plain", b"bad query"
    return 200, "application/atom+xml", ATOM_FEED.encode()


PUBMED_XML = """<?xml version="1.0" ?>
<PubmedArticleSet>
 <PubmedArticle><MedlineCitation><PMID>31452104</PMID><Article>
  <Journal><Title>Nature</Title></Journal>
  <ArticleTitle>Cranes and wetlands.</ArticleTitle>
  <Abstract><AbstractText>Wetlands matter to cranes.</AbstractText></Abstract>
  <AuthorList><Author><LastName>Smith</LastName><ForeName>Jo</ForeName></Author></AuthorList>
 </Article></MedlineCitation></PubmedArticle>
</PubmedArticleSet>
"""


def pubmed(request: Request) -> Answer:
    if request.path == "/esearch.fcgi" and request.query.get("db") == "pubmed":
        return _json({"header": {}, "esearchresult": {"count": "1", "idlist": ["31452104"]}})
    if request.path == "/efetch.fcgi" and request.query.get("id") == "31452104":
        return 200, "text/xml", PUBMED_XML.encode()
    return 400, "text/plain", b"bad request"


def deepl(request: Request) -> Answer:
    if request.headers.get("authorization") != "DeepL-Auth-Key deepl-key:fx":
        return _json({"message": "Forbidden"}, 403)
    if request.path != "/v2/translate":
        return _json({"message": "Not found"}, 404)
    texts = request.body["text"]
    target = request.body["target_lang"]
    return _json(
        {"translations": [{"detected_source_language": "EN", "text": f"[{target}] {t}"}
                          for t in texts]}
    )  # fmt: skip


def qweather(request: Request) -> Answer:
    if request.query.get("key") != "qw-key":
        return _json({"code": "401"})
    if request.path == "/geo/v2/city/lookup":
        return _json(
            {
                "code": "200",
                "location": [
                    {"name": "Beijing", "id": "101010100", "adm1": "Beijing", "country": "China"}
                ],
            }
        )
    if request.query.get("location") != "101010100":
        return _json({"code": "404"})
    if request.path == "/v7/weather/now":
        return _json({"code": "200", "now": {"temp": "24", "text": "Sunny"}})
    if request.path == "/v7/weather/3d":
        return _json(
            {
                "code": "200",
                "daily": [{"fxDate": f"2026-12-0{d}", "tempMax": "5"} for d in (1, 2, 3)],
            }
        )
    if request.path == "/v7/indices/1d":
        return _json({"code": "200", "daily": [{"name": "Sport", "category": "Good"}]})
    if request.path == "/v7/air/now":
        return _json({"code": "200", "now": {"aqi": "42", "category": "Excellent"}})
    return _json({"code": "404"})  # fmt: skip


def tushare(request: Request) -> Answer:
    body = request.body if isinstance(request.body, dict) else {}
    if body.get("token") != "ts-token":
        return _json({"code": 40101, "msg": "抱歉，您的token不对，请确认。", "data": None})
    if body.get("api_name") != "news" or not body.get("params", {}).get("src"):
        return _json({"code": 40203, "msg": "bad api_name or params", "data": None})
    return _json(
        {
            "code": 0,
            "msg": "",
            "data": {
                "fields": ["datetime", "content", "title"],
                "items": [
                    ["2026-12-07 09:30:00", "银行板块走强", "Banks up"],
                    ["2026-12-07 09:31:00", "Chip stocks fall", "Chips"],
                ],
            },
        }
    )


def yahoo(request: Request) -> Answer:
    if request.path == "/v8/finance/chart/AAPL":
        meta = {
            "symbol": "AAPL",
            "currency": "USD",
            "exchangeName": "NMS",
            "regularMarketPrice": 190.5,
            "fiftyTwoWeekHigh": 199.6,
        }
        return _json(
            {
                "chart": {
                    "error": None,
                    "result": [
                        {
                            "meta": meta,
                            "timestamp": [1764892800, 1764979200],
                            "indicators": {
                                "quote": [
                                    {
                                        "open": [189.0, 190.0],
                                        "high": [191.0, 192.0],
                                        "low": [188.0, 189.5],
                                        "close": [190.0, 190.5],
                                        "volume": [1000, 2000],
                                    }
                                ]
                            },
                        }
                    ],
                }
            }
        )
    if request.path.startswith("/v8/finance/chart/"):
        return _json(
            {
                "chart": {
                    "result": None,
                    "error": {
                        "code": "Not Found",
                        "description": "No data found, symbol may be delisted",
                    },
                }
            },
            404,
        )
    if request.path == "/v1/finance/search":
        return _json(
            {
                "quotes": [],
                "news": [
                    {
                        "title": "Apple ships",
                        "publisher": "Reuters",
                        "link": "https://n.example/1",
                        "providerPublishTime": 1764979200,
                    }
                ],
            }
        )
    return _json({"finance": {"error": {"code": "Not Found"}}}, 404)


def jin10(request: Request) -> Answer:
    if request.headers.get("secret-key") != "jin10-key":
        return _json({"status": 401, "message": "secret-key invalid", "data": None}, 401)
    if request.path == "/data-api/flash" and request.query.get("category"):
        return _json(
            {
                "status": 200,
                "message": "OK",
                "data": [
                    {
                        "id": "1",
                        "time": "2026-12-07 10:00:00",
                        "data": {"content": "Gold rises 1%"},
                    },
                    {"id": "2", "time": "2026-12-07 10:01:00", "data": {"content": "Oil falls"}},
                ],
            }
        )
    if request.path == "/data-api/quotes" and request.query.get("codes"):
        return _json(
            {
                "status": 200,
                "message": "OK",
                "data": [{"c": "BTCUSD", "e": "CRYPTO", "p": 97000.5, "t": "2026-12-07 10:00:00"}],
            }
        )
    return _json({"status": 404, "message": "not found", "data": None}, 404)


APIS: dict[str, Callable[[Request], Answer]] = {
    "tavily": tavily,
    "duckduckgo": duckduckgo,
    "serpapi": serpapi,
    "searxng": searxng,
    "wikipedia": wikipedia,
    "github": github,
    "arxiv": arxiv,
    "pubmed": pubmed,
    "deepl": deepl,
    "qweather": qweather,
    "tushare": tushare,
    "yahoo": yahoo,
    "jin10": jin10,
}


class FakeWebAPI:
    def __init__(self, name: str) -> None:
        self.api = APIS[name]
        self.requests: list[Request] = []
        self._http = LocalHTTPServer(_handler(self))

    @property
    def base_url(self) -> str:
        return self._http.origin

    def __enter__(self) -> FakeWebAPI:
        self._http.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.stop()


def _handler(fake: FakeWebAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            request = Request(
                self.command,
                parts.path,
                {k: v[-1] for k, v in parse_qs(parts.query).items()},
                body,
                {k.lower(): v for k, v in self.headers.items()},
            )
            fake.requests.append(request)
            status, content_type, data = fake.api(request)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

    return Handler
