"""Ingestion throughput per stage on the embedded default, and end to end next to the bare model.

    .venv/bin/python bench/ingest.py [--pdf-pages 500] [--texts 400] [--no-embed]
                                     [--model all-MiniLM-L6-v2-q8] [--threads N]

Corpus: the text PDFs of tests/data/pdf-samples, repeated until --pdf-pages pages, plus DOCX,
HTML and Markdown files built from Cranfield abstracts (--texts abstracts each).

1. Stages, one after the other, without embedding: parse, chunk, tokenize, index. PDF pages/s
   is given twice: with the chunk, tokenize and index time of every format charged to the PDFs
   (pessimistic) and with the PDFs' own time only ("PDF only").
2. End to end, as a worker runs a task (one document at a time): parse, chunk, then embedding in
   its thread (``embedding_pipeline``: batches sorted by length) while the task's thread
   tokenizes, then index. Chunks/s over the whole corpus; "embed beside tokenize" is the
   embedding stage's share of it.
3. Before (the task's stages as they ran before the embedding thread): embed in chunk order
   with the title in every batch, then tokenize; parse and index left out (they are the same),
   so its ratio is an upper bound of the old end to end.
4. The model alone, in the same run, with the same threads: exactly the same batches of the same
   texts, embedded with nothing else to do, each file right after its end-to-end run (a change
   of a shared machine's load hits both alike). Target (issue 20): end to end >= 0.9 of it.

--threads: the builtin model's intra-op threads; default, a worker's share of the cores with the
default settings (``worker.embedding_threads``). --no-embed skips 2 and 3 (minutes on a shared
machine). Prints a table and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.data import PDF_SAMPLES, cranfield_text
from ragserve.ingest.chunk_text import embedding_text
from ragserve.ingest.chunkers import ChunkingOptions, chunker_for
from ragserve.ingest.chunkers.base import ChunkDraft
from ragserve.ingest.embedding_pipeline import BackgroundEmbedding, BatchDone
from ragserve.ingest.parsers import parse_file
from ragserve.models.embedding import (
    BUILTIN_NAMES,
    BUILTIN_Q8_NAME,
    BuiltinEmbedding,
    BuiltinSession,
    embed_chunks,
)
from ragserve.services.ingestion import staged_chunk
from ragserve.services.parser_config import default_parser_config
from ragserve.settings import Settings
from ragserve.store.base import ChunkRecord, chunk_id
from ragserve.store.sqlite import SqliteChunkStore
from ragserve.tokenizer import count_tokens, tokenize_to_text
from ragserve.worker import available_cores, embedding_threads

TEXT_PDFS = (
    "004-pdflatex-4-pages",
    "009-pdflatex-geotopo",
    "026-latex-multicolumn",
    "011-google-doc-document",
)


@dataclass
class Stage:
    seconds: float = 0.0
    items: int = 0


PDF_TARGET = 25.0  # PDF pages/s without embedding (issue 20)
PIPELINE_TARGET = 0.9  # end-to-end chunks/s over the model's own (issue 20)
BATCH_SIZE = Settings.model_fields["embedding_batch_size"].default
TITLE_WEIGHT = 0.1


@dataclass
class Totals:
    stages: dict[str, Stage] = field(default_factory=dict)
    pdf_only: float = 0.0  # seconds of parse, chunk, tokenize and index spent on the PDFs

    def add(self, name: str, seconds: float, items: int) -> None:
        stage = self.stages.setdefault(name, Stage())
        stage.seconds += seconds
        stage.items += items


def corpus(pdf_pages: int, texts: int) -> list[tuple[str, bytes, str]]:
    """(name, bytes, kind) with kind "pdf" or "text"."""
    import docx
    import pypdfium2

    files: list[tuple[str, bytes, str]] = []
    pdfs = [next((PDF_SAMPLES / folder).glob("*.pdf")).read_bytes() for folder in TEXT_PDFS]
    pages = 0
    while pages < pdf_pages:
        for data in pdfs:
            files.append((f"doc{len(files)}.pdf", data, "pdf"))
            pages += len(pypdfium2.PdfDocument(data))
    abstracts = cranfield_text(texts).split("\n\n")
    markdown = "\n\n".join(f"## Abstract {i}\n\n{a}" for i, a in enumerate(abstracts))
    html = "".join(f"<h2>Abstract {i}</h2><p>{a}</p>" for i, a in enumerate(abstracts))
    document = docx.Document()
    for i, abstract in enumerate(abstracts):
        document.add_heading(f"Abstract {i}", level=2)
        document.add_paragraph(abstract)
    buffer = io.BytesIO()
    document.save(buffer)
    files += [
        ("abstracts.md", markdown.encode(), "text"),
        ("abstracts.html", f"<html><body>{html}</body></html>".encode(), "text"),
        ("abstracts.docx", buffer.getvalue(), "text"),
    ]
    return files


def run(
    pdf_pages: int,
    texts: int,
    embed: bool = True,
    model_name: str = BUILTIN_Q8_NAME,
    threads: int | None = None,
) -> dict[str, object]:
    files = corpus(pdf_pages, texts)
    threads = threads or default_threads()
    totals = Totals()
    pdf_page_count = 0
    chunk_count = 0
    unit = numpy.eye(1, 384, dtype=numpy.float32)[0]  # indexing still real, without a model
    config = default_parser_config("naive")
    options = ChunkingOptions.from_parser_config(config, title="bench")
    with tempfile.TemporaryDirectory() as home:
        store = SqliteChunkStore(Path(home) / "chunks.db", Path(home) / "vectors")
        for index, (name, data, kind) in enumerate(files):
            file_started = time.perf_counter()
            started = time.perf_counter()
            parsed = parse_file(data, suffix=name.rsplit(".", 1)[1])
            parse_time = time.perf_counter() - started
            pages = parsed.page_count if kind == "pdf" else 0
            pdf_page_count += pages
            totals.add(f"parse {kind}", parse_time, pages or 1)
            started = time.perf_counter()
            drafts = chunker_for("naive")(parsed, options, count_tokens)
            totals.add("chunk", time.perf_counter() - started, len(drafts))
            chunk_count += len(drafts)
            contents = [draft.content for draft in drafts]
            started = time.perf_counter()
            tokens = [tokenize_to_text(content) for content in contents]
            token_counts = [count_tokens(content) for content in contents]
            totals.add("tokenize", time.perf_counter() - started, len(drafts))
            records = [
                ChunkRecord(
                    id=chunk_id(f"doc{index}", content, order),
                    tenant_id="t",
                    dataset_id="d",
                    document_id=f"doc{index}",
                    document_name=name,
                    content=content,
                    content_tokens=tokens[order],
                    token_count=token_counts[order],
                    order=order,
                    vector=unit,
                )
                for order, content in enumerate(contents)
            ]
            started = time.perf_counter()
            store.insert(records)
            totals.add("index", time.perf_counter() - started, len(records))
            if kind == "pdf":
                totals.pdf_only += time.perf_counter() - file_started
        store.close()
    pipeline = None
    if embed:
        model = BuiltinEmbedding(
            BuiltinSession(intra_op_threads=threads), model=model_name, name=model_name
        )
        model.embed(["warm up"])
        pipeline = end_to_end(files, model, options)
    return report(totals, pdf_page_count, chunk_count, pipeline, model_name, threads)


def default_threads() -> int:
    """A worker process's share of the cores with the default settings."""
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home))
        return embedding_threads(settings, settings.workers)


