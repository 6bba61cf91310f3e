"""The builtin embedding models side by side: all-MiniLM-L6-v2-q8 next to all-MiniLM-L6-v2.

    .venv/bin/python bench/embedding.py [--chunks 1000] [--threads 1] [--no-quality]

Chunks: the first --chunks chunks of bench/ingest.py's corpus (text PDFs and Cranfield abstracts,
parsed and chunked as a worker does, 512-token naive chunks, so most fill the model's 256 word
pieces). Each model embeds them with the same --threads, in the same run (best of two passes).
Agreement: the cosine of each chunk's q8 vector to its vector by the shipped model computed in
fp32 (min and mean), and of both to the float all-MiniLM-L6-v2 reference (the stored vectors of
tests/data/minilm-reference.json: the original float weights are not installable without
PyTorch). Quality: Cranfield nDCG@10 (bench/quality.py's metrics, API defaults and vector only)
on a home built with each model. Prints a table and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from ingest import corpus
from quality import (
    CRANFIELD,
    build,
    configurations,
    evaluate,
    load_collection,
    opened,
    ragserve_ranking,
)

from ragserve.ingest.chunkers import ChunkingOptions, chunker_for
from ragserve.ingest.parsers import parse_file
from ragserve.models.embedding import (
    BUILTIN_MODEL_ID,
    BUILTIN_Q8_ID,
    BuiltinEmbedding,
    BuiltinSession,
)
from ragserve.services import retrieval
from ragserve.services.auth import authenticate_api_key
from ragserve.services.parser_config import default_parser_config
from ragserve.tokenizer import count_tokens
from unit.minilm_reference import REFERENCE_TEXTS, reference_model

MODELS = (BUILTIN_MODEL_ID, BUILTIN_Q8_ID)
QUALITY_ROWS = ("API defaults", "vector (w=1)")


def real_chunks(count: int) -> list[str]:
    config = default_parser_config("naive")
    options = ChunkingOptions.from_parser_config(config, title="bench")
    texts: list[str] = []
    for name, data, _kind in corpus(pdf_pages=count // 2, texts=count):
        parsed = parse_file(data, suffix=name.rsplit(".", 1)[1])
        texts += [draft.content for draft in chunker_for("naive")(parsed, options, count_tokens)]
        if len(texts) >= count:
            break
    return texts[:count]


def throughput(
    models: dict[str, BuiltinEmbedding], texts: list[str], passes: int = 2
) -> tuple[dict[str, float], dict[str, np.ndarray[Any, Any]]]:
    """Chunks/s of each model, best of ``passes``; the models take turns, so that other load
    on the machine falls on both alike."""
    best = dict.fromkeys(models, float("inf"))
    vectors: dict[str, np.ndarray[Any, Any]] = {}
    for model in models.values():
        model.embed(["warm up"])
    for _ in range(passes):
        for model_id, model in models.items():
            started = time.perf_counter()
            vectors[model_id] = np.vstack(
                [model.embed(texts[i : i + 32]) for i in range(0, len(texts), 32)]
            )
            best[model_id] = min(best[model_id], time.perf_counter() - started)
    return {model_id: len(texts) / seconds for model_id, seconds in best.items()}, vectors


def cranfield_ndcg(model_id: str, work: Path) -> dict[str, float]:
    collection = load_collection(CRANFIELD, "position")
    home = work / model_id.split("@")[0]
    started = time.perf_counter()
    manifest = build(home, collection, {"default_embedding_model": model_id})
    print(f"  built Cranfield with {model_id} in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)  # fmt: skip
    result: dict[str, float] = {}
    with opened(home / "ragserve") as (_client, runtime):
        with runtime.read() as session:
            caller = authenticate_api_key(session, f"Bearer {manifest['api_key']}")
            scope = retrieval.resolve_scope(session, caller, [manifest["dataset_id"]])
        assert scope.embedding_model == model_id, scope.embedding_model
        options_by_name = dict(configurations())
        for name in QUALITY_ROWS:
            rankings = {
                q.id: ragserve_ranking(
                    runtime, scope, manifest["documents"], q.text, options_by_name[name]
                )
                for q in collection.queries
            }
            result[name] = evaluate(collection, rankings).ndcg
    return result


def run(count: int, threads: int, quality: bool, models_dir: Path) -> dict[str, Any]:
    texts = real_chunks(count)
    session = BuiltinSession(intra_op_threads=threads, cache_dir=models_dir)
    models = {model_id: BuiltinEmbedding(session, name=model_id) for model_id in MODELS}
    rates, vectors = throughput(models, texts)
    references: dict[str, tuple[float, float]] = {}
    reference_texts = [text for text in REFERENCE_TEXTS if text]
    expected = reference_model().embed(reference_texts)
    for model_id, model in models.items():
        cosines = np.sum(model.embed(reference_texts) * expected, axis=1)
        references[model_id] = (float(cosines.min()), float(cosines.mean()))
    agreement = np.sum(vectors[BUILTIN_Q8_ID] * vectors[BUILTIN_MODEL_ID], axis=1)
    ndcgs: dict[str, dict[str, float]] = {}
    if quality:
        with tempfile.TemporaryDirectory(prefix="ragserve-bench-embedding-") as work:
            for model_id in MODELS:
                ndcgs[model_id] = cranfield_ndcg(model_id, Path(work))
    return report(texts, threads, rates, agreement, references, ndcgs)


def report(
    texts: list[str],
    threads: int,
    rates: dict[str, float],
    agreement: np.ndarray[Any, Any],
    references: dict[str, tuple[float, float]],
    ndcgs: dict[str, dict[str, float]],
) -> dict[str, Any]:
    pieces = [len(ids) for ids in BuiltinSession().get().tokenize(texts)]
    print(
        f"ragserve embedding bench: {len(texts)} chunks (mean {np.mean(pieces):.0f} word pieces, "
        f"{sum(p >= 256 for p in pieces)} at 256), {threads} thread(s), Python "
        f"{sys.version.split()[0]}"
    )
    base = rates[BUILTIN_MODEL_ID]
    header = f"{'model':<30}{'chunks/s':>10}{'speed-up':>10}{'cos ref min':>13}{'cos ref mean':>14}"
    print(header)
    print("-" * len(header))
    for model_id in MODELS:
        low, mean = references[model_id]
        print(f"{model_id:<30}{rates[model_id]:>10.1f}{rates[model_id] / base:>10.2f}"
              f"{low:>13.4f}{mean:>14.4f}")  # fmt: skip
    print(
        f"\ncosine(q8, shipped fp32) on {len(texts)} chunks: min {agreement.min():.4f}, "
        f"mean {agreement.mean():.4f}   target min >= 0.98"
    )
    result: dict[str, Any] = {
        "bench": "embedding",
        "chunks": len(texts),
        "threads": threads,
        "chunks_per_s": {model_id: round(rate, 2) for model_id, rate in rates.items()},
        "speed_up": round(rates[BUILTIN_Q8_ID] / base, 3),
        "cosine_q8_vs_shipped": {
            "min": round(float(agreement.min()), 5),
            "mean": round(float(agreement.mean()), 5),
        },
        "cosine_vs_float_reference": {
            model_id: {"min": round(low, 5), "mean": round(mean, 5)}
            for model_id, (low, mean) in references.items()
        },
    }
    if ndcgs:
        print(f"\n{'Cranfield nDCG@10':<22}" + "".join(f"{m.split('@')[0]:>22}" for m in MODELS)
              + f"{'change':>10}")  # fmt: skip
        for name in QUALITY_ROWS:
            old, new = ndcgs[BUILTIN_MODEL_ID][name], ndcgs[BUILTIN_Q8_ID][name]
            print(f"{name:<22}{old:>22.4f}{new:>22.4f}{(new / old - 1) * 100:>9.2f}%")
        change = ndcgs[BUILTIN_Q8_ID]["API defaults"] / ndcgs[BUILTIN_MODEL_ID]["API defaults"] - 1
        met = "met" if abs(change) <= 0.01 else "MISSED"
        print(f"API defaults nDCG@10 change: {change * 100:+.2f}%   target within 1%: {met}")
        result["ndcg@10"] = {
            model_id: {name: round(value, 4) for name, value in rows.items()}
            for model_id, rows in ndcgs.items()
        }
    else:
        print("Cranfield nDCG@10: skipped (--no-quality)")
    print(json.dumps(result))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--chunks", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-quality", action="store_true", help="skip the Cranfield builds")
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "ragserve-models",
        help="where the int8 model is built and cached",
    )
    arguments = parser.parse_args()
    os.environ.setdefault("RAGSERVE_MODELS_DIR", str(arguments.models_dir))  # the homes' too
    run(arguments.chunks, arguments.threads, not arguments.no_quality, arguments.models_dir)


if __name__ == "__main__":
    main()
