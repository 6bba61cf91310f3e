"""Retrieval quality on a Cranfield-format test collection, next to a plain BM25 baseline.

    .venv/bin/python bench/quality.py [--collection tests/data/cranfield] [--home DIR]

The collection directory holds ``cran.all.1400`` (documents: ``.I`` id, ``.T`` title, ``.A``,
``.B``, ``.W`` text), ``cran.qry`` (queries: ``.I``, ``.W``) and ``cranqrel``
(``query_id doc_id grade`` lines); any file names ending in ``.all.*``, ``.qry`` and ``qrel``
work. Query ids are the queries' positions in the query file (1, 2, ...), not their ``.I``
numbers: that is how Cranfield's judgments number them (``--query-ids field`` uses ``.I``).

Every document is uploaded through the HTTP API (in process, ``workers = 0`` so parsing runs
inline) as one text file named ``"<doc id> <title>.txt"`` holding its ``.W`` text, and parsed
with the default settings (``naive``, 512-token chunks, the builtin all-MiniLM-L6-v2). The built
home is kept under ``--home`` and reused while the collection is unchanged (a change to the
ingest, model or store code is reported; ``--rebuild`` builds afresh).

Every query then runs through ``services.retrieval.search`` (``page_size`` 100) with full text
only (``w = 0``), vector only (``w = 1``), hybrid weights, each with ``similarity_threshold`` 0,
and the defaults an API client gets (``w = 0.3``, ``similarity_threshold = 0.2``,
``top_k = 1024``). Chunk hits become documents by each document's best chunk. The baseline is
``bm25s`` (Lucene BM25, k1 = 1.5, b = 0.75, English stop words, Snowball stemming) over the
title and text of each document, measured in the same run. With ``--rerank-model`` the API
defaults also run reranked by that model (an API model: no offline cross-encoder ships on PyPI).

Metrics, averaged over the queries that have at least one relevant document:

* nDCG@10 with linear gains from Cranfield's inverted grades: ``gain = 5 - grade``, so grade
  1 (complete answer) gains 4, 2 -> 3, 3 -> 2, 4 (minimum interest) -> 1; grade -1 and 5 and
  unjudged documents gain 0. The ideal ranking orders all judged documents by gain.
* recall@100: relevant (gain > 0) documents among the first 100 over all relevant ones.
* MAP: average precision over the first 100 documents (relevant = gain > 0), divided by
  the number of relevant documents.

Prints a table and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import bm25s  # type: ignore[import-untyped]  # no py.typed
import Stemmer  # type: ignore[import-not-found]  # C extension without stubs
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.data import CRANFIELD
from ragserve.app import create_app
from ragserve.rag.hybrid import Rerank
from ragserve.runtime import Runtime
from ragserve.services import retrieval
from ragserve.services.auth import authenticate_api_key
from ragserve.services.retrieval import Scope, SearchOptions
from ragserve.settings import Settings

SOURCE = Path(__file__).resolve().parents[1] / "src" / "ragserve"
BUILD_INPUTS = ("ingest", "models", "store")
"""Source folders whose code shapes the built index: a change there is reported, since the
cached home no longer measures the code as it is (``--rebuild``)."""
HYBRID_WEIGHTS = (0.1, 0.2, 0.3, 0.5, 0.7)
PAGE_SIZE = 100
DEPTH = 100
"""Documents ranked per query: recall and MAP look this deep."""
NDCG_AT = 10
MAX_PAGES = 10
"""Pages of chunks read per query at most while collecting ``DEPTH`` distinct documents."""
UPLOAD_BATCH = 200
PARSE_BATCH = 100
MAX_NAME_CHARS = 180
MAX_GRADE = 4
"""Cranfield grades 1 (best) .. 4 (least); gain = MAX_GRADE + 1 - grade."""


@dataclass(frozen=True)
class Doc:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Query:
    id: str
    text: str


@dataclass(frozen=True)
class Collection:
    name: str
    documents: list[Doc]
    queries: list[Query]
    gains: dict[str, dict[str, int]]
    """query id -> document id -> gain (> 0 relevant; 0 judged not relevant)."""
    fingerprint: str


# ---- the collection ---------------------------------------------------------------------------

_FIELD = re.compile(r"^\.([A-Z])(?:\s+(.*))?$")


def _records(path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """``(.I value, {field letter: text})`` for each record of a Cranfield-format file."""
    ident: str | None = None
    fields: dict[str, list[str]] = {}
    current = ""
    for line in path.read_text(errors="replace").splitlines():
        match = _FIELD.match(line.rstrip())
        if match and match.group(1) == "I":
            if ident is not None:
                yield ident, {key: "\n".join(value).strip() for key, value in fields.items()}
            ident, fields, current = (match.group(2) or "").strip(), {}, ""
        elif match and match.group(2) is None:
            current = match.group(1)
            fields.setdefault(current, [])
        elif ident is not None and current:
            fields[current].append(line)
    if ident is not None:
        yield ident, {key: "\n".join(value).strip() for key, value in fields.items()}


def _one(directory: Path, patterns: Sequence[str]) -> Path:
    for pattern in patterns:
        found = sorted(p for p in directory.glob(pattern) if p.is_file())
        if found:
            return found[0]
    raise SystemExit(f"{directory}: no file matching {' or '.join(patterns)}")


def _number(text: str) -> str:
    """``"001"`` and ``"1"`` name the same document or query."""
    return str(int(text)) if text.isdigit() else text


def load_collection(directory: Path, query_ids: str) -> Collection:
    documents_file = _one(directory, ("*.all.*", "*.all"))
    queries_file = _one(directory, ("*.qry",))
    judgments_file = _one(directory, ("*qrel", "*qrels", "*qrel*"))
    documents = [
        Doc(_number(ident), " ".join(fields.get("T", "").split()), fields.get("W", ""))
        for ident, fields in _records(documents_file)
    ]
    queries = [
        Query(str(position) if query_ids == "position" else _number(ident), " ".join(w.split()))
        for position, (ident, fields) in enumerate(_records(queries_file), start=1)
        if (w := fields.get("W", ""))
    ]
    gains: dict[str, dict[str, int]] = {}
    for line in judgments_file.read_text().splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        grade = int(parts[2])
        gain = MAX_GRADE + 1 - grade if 1 <= grade <= MAX_GRADE else 0
        gains.setdefault(_number(parts[0]), {})[_number(parts[1])] = gain
    digest = hashlib.sha256()
    for path in (documents_file, queries_file, judgments_file):
        digest.update(path.read_bytes())
    return Collection(directory.resolve().name, documents, queries, gains, digest.hexdigest())


# ---- building the ragserve home ---------------------------------------------------------------


def _code_fingerprint() -> str:
    digest = hashlib.sha256()
    for folder in BUILD_INPUTS:
        for path in sorted((SOURCE / folder).rglob("*.py")):
            digest.update(str(path.relative_to(SOURCE)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def document_name(doc: Doc) -> str:
    title = doc.title.rstrip(" .").replace("/", "-").replace("\\", "-")
    name = f"{doc.id} {title}".strip()[:MAX_NAME_CHARS].rstrip(" .")
    return f"{name}.txt"


def _ok(response: Any) -> Any:
    body = response.json()
    if response.status_code != 200 or body.get("code") != 0:
        raise RuntimeError(f"HTTP {response.status_code}: {str(body)[:500]}")
    return body.get("data")


@contextmanager
def opened(
    home: Path, overrides: dict[str, Any] | None = None
) -> Iterator[tuple[TestClient, Runtime]]:
    settings = Settings(home=home, workers=0, log_level="warning", **(overrides or {}))
    with TestClient(create_app(settings), raise_server_exceptions=True) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        yield client, runtime


def build(
    home: Path,
    collection: Collection,
    settings: dict[str, Any] | None = None,
    parser_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Upload and parse every document (with ``parser_config``; ``raptor`` set: then run
    RAPTOR); returns the manifest saved beside the home."""
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    started = time.perf_counter()
    with opened(home / "ragserve", settings) as (client, _runtime):
        registered = client.post(
            "/v1/user/register",
            json={"nickname": "bench", "email": "bench@example.com", "password": "bench-pw"},
        )
        user = _ok(registered)
        session = {"Authorization": registered.headers["Authorization"]}
        api_key = _ok(client.post("/v1/system/new_token", headers=session))["token"]
        headers = {"Authorization": f"Bearer {api_key}"}
        body: dict[str, Any] = {"name": collection.name}
        if parser_config:
            body["parser_config"] = parser_config
        dataset_id = _ok(client.post("/api/v1/datasets", headers=headers, json=body))["id"]
        documents: dict[str, str] = {}
        for start in range(0, len(collection.documents), UPLOAD_BATCH):
            batch = collection.documents[start : start + UPLOAD_BATCH]
            files = [("file", (document_name(d), d.text.encode(), "text/plain")) for d in batch]
            uploaded = _ok(
                client.post(
                    f"/api/v1/datasets/{dataset_id}/documents", headers=headers, files=files
                )
            )
            for doc, wire in zip(batch, uploaded, strict=True):
                documents[wire["id"]] = doc.id
        ids = list(documents)
        for start in range(0, len(ids), PARSE_BATCH):
            _ok(
                client.post(
                    f"/api/v1/datasets/{dataset_id}/chunks",
                    headers=headers,
                    json={"document_ids": ids[start : start + PARSE_BATCH]},
                )
            )
            done = min(start + PARSE_BATCH, len(ids))
            print(f"  parsed {done}/{len(ids)} documents", file=sys.stderr, flush=True)
        if parser_config and parser_config.get("raptor"):
            _ok(client.post(f"/api/v1/datasets/{dataset_id}/run_raptor", headers=headers))
            trace = _ok(client.get(f"/api/v1/datasets/{dataset_id}/trace_raptor", headers=headers))
            print(f"  RAPTOR: {trace['progress_msg'].splitlines()[-1]}", file=sys.stderr)
        failed, chunks = _parse_outcome(client, headers, dataset_id)
    manifest = {
        "collection": collection.fingerprint,
        "code": _code_fingerprint(),
        "user_id": user["id"],
        "api_key": api_key,
        "dataset_id": dataset_id,
        "documents": documents,
        "failed": failed,
        "chunks": chunks,
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    (home / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def _parse_outcome(
    client: TestClient, headers: dict[str, str], dataset_id: str
) -> tuple[list[str], int]:
    """Names of documents whose parse did not finish, and the chunks of all documents."""
    failed: list[str] = []
    chunks, page = 0, 1
    while True:
        listed = _ok(
            client.get(
                f"/api/v1/datasets/{dataset_id}/documents",
                headers=headers,
                params={"page": page, "page_size": 1000},
            )
        )
        for document in listed["docs"]:
            chunks += document["chunk_count"]
            if document["run"] != "DONE":
                last = (document["progress_msg"] or "").strip().splitlines()[-1:] or ["?"]
                failed.append(f"{document['name']}: {last[0][:200]}")
        if len(listed["docs"]) < 1000:
            return failed, chunks
        page += 1


def prepared(home: Path, collection: Collection, rebuild: bool) -> dict[str, Any]:
    manifest_file = home / "manifest.json"
    if not rebuild and manifest_file.is_file():
        manifest: dict[str, Any] = json.loads(manifest_file.read_text())
        if manifest.get("collection") == collection.fingerprint:
            if manifest.get("code") != _code_fingerprint():
                print(
                    "  note: the ingest, model or store code changed since this home was built; "
                    "pass --rebuild to measure the new code",
                    file=sys.stderr,
                )
            return manifest
        print("  the collection changed: rebuilding", file=sys.stderr)
    print(f"building {home} ...", file=sys.stderr, flush=True)
    return build(home, collection)


# ---- rankings ---------------------------------------------------------------------------------

Ranking = list[str]
"""Collection document ids, best first, at most ``DEPTH``."""


def ragserve_ranking(
    runtime: Runtime,
    scope: Scope,
    documents: dict[str, str],
    question: str,
    options: SearchOptions,
    rerank: Rerank | None = None,
) -> Ranking:
    """The documents of the question's chunk hits, each at its best chunk's place."""
    ranking: dict[str, None] = {}
    for page in range(1, MAX_PAGES + 1):
        result = retrieval.search(runtime, scope, question, replace(options, page=page), rerank)
        for hit in result.hits:
            ranking.setdefault(documents[hit.chunk.document_id], None)
        if len(ranking) >= DEPTH or len(result.hits) < options.page_size:
            break
    return list(ranking)[:DEPTH]


def bm25_rankings(collection: Collection) -> dict[str, Ranking]:
    stemmer = Stemmer.Stemmer("english")
    corpus = [f"{doc.title}\n{doc.text}" for doc in collection.documents]
    index = bm25s.BM25()
    index.index(
        bm25s.tokenize(corpus, stopwords="en", stemmer=stemmer, show_progress=False),
        show_progress=False,
    )
    ids = [doc.id for doc in collection.documents]
    rankings: dict[str, Ranking] = {}
    for query in collection.queries:
        tokens = bm25s.tokenize([query.text], stopwords="en", stemmer=stemmer, show_progress=False)
        k = min(DEPTH, len(ids))
        found, scores = index.retrieve(tokens, k=k, show_progress=False)
        rankings[query.id] = [
            ids[int(position)]
            for position, score in zip(found[0], scores[0], strict=True)
            if score > 0
        ]
    return rankings


# ---- metrics ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    ndcg: float
    recall: float
    map: float


def evaluate(collection: Collection, rankings: dict[str, Ranking]) -> Scores:
    ndcgs, recalls, aps = [], [], []
    for query in collection.queries:
        gains = collection.gains.get(query.id, {})
        relevant = sum(1 for gain in gains.values() if gain > 0)
        if not relevant:
            continue
        ranking = rankings.get(query.id, [])
        dcg = sum(gains.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranking[:NDCG_AT]))
        ideal = sorted(gains.values(), reverse=True)[:NDCG_AT]
        idcg = sum(gain / math.log2(i + 2) for i, gain in enumerate(ideal))
        ndcgs.append(dcg / idcg)
        hits, precision_sum = 0, 0.0
        for i, d in enumerate(ranking[:DEPTH]):
            if gains.get(d, 0) > 0:
                hits += 1
                precision_sum += hits / (i + 1)
        recalls.append(hits / relevant)
        aps.append(precision_sum / relevant)
    count = len(ndcgs) or 1
    return Scores(sum(ndcgs) / count, sum(recalls) / count, sum(aps) / count)


def judged_queries(collection: Collection) -> int:
    return sum(
        1 for q in collection.queries if any(g > 0 for g in collection.gains.get(q.id, {}).values())
    )


# ---- the run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    scores: Scores
    seconds: float


def configurations() -> list[tuple[str, SearchOptions]]:
    def options(weight: float, threshold: float = 0.0) -> SearchOptions:
        return SearchOptions(
            page_size=PAGE_SIZE,
            similarity_threshold=threshold,
            vector_similarity_weight=weight,
            top_k=1024,
        )

    rows = [("full text (w=0)", options(0.0)), ("vector (w=1)", options(1.0))]
    rows += [(f"hybrid w={w}", options(w)) for w in HYBRID_WEIGHTS]
    defaults = SearchOptions()
    rows.append(
        (
            "API defaults",
            SearchOptions(
                page_size=PAGE_SIZE,
                similarity_threshold=defaults.similarity_threshold,
                vector_similarity_weight=defaults.vector_similarity_weight,
                top_k=defaults.top_k,
            ),
        )
    )
    return rows


def run(
    collection_dir: Path,
    home: Path,
    rebuild: bool,
    query_ids: str,
    rerank_model: str | None,
    chat_model: str | None = None,
) -> dict[str, Any]:
    collection = load_collection(collection_dir, query_ids)
    manifest = prepared(home, collection, rebuild)
    if manifest["failed"]:
        print(f"  {len(manifest['failed'])} documents did not parse:", file=sys.stderr)
        for line in manifest["failed"][:10]:
            print(f"    {line}", file=sys.stderr)
    rows: list[Row] = []
    started = time.perf_counter()
    bm25 = bm25_rankings(collection)
    baseline = Row("bm25s baseline", evaluate(collection, bm25), time.perf_counter() - started)
    with opened(home / "ragserve") as (_client, runtime):
        with runtime.read() as session:
            caller = authenticate_api_key(session, f"Bearer {manifest['api_key']}")
            scope = retrieval.resolve_scope(session, caller, [manifest["dataset_id"]])
        documents: dict[str, str] = manifest["documents"]
        retrieval.query_vector(runtime, scope, "warm up")
        for name, options in configurations():
            started = time.perf_counter()
            rankings = {
                q.id: ragserve_ranking(runtime, scope, documents, q.text, options)
                for q in collection.queries
            }
            seconds = time.perf_counter() - started
            rows.append(Row(name, evaluate(collection, rankings), seconds))
        if rerank_model:
            rerank = runtime.rerank_model(rerank_model, caller.tenant_id).scores
            options = dict(configurations())["API defaults"]
            started = time.perf_counter()
            rankings = {
                q.id: ragserve_ranking(runtime, scope, documents, q.text, options, rerank)
                for q in collection.queries
            }
            seconds = time.perf_counter() - started
            rows.append(Row("defaults + rerank", evaluate(collection, rankings), seconds))
        else:
            print(
                "hybrid + rerank: skipped; pass --rerank-model name@factory (with "
                "RAGSERVE_LLM_API_BASE/RAGSERVE_LLM_API_KEY): no offline cross-encoder ships "
                "on PyPI, so a rerank model is always an API model",
                file=sys.stderr,
            )
        rows.extend(model_built_rows(collection, home, rebuild, chat_model))
    return report(collection, manifest, baseline, rows)


LLM_VARIANTS = {
    "+ auto kw/questions": {"auto_keywords": 3, "auto_questions": 2},
    "+ RAPTOR": {"raptor": {"use_raptor": True}},
}
"""Knowledge the chat model builds (docs/knowledge.md), each measured on a home of its own."""


def model_built_rows(
    collection: Collection, home: Path, rebuild: bool, chat_model: str | None
) -> list[Row]:
    """The API defaults over homes built with each of ``LLM_VARIANTS``, by ``chat_model``
    (reached with RAGSERVE_LLM_API_BASE/RAGSERVE_LLM_API_KEY); none without a model."""
    if not chat_model:
        print(
            f"{', '.join(LLM_VARIANTS)}: skipped; pass --chat-model <LiteLLM model> (with "
            "RAGSERVE_LLM_API_BASE/RAGSERVE_LLM_API_KEY) to measure what they add",
            file=sys.stderr,
        )
        return []
    settings = {
        "default_chat_model": chat_model,
        "llm_api_base": os.environ.get("RAGSERVE_LLM_API_BASE"),
        "llm_api_key": os.environ.get("RAGSERVE_LLM_API_KEY"),
    }
    rows = []
    for name, parser_config in LLM_VARIANTS.items():
        variant_home = home.with_name(f"{home.name}-{name.strip('+ ').replace('/', '-')}")
        manifest = (
            build(variant_home, collection, settings, parser_config)
            if rebuild or not (variant_home / "manifest.json").is_file()
            else json.loads((variant_home / "manifest.json").read_text())
        )
        with opened(variant_home / "ragserve", settings) as (_client, runtime):
            with runtime.read() as session:
                caller = authenticate_api_key(session, f"Bearer {manifest['api_key']}")
                scope = retrieval.resolve_scope(session, caller, [manifest["dataset_id"]])
            options = dict(configurations())["API defaults"]
            started = time.perf_counter()
            rankings = {
                q.id: ragserve_ranking(runtime, scope, manifest["documents"], q.text, options)
                for q in collection.queries
            }
            rows.append(Row(name, evaluate(collection, rankings), time.perf_counter() - started))
    return rows


def report(
    collection: Collection, manifest: dict[str, Any], baseline: Row, rows: list[Row]
) -> dict[str, Any]:
    judged = judged_queries(collection)
    print(
        f"ragserve quality bench: {collection.name}, {len(collection.documents)} documents "
        f"({manifest['chunks']} chunks), {len(collection.queries)} queries ({judged} judged), "
        f"Python {sys.version.split()[0]}"
    )
    print("gain = 5 - grade (grade 1 -> 4 ... grade 4 -> 1); MAP and recall over the top 100")
    header = f"{'run':<18}{'nDCG@10':>9}{'recall@100':>12}{'MAP':>8}{'vs bm25':>9}{'s/query':>9}"
    print(header)
    print("-" * len(header))
    base = baseline.scores.ndcg
    queries = len(collection.queries) or 1
    for row in [baseline, *rows]:
        ratio = row.scores.ndcg / base if base else 0.0
        print(
            f"{row.name:<18}{row.scores.ndcg:>9.4f}{row.scores.recall:>12.4f}"
            f"{row.scores.map:>8.4f}{ratio:>9.3f}{row.seconds / queries:>9.4f}"
        )
    by_name = {row.name: row for row in rows}
    full_text = by_name["full text (w=0)"].scores.ndcg
    defaults = by_name["API defaults"].scores.ndcg
    print(
        f"\nfull text vs bm25s nDCG@10: {full_text - base:+.4f}   target >= -0.02\n"
        f"API defaults vs bm25s nDCG@10: {defaults / base - 1 if base else 0.0:+.1%}   "
        f"target >= +10%"
    )
    result = {
        "bench": "quality",
        "collection": collection.name,
        "documents": len(collection.documents),
        "chunks": manifest["chunks"],
        "queries": len(collection.queries),
        "judged_queries": judged,
        "gain": "5 - grade",
        "depth": DEPTH,
        "baseline": _scores(baseline),
        "runs": {row.name: _scores(row) for row in rows},
        "full_text_minus_bm25_ndcg10": round(full_text - base, 4),
        "defaults_over_bm25_ndcg10": round(defaults / base - 1, 4) if base else None,
        "unparsed_documents": len(manifest["failed"]),
        "build_seconds": manifest["build_seconds"],
    }
    print(json.dumps(result))
    return result


def _scores(row: Row) -> dict[str, float]:
    return {
        "ndcg@10": round(row.scores.ndcg, 4),
        "recall@100": round(row.scores.recall, 4),
        "map": round(row.scores.map, 4),
        "seconds": round(row.seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--collection", type=Path, default=CRANFIELD)
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        help="where the built ragserve home is kept (default: a folder in the temp directory)",
    )
    parser.add_argument("--rebuild", action="store_true", help="build the home even if cached")
    parser.add_argument(
        "--query-ids",
        choices=("position", "field"),
        default="position",
        help="judgments number queries by position in the query file, or by their .I field",
    )
    parser.add_argument(
        "--rerank-model",
        help="also run the API defaults reranked by this model (name@factory), reached with "
        "RAGSERVE_LLM_API_BASE and RAGSERVE_LLM_API_KEY",
    )
    parser.add_argument(
        "--chat-model",
        help="also measure auto keywords/questions and RAPTOR, built by this chat model (a "
        "LiteLLM model string) reached with RAGSERVE_LLM_API_BASE and RAGSERVE_LLM_API_KEY",
    )
    arguments = parser.parse_args()
    collection_dir: Path = arguments.collection
    home = arguments.home or Path(tempfile.gettempdir()) / "ragserve-bench-quality"
    run(
        collection_dir,
        home / collection_dir.resolve().name,
        arguments.rebuild,
        arguments.query_ids,
        arguments.rerank_model,
        arguments.chat_model,
    )


if __name__ == "__main__":
    main()