@dataclass
class Pipeline:
    chunks: int
    seconds: float  # end to end: parse, chunk, embed beside tokenize, index
    model_seconds: float  # the same batches, the model alone
    sequential_seconds: float  # the embedding and tokenizing as they ran before, no parse/index
    pipelined_seconds: float  # the embedding beside the tokenizing, in the end-to-end run

    @property
    def rate(self) -> float:
        return self.chunks / self.seconds if self.seconds else 0.0

    @property
    def model_rate(self) -> float:
        return self.chunks / self.model_seconds if self.model_seconds else 0.0


def end_to_end(
    files: list[tuple[str, bytes, str]], model: BuiltinEmbedding, options: ChunkingOptions
) -> Pipeline:
    """Each file through the worker's stages, then the model alone on the same batches right
    after (so that a change of the shared machine's load hits both alike)."""
    chunks, seconds, model_seconds, sequential_seconds, embed_seconds = 0, 0.0, 0.0, 0.0, 0.0

    def ignore(_batch: BatchDone) -> None:
        pass

    with tempfile.TemporaryDirectory() as home:
        store = SqliteChunkStore(Path(home) / "chunks.db", Path(home) / "vectors")
        for index, (name, data, _kind) in enumerate(files):
            started = time.perf_counter()
            parsed = parse_file(data, suffix=name.rsplit(".", 1)[1])
            drafts = chunker_for("naive")(parsed, options, count_tokens)
            texts = [embedding_text(draft.content, draft.questions) for draft in drafts]
            embed_started = time.perf_counter()
            with BackgroundEmbedding(
                model, texts, title=name, title_weight=TITLE_WEIGHT, batch_size=BATCH_SIZE
            ) as embedding:
                staged = embedding.alongside(drafts, staged_chunk, ignore)
                vectors = embedding.result()
            embed_seconds += time.perf_counter() - embed_started
            store.insert(
                [
                    ChunkRecord(
                        id=chunk_id(f"doc{index}", chunk.content, order),
                        tenant_id="t",
                        dataset_id="d",
                        document_id=f"doc{index}",
                        document_name=name,
                        content=chunk.content,
                        content_tokens=chunk.content_tokens,
                        token_count=chunk.token_count,
                        order=order,
                        vector=vectors[order],
                    )
                    for order, chunk in enumerate(staged)
                ]
            )
            seconds += time.perf_counter() - started
            chunks += len(drafts)
            started = time.perf_counter()
            sequential(model, name, drafts)
            sequential_seconds += time.perf_counter() - started
            started = time.perf_counter()
            with BackgroundEmbedding(
                model, texts, title=name, title_weight=TITLE_WEIGHT, batch_size=BATCH_SIZE
            ) as embedding:
                embedding.alongside([], len, ignore)
            model_seconds += time.perf_counter() - started
        store.close()
    return Pipeline(chunks, seconds, model_seconds, sequential_seconds, embed_seconds)


