"""Paper search tools, whose services answer XML:

* ArXiv: the arXiv API, ``GET /api/query?search_query=all:<q>`` answering an Atom feed
  (``sort_by``: relevance, lastUpdatedDate, submittedDate).
* PubMed: NCBI's E-utilities, ``GET /esearch.fcgi?db=pubmed&retmode=json`` for the ids then
  ``GET /efetch.fcgi?db=pubmed&retmode=xml`` for the articles (``email`` is sent as NCBI asks).

Both add the papers to the turn's references like the web searches (``search.py``)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, Literal

from pydantic import Field

from ragserve.agent.components.tools import http
from ragserve.agent.components.tools.base import WebResult
from ragserve.agent.components.tools.search import SearchParams, SearchTool
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError

ATOM = "{http://www.w3.org/2005/Atom}"


def _xml(service: str, text: str) -> ET.Element:
    try:
        return ET.fromstring(text)  # noqa: S314 (expat fetches no external entities)
    except ET.ParseError:
        raise ComponentError(f"{service} did not answer XML.") from None


def _text(element: ET.Element | None) -> str:
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


class ArXivParams(SearchParams):
    top_n: int = Field(12, ge=1, le=100)
    sort_by: Literal["relevance", "lastUpdatedDate", "submittedDate"] = "submittedDate"


class ArXiv(SearchTool):
    component_name = "ArXiv"
    Params = ArXivParams
    default_base_url = "https://export.arxiv.org"
    function_description = "Searches arXiv for scientific papers."

    def search(self, context: RunContext, query: str, arguments: dict[str, Any]) -> list[WebResult]:
        params = self.params
        assert isinstance(params, ArXivParams)
        response = http.request(
            "ArXiv",
            "GET",
            self.base_url(context) + "/api/query",
            params={
                "search_query": f"all:{query}",
                "start": 0,
                "max_results": self.top_n,
                "sortBy": params.sort_by,
                "sortOrder": "descending",
            },
        )
        feed = _xml("ArXiv", response.text)
        found = []
        for entry in feed.findall(f"{ATOM}entry"):
            authors = ", ".join(
                _text(a.find(f"{ATOM}name")) for a in entry.findall(f"{ATOM}author")
            )
            title = _text(entry.find(f"{ATOM}title"))
            content = (
                f"Title: {title}\nAuthors: {authors}\n"
                f"Published: {_text(entry.find(f'{ATOM}published'))}\n"
                f"Summary: {_text(entry.find(f'{ATOM}summary'))}"
            )
            found.append(WebResult(title, _text(entry.find(f"{ATOM}id")), content))
        return found


class PubMedParams(SearchParams):
    top_n: int = Field(12, ge=1, le=100)
    email: str = ""


class PubMed(SearchTool):
    component_name = "PubMed"
    Params = PubMedParams
    default_base_url = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
    function_description = "Searches PubMed for biomedical articles."

    def search(self, context: RunContext, query: str, arguments: dict[str, Any]) -> list[WebResult]:
        params = self.params
        assert isinstance(params, PubMedParams)
        base = self.base_url(context)
        common = {
            "db": "pubmed",
            "tool": "ragserve",
            **({"email": params.email} if params.email else {}),
        }
        found = http.get_json(
            "PubMed",
            base + "/esearch.fcgi",
            params={**common, "term": query, "retmax": self.top_n, "retmode": "json"},
        )
        result = found.get("esearchresult") if isinstance(found, dict) else None
        ids = [str(i) for i in (result or {}).get("idlist") or []]
        if not ids:
            return []
        response = http.request(
            "PubMed",
            "GET",
            base + "/efetch.fcgi",
            params={**common, "id": ",".join(ids), "retmode": "xml"},
        )
        articles = _xml("PubMed", response.text)
        papers = []
        for article in articles.iter("PubmedArticle"):
            pmid = _text(article.find(".//PMID"))
            title = _text(article.find(".//ArticleTitle"))
            journal = _text(article.find(".//Journal/Title"))
            abstract = " ".join(_text(a) for a in article.findall(".//Abstract/AbstractText"))
            authors = ", ".join(
                f"{_text(a.find('ForeName'))} {_text(a.find('LastName'))}".strip()
                for a in article.findall(".//AuthorList/Author")
            )
            content = (
                f"Title: {title}\nAuthors: {authors}\nJournal: {journal}\nAbstract: {abstract}"
            )
            papers.append(WebResult(title, f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/", content))
        return papers
