"""Benchmark of the dataset and document endpoints over real HTTP.

Starts a ``ragserve serve`` process in a temporary home (``tests/helpers/server.py``) and times,
one request at a time over one keep-alive connection:

* ``ping``: ``GET /v1/system/ping``, the bare HTTP round trip (the baseline);
* ``create_dataset``: ``POST /api/v1/datasets``, N datasets one after the other;
* ``upload_document``: ``POST /api/v1/datasets/{id}/documents``, N ~1 KiB files, one per request;
* ``list_datasets``: ``GET /api/v1/datasets?page_size=100`` while N datasets exist;
* ``list_documents``: ``GET /api/v1/datasets/{id}/documents?page_size=100`` over N documents.

Usage: ``.venv/bin/python bench/datasets.py [--datasets N] [--documents N] [--lists N]``.
Prints a table, then one JSON line ``{"bench": "datasets", ...}`` with every number.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from helpers.server import running_server

PAGE_SIZE = 100
DOCUMENT_BYTES = 1024


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def measure(count: int, call: Callable[[int], httpx.Response]) -> dict[str, float]:
    """Run ``call(0)`` … ``call(count - 1)`` one after the other; check every answer."""
    durations: list[float] = []
    started = time.perf_counter()
    for index in range(count):
        before = time.perf_counter()
        response = call(index)
        durations.append(time.perf_counter() - before)
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:500]}")
        if response.headers.get("content-type", "").startswith("application/json"):
            body = response.json()
            if body.get("code") != 0:
                raise RuntimeError(f"code {body.get('code')}: {body.get('message')}")
    total = time.perf_counter() - started
    durations.sort()
    return {
        "count": count,
        "total_s": total,
        "p50_ms": percentile(durations, 0.50) * 1000,
        "p95_ms": percentile(durations, 0.95) * 1000,
        "mean_ms": statistics.fmean(durations) * 1000,
        "ops_per_s": count / total if total else 0.0,
    }


def document_content(index: int) -> bytes:
    line = f"Document {index}: the quick brown fox jumps over the lazy dog.\n".encode()
    return (line * (DOCUMENT_BYTES // len(line) + 1))[:DOCUMENT_BYTES]


def run(datasets: int, documents: int, lists: int) -> dict[str, Any]:
    results: dict[str, dict[str, float]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="ragserve-bench-") as temp,
        running_server(Path(temp) / "home") as server,
        httpx.Client(
            base_url=server.base_url,
            headers={"Authorization": f"Bearer {server.api_key}"},
            timeout=120,
        ) as client,
    ):
        for _ in range(50):  # warm up the connection and the server
            client.get("/v1/system/ping")

        results["ping"] = measure(datasets, lambda _: client.get("/v1/system/ping"))

        results["create_dataset"] = measure(
            datasets, lambda i: client.post("/api/v1/datasets", json={"name": f"bench-{i}"})
        )
        total = client.get("/api/v1/datasets", params={"page_size": 1}).json()["total_datasets"]
        if total != datasets:
            raise RuntimeError(f"{total} datasets exist, expected {datasets}")

        target = client.post("/api/v1/datasets", json={"name": "bench-documents"})
        dataset_id = target.json()["data"]["id"]
        documents_url = f"/api/v1/datasets/{dataset_id}/documents"
        results["upload_document"] = measure(
            documents,
            lambda i: client.post(
                documents_url, files={"file": (f"doc-{i}.txt", document_content(i))}
            ),
        )

        dataset_pages = max(1, math.ceil((datasets + 1) / PAGE_SIZE))
        results["list_datasets"] = measure(
            lists,
            lambda i: client.get(
                "/api/v1/datasets",
                params={"page": i % dataset_pages + 1, "page_size": PAGE_SIZE},
            ),
        )
        document_pages = max(1, math.ceil(documents / PAGE_SIZE))
        results["list_documents"] = measure(
            lists,
            lambda i: client.get(
                documents_url, params={"page": i % document_pages + 1, "page_size": PAGE_SIZE}
            ),
        )
        listed = client.get(documents_url, params={"page_size": 1}).json()["data"]["total"]
        if listed != documents:
            raise RuntimeError(f"{listed} documents listed, expected {documents}")

    baseline = results["ping"]["p50_ms"]
    for numbers in results.values():
        numbers["ratio_to_ping"] = numbers["p50_ms"] / baseline if baseline else 0.0
    return {
        "bench": "datasets",
        "datasets": datasets,
        "documents": documents,
        "lists": lists,
        "page_size": PAGE_SIZE,
        "document_bytes": DOCUMENT_BYTES,
        "python": platform.python_version(),
        "results": results,
    }


def print_table(report: dict[str, Any]) -> None:
    header = (
        f"{'operation':<16} {'count':>6} {'total s':>9} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'ops/s':>9} {'x ping':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, numbers in report["results"].items():
        print(
            f"{name:<16} {numbers['count']:>6} {numbers['total_s']:>9.2f} "
            f"{numbers['p50_ms']:>8.2f} {numbers['p95_ms']:>8.2f} "
            f"{numbers['ops_per_s']:>9.1f} {numbers['ratio_to_ping']:>7.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=int, default=1000, help="datasets to create")
    parser.add_argument("--documents", type=int, default=1000, help="documents to upload")
    parser.add_argument("--lists", type=int, default=200, help="list requests of each kind")
    args = parser.parse_args()
    for name in ("datasets", "documents", "lists"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    report = run(args.datasets, args.documents, args.lists)
    print(
        f"ragserve datasets bench: {args.datasets} datasets, {args.documents} documents "
        f"of {DOCUMENT_BYTES} B, page_size {PAGE_SIZE}, Python {report['python']}"
    )
    print_table(report)
    print(json.dumps(report, separators=(",", ":")))


if __name__ == "__main__":
    main()
