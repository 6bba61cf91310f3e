"""Ingestion throughput per stage on the embedded default, next to the bare embedding model.

    .venv/bin/python bench/ingest.py [--pdf-pages 500] [--texts 400] [--no-embed]

Corpus: the text PDFs of tests/data/pdf-samples, repeated until --pdf-pages pages, plus DOCX,
HTML and Markdown files built from Cranfield abstracts (--texts abstracts each). Stages run in
this process exactly as a worker runs them: parse, chunk, tokenize, embed, index. The baseline is
the embedding model alone on the same chunk texts, measured in the same run. PDF pages/s is given
twice: with the chunk, tokenize and index time of every format charged to the PDFs (pessimistic)
and with the PDFs' own time only ("PDF only"). --no-embed skips the embedding stage and the model
(minutes on a shared machine) for the parsing numbers alone. Prints a table and ends with one JSON
line.
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
from ragserve.ingest.chunkers import ChunkingOptions, chunker_for
from ragserve.ingest.parsers import parse_file
from ragserve.models.embedding import BuiltinEmbedding, embed_chunks
from ragserve.services.parser_config import default_parser_config
from ragserve.store.base import ChunkRecord, chunk_id
from ragserve.store.sqlite import SqliteChunkStore
from ragserve.tokenizer import count_tokens, tokenize_to_text

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


def run(pdf_pages: int, texts: int, embed: bool = True) -> dict[str, object]:
    files = corpus(pdf_pages, texts)
    model = BuiltinEmbedding()
    if embed:
        model.embed(["warm up"])
    totals = Totals()
    pdf_page_count = 0
    all_texts: list[str] = []
    with tempfile.TemporaryDirectory() as home:
        store = SqliteChunkStore(Path(home) / "chunks.db", Path(home) / "vectors")
        config = default_parser_config("naive")
        options = ChunkingOptions.from_parser_config(config, title="bench")
        for index, (name, data, kind) in enumerate(files):
            file_started, charged = time.perf_counter(), 0.0  # charged: embedding, not counted
            started = time.perf_counter()
            parsed = parse_file(data, suffix=name.rsplit(".", 1)[1])
            parse_time = time.perf_counter() - started
            pages = parsed.page_count if kind == "pdf" else 0
            pdf_page_count += pages
            totals.add(f"parse {kind}", parse_time, pages or 1)
            started = time.perf_counter()
            drafts = chunker_for("naive")(parsed, options, count_tokens)
            totals.add("chunk", time.perf_counter() - started, len(drafts))
            contents = [draft.content for draft in drafts]
            all_texts += contents
            started = time.perf_counter()
            tokens = [tokenize_to_text(content) for content in contents]
            token_counts = [count_tokens(content) for content in contents]
            totals.add("tokenize", time.perf_counter() - started, len(drafts))
            started = time.perf_counter()
            if embed and contents:
                vectors = embed_chunks(model, [name] * len(contents), contents, 0.1)
            else:
                unit = numpy.eye(1, model.dimension, dtype=numpy.float32)[0]  # indexing still real
                vectors = [unit for _ in contents]
            charged = time.perf_counter() - started
            if embed:
                totals.add("embed", charged, len(drafts))
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
                    vector=vectors[order],
                )
                for order, content in enumerate(contents)
            ]
            started = time.perf_counter()
            store.insert(records)
            totals.add("index", time.perf_counter() - started, len(records))
            if kind == "pdf":
                totals.pdf_only += time.perf_counter() - file_started - charged
        store.close()
    raw_seconds = 0.0
    if embed:
        started = time.perf_counter()
        for start in range(0, len(all_texts), 32):
            model.embed(all_texts[start : start + 32])
        raw_seconds = time.perf_counter() - started
    return report(totals, pdf_page_count, len(all_texts), raw_seconds)


def report(totals: Totals, pdf_pages: int, chunks: int, raw_seconds: float) -> dict[str, object]:
    stages = totals.stages
    raw_rate = chunks / raw_seconds if raw_seconds else 0.0
    print(
        f"ragserve ingest bench: {pdf_pages} PDF pages, {chunks} chunks, "
        f"Python {sys.version.split()[0]}"
    )
    print(f"{'stage':<14}{'items':>8}{'seconds':>10}{'items/s':>12}{'vs model':>10}")
    print("-" * 54)
    rows = {}
    for name in ("parse pdf", "parse text", "chunk", "tokenize", "embed", "index"):
        stage = stages.get(name, Stage())
        rate = stage.items / stage.seconds if stage.seconds else 0.0
        ratio = f"{rate / raw_rate:.2f}" if name == "embed" and raw_rate else ""
        print(f"{name:<14}{stage.items:>8}{stage.seconds:>10.2f}{rate:>12.1f}{ratio:>10}")
        rows[name] = {
            "items": stage.items,
            "seconds": round(stage.seconds, 3),
            "per_s": round(rate, 1),
        }
    if raw_seconds:
        print(f"{'model alone':<14}{chunks:>8}{raw_seconds:>10.2f}{raw_rate:>12.1f}{1.0:>10.2f}")
    pdf_only_rate = pdf_pages / totals.pdf_only if totals.pdf_only else 0.0
    print(f"{'PDF only':<14}{pdf_pages:>8}{totals.pdf_only:>10.2f}{pdf_only_rate:>12.1f}")
    # Chunk, tokenize and index time of every format is charged to the PDFs: a pessimistic rate.
    pdf_seconds = stages["parse pdf"].seconds + sum(
        stages[name].seconds for name in ("chunk", "tokenize", "index")
    )
    pdf_rate = pdf_pages / pdf_seconds
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    embed = stages.get("embed", Stage())
    embed_ratio = (embed.items / embed.seconds) / raw_rate if raw_rate and embed.seconds else 0.0

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
    if raw_rate:
        print(f"embed stage / model alone: {embed_ratio:.2f}   target >= 0.80")
    else:
        print("embed stage / model alone: skipped (--no-embed)")
    print(f"peak memory: {peak_mb:.0f} MB   target < 1024")
    result = {
        "bench": "ingest",
        "pdf_pages": pdf_pages,
        "chunks": chunks,
        "stages": rows,
        "model_alone_per_s": round(raw_rate, 1),
        "pdf_pages_per_s_without_embedding": round(pdf_rate, 1),
        "pdf_only_pages_per_s": round(pdf_only_rate, 1),
        "embed_vs_model": round(embed_ratio, 3),
        "peak_rss_mb": round(peak_mb),
    }
    print(json.dumps(result))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdf-pages", type=int, default=500)
    parser.add_argument("--texts", type=int, default=400)
    parser.add_argument("--no-embed", action="store_true", help="skip embedding and the model")
    arguments = parser.parse_args()
    run(arguments.pdf_pages, arguments.texts, embed=not arguments.no_embed)


if __name__ == "__main__":
    main()
