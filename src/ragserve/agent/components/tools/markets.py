"""Financial data tools:

* TuShare: quick news from TuShare Pro's HTTP API (``POST /`` with ``{"api_name": "news",
  "token", "params": {src, start_date, end_date}}``, answering ``{"code", "msg", "data":
  {"fields", "items"}}``), filtered by a keyword (``keyword``, else the ``query``). Output:
  ``formalized_content`` (a Markdown table of the news).
* Jin10: Jin10's open data API (flash news, economic calendar, symbols and quotes, news).
* YahooFinance: Yahoo Finance's chart API (``GET /v8/finance/chart/<symbol>``) for the
  quote (``info``) and a month of daily prices (``history``), its search API (``GET
  /v1/finance/search``) for ``news``. Output: ``report`` (Markdown). RAGFlow's
  ``financials``, ``balance_sheet``, ``cash_flow_statement``, ``income_stmt`` and ``count``
  (the yfinance library's scraped tables) are not supported: such a node says so.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal
from urllib.parse import quote

from ragserve.agent.components.base import ComponentParams
from ragserve.agent.components.tools import http
from ragserve.agent.components.tools.base import Tool, ToolArgument
from ragserve.agent.components.tools.exesql import markdown_table
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError

_RAGFLOW_PLACEHOLDER = "xxx"


def _now() -> str:
    return datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")


class TuShareParams(ComponentParams):
    token: str = ""
    src: Literal[
        "sina", "wallstreetcn", "10jqka", "eastmoney", "yuncaijing", "fenghuang", "jinrongjie"
    ] = "eastmoney"
    start_date: str = "2024-01-01 09:00:00"
    end_date: str = ""
    keyword: str = ""


class TuShare(Tool):
    component_name = "TuShare"
    Params = TuShareParams
    default_base_url = "http://api.tushare.pro"
    function_description = "Quick financial news from TuShare, filtered by a keyword."
    arguments = (ToolArgument("query", "The keyword to filter news by.", default="{sys.query}"),)

    def call(self, context: RunContext, arguments: dict[str, Any]) -> dict[str, Any]:
        params = self.params
        assert isinstance(params, TuShareParams)
        token = self.api_key(context, "" if params.token == _RAGFLOW_PLACEHOLDER else params.token)
        answer = http.post_json(
            "TuShare",
            self.base_url(context),
            json_body={
                "api_name": "news",
                "token": token,
                "params": {"src": params.src, "start_date": params.start_date,
                           "end_date": params.end_date or _now()},
                "fields": "",
            },
        )  # fmt: skip
        if not isinstance(answer, dict) or answer.get("code") != 0:
            message = answer.get("msg") if isinstance(answer, dict) else "no answer"
            raise ComponentError(f"TuShare failed: {message}")
        data = answer.get("data") or {}
        fields = [str(f) for f in data.get("fields") or []]
        rows = [dict(zip(fields, item, strict=False)) for item in data.get("items") or []]
        keyword = params.keyword or self.text_argument(arguments, "query")
        if keyword:
            rows = [r for r in rows if keyword.lower() in str(r.get("content", "")).lower()]
        return {"formalized_content": markdown_table(rows) if rows else "", "json": rows}


class YahooFinanceParams(ComponentParams):
    info: bool = True
    history: bool = False
    count: bool = False
    financials: bool = False
    income_stmt: bool = False
    balance_sheet: bool = False
    cash_flow_statement: bool = False
    news: bool = True


_QUOTE_FIELDS = (
    "symbol", "longName", "exchangeName", "currency", "regularMarketPrice", "chartPreviousClose",
    "regularMarketDayHigh", "regularMarketDayLow", "regularMarketVolume", "fiftyTwoWeekHigh",
    "fiftyTwoWeekLow",
)  # fmt: skip


class YahooFinance(Tool):
    component_name = "YahooFinance"
    Params = YahooFinanceParams
    default_base_url = "https://query1.finance.yahoo.com"
    function_description = "Stock quote, recent prices and news from Yahoo Finance."
    arguments = (ToolArgument("stock_code", "The stock's ticker symbol.", default="{sys.query}"),)

    def call(self, context: RunContext, arguments: dict[str, Any]) -> dict[str, Any]:
        params = self.params
        assert isinstance(params, YahooFinanceParams)
        unsupported = [
            name
            for name in ("count", "financials", "income_stmt", "balance_sheet",
                         "cash_flow_statement")
            if getattr(params, name)
        ]  # fmt: skip
        if unsupported:
            raise ComponentError(
                f"YahooFinance {self.id}: ragserve does not fetch {', '.join(unsupported)}."
            )
        symbol = self.text_argument(arguments, "stock_code").split()[0:1]
        if not symbol:
            return {"report": ""}
        base = self.base_url(context)
        parts = []
        if params.info or params.history:
            chart = self._chart(base, symbol[0])
            if params.info:
                meta = chart.get("meta") or {}
                rows = [{"field": k, "value": meta[k]} for k in _QUOTE_FIELDS if k in meta]
                parts.append("# Information:\n" + (markdown_table(rows) if rows else "(none)"))
            if params.history:
                parts.append("# History:\n" + _history(chart))
        if params.news:
            found = http.get_json(
                "YahooFinance",
                base + "/v1/finance/search",
                params={"q": symbol[0], "newsCount": 10, "quotesCount": 0},
            )
            news = found.get("news") if isinstance(found, dict) else None
            rows = [
                {"title": n.get("title"), "publisher": n.get("publisher"), "link": n.get("link")}
                for n in news or []
                if isinstance(n, dict)
            ]
            parts.append("# News:\n" + (markdown_table(rows) if rows else "(none)"))
        return {"report": "\n\n".join(parts)}

    def _chart(self, base: str, symbol: str) -> dict[str, Any]:
        answer = http.get_json(
            "YahooFinance",
            f"{base}/v8/finance/chart/{quote(symbol, safe='')}",
            params={"range": "1mo", "interval": "1d"},
        )
        results = (answer.get("chart") or {}).get("result") if isinstance(answer, dict) else None
        if not results:
            raise ComponentError(f"YahooFinance: no data for `{symbol}`.")
        return dict(results[0])


def _history(chart: dict[str, Any]) -> str:
    quotes = ((chart.get("indicators") or {}).get("quote") or [{}])[0]
    rows = []
    for index, stamp in enumerate(chart.get("timestamp") or []):
        day = datetime.datetime.fromtimestamp(int(stamp), datetime.UTC).date().isoformat()
        row: dict[str, Any] = {"date": day}
        for key in ("open", "high", "low", "close", "volume"):
            values = quotes.get(key) or []
            row[key] = values[index] if index < len(values) else None
        rows.append(row)
    return markdown_table(rows) if rows else "(none)"


class Jin10Params(ComponentParams):
    type: Literal["flash", "calendar", "symbols", "news"] = "flash"
    secret_key: str = ""
    flash_type: Literal["1", "2", "3", "4", "5"] = "1"
    calendar_type: Literal["cj", "qh", "hk", "us"] = "cj"
    calendar_datatype: Literal["data", "event", "holiday"] = "data"
    symbols_type: Literal["GOODS", "FOREX", "FUTURE", "CRYPTO"] = "GOODS"
    symbols_datatype: Literal["symbols", "quotes"] = "symbols"
    contain: str = ""
    filter: str = ""


_JIN10_NAMES = {
    "a": "Selling Price", "b": "Buying Price", "c": "Commodity Code", "e": "Stock Exchange",
    "h": "Highest Price", "hc": "Yesterday's Closing Price", "l": "Lowest Price",
    "o": "Opening Price", "p": "Latest Price", "n": "Commodity Name",
}  # fmt: skip


class Jin10(Tool):
    """Jin10's open data API (``GET /data-api/flash|calendar/<datatype>|symbols|quotes|news``
    with the ``secret-key`` header, answering ``{"data": [...]}``). The ``query`` keeps the
    lines holding it when neither ``contain`` nor ``filter`` is set."""

    component_name = "Jin10"
    Params = Jin10Params
    default_base_url = "https://open-data-api.jin10.com"
    function_description = "Financial flash news, economic calendar, quotes or news from Jin10."
    arguments = (ToolArgument("query", "A keyword to filter the content by.", required=False),)

    def call(self, context: RunContext, arguments: dict[str, Any]) -> dict[str, Any]:
        params = self.params
        assert isinstance(params, Jin10Params)
        given = "" if params.secret_key == _RAGFLOW_PLACEHOLDER else params.secret_key
        key = self.api_key(context, given)
        base = self.base_url(context) + "/data-api"
        if params.type == "flash":
            path, query = "/flash", {"category": params.flash_type, "contain": params.contain,
                                     "filter": params.filter}  # fmt: skip
        elif params.type == "calendar":
            path, query = (
                f"/calendar/{params.calendar_datatype}",
                {"category": params.calendar_type},
            )
        elif params.type == "symbols":
            path, query = f"/{params.symbols_datatype}", {"type": params.symbols_type}
            if params.symbols_datatype == "quotes":
                query["codes"] = "BTCUSD"
        else:
            path, query = "/news", {"contain": params.contain, "filter": params.filter}
        answer = http.get_json(
            "Jin10",
            base + path,
            params={k: v for k, v in query.items() if v},
            headers={"secret-key": key},
        )
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, list):
            message = answer.get("message") if isinstance(answer, dict) else None
            raise ComponentError(f"Jin10 failed: {message or 'no data'}.")
        if params.type == "flash":
            rows = [{"content": (item.get("data") or {}).get("content", "")} for item in data
                    if isinstance(item, dict)]  # fmt: skip
        else:
            time_name = (
                "Market Quote Time"
                if params.type == "symbols" and (params.symbols_datatype == "quotes")
                else "Commodity Type"
            )
            names = {**_JIN10_NAMES, "t": time_name}
            rows = [{names.get(str(k)) or str(k): v for k, v in item.items()} for item in data
                    if isinstance(item, dict)]  # fmt: skip
        text = markdown_table(rows) if rows else ""
        keyword = self.text_argument(arguments, "query")
        if keyword and text and not (params.contain or params.filter):
            lines = text.splitlines()
            text = "\n".join(
                lines[:2] + [line for line in lines[2:] if keyword.lower() in line.lower()]
            )
        return {"formalized_content": text, "json": rows}
