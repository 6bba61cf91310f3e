"""Web-API tools that are not searches:

* TavilyExtract: Tavily's ``POST /extract`` (the pages' text, as markdown or text), which
  join the turn's references.
* DeepL: ``POST /v2/translate`` with ``Authorization: DeepL-Auth-Key``; a free key
  (``…:fx``) goes to ``api-free.deepl.com``.
* QWeather: the city's id from ``GET /geo/v2/city/lookup``, then ``/v7/weather/<period>``,
  ``/v7/indices/1d`` or ``/v7/air/now`` (QWeather's API host of the account: set it in
  ``agent_tool_base_urls``).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field

from ragserve.agent.components.base import ComponentParams
from ragserve.agent.components.tools import http
from ragserve.agent.components.tools.base import Tool, ToolArgument, WebResult, add_pages
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError


class TavilyExtractParams(ComponentParams):
    api_key: str = ""
    extract_depth: Literal["basic", "advanced"] = "basic"
    format: Literal["markdown", "text"] = "markdown"


class TavilyExtract(Tool):
    component_name = "TavilyExtract"
    Params = TavilyExtractParams
    default_base_url = "https://api.tavily.com"
    function_description = "Extracts the text of web pages with Tavily."
    arguments = (
        ToolArgument("urls", "The URLs to extract, separated by commas.", default="{sys.query}"),
    )

    def call(self, context: RunContext, arguments: dict[str, Any]) -> dict[str, Any]:
        params = self.params
        assert isinstance(params, TavilyExtractParams)
        given = arguments.get("urls")
        items = given if isinstance(given, list) else str(given or "").split(",")
        urls = [str(u).strip() for u in items if str(u).strip()]
        if not urls:
            return {"formalized_content": "", "json": []}
        key = self.api_key(context, params.api_key)
        answer = http.post_json(
            "Tavily",
            self.base_url(context) + "/extract",
            json_body={"urls": urls, "extract_depth": params.extract_depth,
                       "format": params.format, "api_key": key},
            headers={"Authorization": f"Bearer {key}"},
        )  # fmt: skip
        results = answer.get("results") if isinstance(answer, dict) else None
        pages = [
            WebResult(str(r.get("url")), str(r.get("url")), str(r.get("raw_content") or ""))
            for r in results or []
            if isinstance(r, dict)
        ]
        return add_pages(context, pages, self.component_name)


class DeepLParams(ComponentParams):
    auth_key: str = ""
    source_lang: str = ""
    target_lang: str = "EN-US"


class DeepL(Tool):
    component_name = "DeepL"
    Params = DeepLParams
    function_description = "Translates text with DeepL."
    arguments = (ToolArgument("text", "The text to translate.", default="{sys.query}"),)

    def call(self, context: RunContext, arguments: dict[str, Any]) -> dict[str, Any]:
        params = self.params
        assert isinstance(params, DeepLParams)
        text = self.text_argument(arguments, "text")
        if not text:
            return {"content": ""}
        key = self.api_key(context, params.auth_key)
        configured = self.settings(context).agent_tool_base_urls.get("DeepL")
        free = "https://api-free.deepl.com" if key.endswith(":fx") else "https://api.deepl.com"
        body: dict[str, Any] = {"text": [text], "target_lang": params.target_lang.upper()}
        if params.source_lang and params.source_lang.lower() != "auto":
            body["source_lang"] = params.source_lang.upper()
        answer = http.post_json(
            "DeepL",
            (configured or free).rstrip("/") + "/v2/translate",
            json_body=body,
            headers={"Authorization": f"DeepL-Auth-Key {key}"},
        )
        translations = answer.get("translations") if isinstance(answer, dict) else None
        if not translations:
            raise ComponentError("DeepL answered no translation.")
        return {"content": "\n".join(str(t.get("text", "")) for t in translations)}


class QWeatherParams(ComponentParams):
    web_apikey: str = ""
    lang: str = "en"
    type: Literal["weather", "indices", "airquality"] = "weather"
    user_type: Literal["free", "paid"] = "free"
    time_period: Literal["now", "3d", "7d", "10d", "15d", "30d", "24h", "72h"] = "now"
    top_n: int = Field(3, ge=1, le=30)


class QWeather(Tool):
    component_name = "QWeather"
    Params = QWeatherParams
    default_base_url = "https://api.qweather.com"
    function_description = "Weather, life indices or air quality of a city (QWeather)."
    arguments = (ToolArgument("location", "The city's name.", default="{sys.query}"),)

    def call(self, context: RunContext, arguments: dict[str, Any]) -> dict[str, Any]:
        params = self.params
        assert isinstance(params, QWeatherParams)
        location = self.text_argument(arguments, "location")
        if not location:
            return {"content": ""}
        base = self.base_url(context)
        key = self.api_key(context, params.web_apikey)
        common = {"key": key, "lang": params.lang}
        cities = self._answer(base + "/geo/v2/city/lookup", {**common, "location": location})
        found = cities.get("location") or []
        if not found:
            return {"content": f"No city named {location} was found."}
        city = found[0]
        where = {**common, "location": city.get("id")}
        if params.type == "weather":
            answer = self._answer(f"{base}/v7/weather/{params.time_period}", where)
            data = answer.get("now") or answer.get("daily") or answer.get("hourly")
        elif params.type == "indices":
            answer = self._answer(f"{base}/v7/indices/1d", {**where, "type": "0"})
            data = answer.get("daily")
        else:
            answer = self._answer(f"{base}/v7/air/now", where)
            data = answer.get("now")
        if isinstance(data, list):
            data = data[: params.top_n]
        name = ", ".join(str(city.get(k)) for k in ("name", "adm1", "country") if city.get(k))
        content = f"{name}:\n{json.dumps(data, ensure_ascii=False, indent=1)}"
        return {"content": content, "json": data}

    def _answer(self, url: str, query: dict[str, Any]) -> dict[str, Any]:
        answer = http.get_json("QWeather", url, params=query)
        if not isinstance(answer, dict) or str(answer.get("code")) != "200":
            code = answer.get("code") if isinstance(answer, dict) else "?"
            raise ComponentError(f"QWeather failed: code {code}.")
        return answer