def sequential(model: BuiltinEmbedding, name: str, drafts: list[ChunkDraft]) -> None:
    """Embed then tokenize, one after the other, in chunk order, the title with every batch: what
    a task did before the embedding thread (parse and index excluded; they are the same)."""
    for start in range(0, len(drafts), BATCH_SIZE):
        texts = [embedding_text(d.content, d.questions) for d in drafts[start : start + BATCH_SIZE]]
        embed_chunks(model, [name] * len(texts), texts, TITLE_WEIGHT)
    for draft in drafts:
        staged_chunk(draft)


def report(
    totals: Totals,
    pdf_pages: int,
    chunks: int,
    pipeline: Pipeline | None,
    model_name: str,
    threads: int,
) -> dict[str, object]:
    stages = totals.stages
    print(
        f"ragserve ingest bench: {pdf_pages} PDF pages, {chunks} chunks, "
        f"Python {sys.version.split()[0]}, {available_cores()} cores, model {model_name}, "
        f"{threads} intra-op threads, batches of {BATCH_SIZE}"
    )
    print(f"{'stage':<22}{'items':>8}{'seconds':>10}{'items/s':>12}{'vs model':>10}")
    print("-" * 62)
    rows: dict[str, object] = {}
    for name in ("parse pdf", "parse text", "chunk", "tokenize", "index"):
        stage = stages.get(name, Stage())
        rate = stage.items / stage.seconds if stage.seconds else 0.0
        print(f"{name:<22}{stage.items:>8}{stage.seconds:>10.2f}{rate:>12.1f}")
        rows[name] = {
            "items": stage.items,
            "seconds": round(stage.seconds, 3),
            "per_s": round(rate, 1),
        }
    ratio = 0.0
    if pipeline is not None:
        ratio = pipeline.rate / pipeline.model_rate if pipeline.model_rate else 0.0
        print(
            f"{'model alone (chunks)':<22}{pipeline.chunks:>8}{pipeline.model_seconds:>10.2f}"
            f"{pipeline.model_rate:>12.1f}{1.0:>10.2f}"
        )
        print(
            f"{'end to end (chunks)':<22}{pipeline.chunks:>8}{pipeline.seconds:>10.2f}"
            f"{pipeline.rate:>12.1f}{ratio:>10.2f}"
        )
        now, before = pipeline.pipelined_seconds, pipeline.sequential_seconds
        print(
            f"{'embed beside tokenize':<22}{pipeline.chunks:>8}{now:>10.2f}"
            f"{pipeline.chunks / now:>12.1f}{pipeline.model_seconds / now:>10.2f}"
        )
        print(
            f"{'before: embed, tokenize':<22}{pipeline.chunks:>8}{before:>10.2f}"
            f"{pipeline.chunks / before:>12.1f}{pipeline.model_seconds / before:>10.2f}"
        )
    pdf_only_rate = pdf_pages / totals.pdf_only if totals.pdf_only else 0.0
    print(f"{'PDF only (pages)':<22}{pdf_pages:>8}{totals.pdf_only:>10.2f}{pdf_only_rate:>12.1f}")
    # Chunk, tokenize and index time of every format is charged to the PDFs: a pessimistic rate.
    pdf_seconds = stages["parse pdf"].seconds + sum(
        stages[name].seconds for name in ("chunk", "tokenize", "index")
    )
    pdf_rate = pdf_pages / pdf_seconds
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def met(ok: bool) -> str:
        return "met" if ok else "MISSED"

    print(
        f"\nPDF pages/s, parse+chunk+tokenize+index (no embedding), every format's chunk/tokenize/"
        f"index charged: {pdf_rate:.1f}   target >= {PDF_TARGET:.0f} {met(pdf_rate >= PDF_TARGET)}"
    )
    print(
        f"PDF pages/s, the PDFs' own parse+chunk+tokenize+index: {pdf_only_rate:.1f}"
        f"   target >= {PDF_TARGET:.0f} {met(pdf_only_rate >= PDF_TARGET)}"
    )
    if pipeline is not None:
        print(
            f"end-to-end chunks/s / model alone (same threads, same batches): {ratio:.2f}"
            f"   target >= {PIPELINE_TARGET} {met(ratio >= PIPELINE_TARGET)}"
        )
    else:
        print("end to end / model alone: skipped (--no-embed)")
    print(f"peak memory: {peak_mb:.0f} MB   target < 1024")
    result = {
        "bench": "ingest",
        "pdf_pages": pdf_pages,
        "chunks": chunks,
        "model": model_name,
        "threads": threads,
        "stages": rows,
        "model_alone_per_s": round(pipeline.model_rate, 1) if pipeline else 0.0,
        "end_to_end_per_s": round(pipeline.rate, 1) if pipeline else 0.0,
        "end_to_end_vs_model": round(ratio, 3),
        "embed_beside_tokenize_vs_model": round(
            pipeline.model_seconds / pipeline.pipelined_seconds, 3
        )
        if pipeline
        else 0.0,
        "before_embed_tokenize_vs_model": round(
            pipeline.model_seconds / pipeline.sequential_seconds, 3
        )
        if pipeline
        else 0.0,
        "pdf_pages_per_s_without_embedding": round(pdf_rate, 1),
        "pdf_only_pages_per_s": round(pdf_only_rate, 1),
        "peak_rss_mb": round(peak_mb),
    }
    print(json.dumps(result))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdf-pages", type=int, default=500)
    parser.add_argument("--texts", type=int, default=400)
    parser.add_argument("--no-embed", action="store_true", help="skip embedding and the model")
    parser.add_argument("--model", default=BUILTIN_Q8_NAME, choices=BUILTIN_NAMES)
    parser.add_argument("--threads", type=int, help="intra-op threads (default: a worker's)")
    arguments = parser.parse_args()
    run(
        arguments.pdf_pages,
        arguments.texts,
        embed=not arguments.no_embed,
        model_name=arguments.model,
        threads=arguments.threads,
    )


if __name__ == "__main__":
    main()
