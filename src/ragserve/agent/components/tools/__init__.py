"""The tools: components that run as canvas nodes and as an Agent's tools (one module each, or
one module per family of similar web APIs). ``TOOLS`` maps ``component_name`` to the class."""

from __future__ import annotations

from ragserve.agent.components.tools.base import Tool
from ragserve.agent.components.tools.code_exec import CodeExec
from ragserve.agent.components.tools.crawler import Crawler
from ragserve.agent.components.tools.email import Email
from ragserve.agent.components.tools.exesql import ExeSQL
from ragserve.agent.components.tools.markets import Jin10, TuShare, YahooFinance
from ragserve.agent.components.tools.papers import ArXiv, PubMed
from ragserve.agent.components.tools.search import (
    DuckDuckGo,
    GitHub,
    Google,
    GoogleScholar,
    SearXNG,
    TavilySearch,
    Wikipedia,
)
from ragserve.agent.components.tools.services import DeepL, QWeather, TavilyExtract

TOOLS: dict[str, type[Tool]] = {
    cls.component_name: cls
    for cls in (
        ExeSQL,
        Email,
        Crawler,
        CodeExec,
        TavilySearch,
        TavilyExtract,
        DuckDuckGo,
        Google,
        GoogleScholar,
        SearXNG,
        Wikipedia,
        GitHub,
        ArXiv,
        PubMed,
        DeepL,
        QWeather,
        TuShare,
        YahooFinance,
        Jin10,
    )
}

__all__ = ["TOOLS", "Tool"]
