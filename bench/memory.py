"""Memory of every process ``ragserve serve`` starts: idle, while and after ingesting the
bench corpus, and after retrievals; this tree next to a baseline tree, in the same run.

    .venv/bin/python bench/memory.py [--baseline /work/main/src] [--pdf-pages 100] [--texts 100]
                                     [--big-pdf-pages 1000] [--workers 2] [--retrievals 100]
                                     [--idle-seconds 70]

Each tree runs as ``python -m ragserve serve`` (PYTHONPATH=the tree's src) on a fresh home with
RAGSERVE_WORKERS=--workers; idle is sampled after --idle-seconds of uptime (past the
first minutely reaper run). Every process of the server's tree is measured with psutil: RSS,
and PSS/USS where the platform has them (PSS shares a copy-on-write page among the processes
that map it: the honest sum). The corpus is bench/ingest.py's (text PDFs, DOCX, HTML and
Markdown built from Cranfield abstracts) and one PDF of --big-pdf-pages pages made of the same
text PDFs' pages (0: none); the peaks are sampled every 0.2 s while it is ingested. Prints a
table and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import TEXT_PDFS, corpus  # noqa: E402

from helpers.data import PDF_SAMPLES  # noqa: E402
from helpers.server import RunningServer, running_server  # noqa: E402

IDLE_TARGET_MB = 400
WORKER_PEAK_TARGET_MB = 600
SETTLE_S = 8.0
QUESTIONS = (
    "what is the boundary layer on a flat plate",
    "heat transfer at hypersonic speeds",
    "shock wave interaction with a boundary layer",
    "buckling of thin cylindrical shells",
    "aerodynamic heating of a blunt body",
)
MB = 2**20


@dataclass
class Sample:
    role: str
    rss: float
    pss: float | None
    uss: float | None


@dataclass
class Peaks:
    """The highest RSS each process reached while sampled (by pid, with its role)."""

    rss: dict[int, float] = field(default_factory=dict)
    roles: dict[int, str] = field(default_factory=dict)


def big_pdf(pages: int) -> tuple[str, bytes, str]:
    """One PDF of ``pages`` pages, the bench's text PDFs repeated."""
    import pypdfium2

    sources = [
        pypdfium2.PdfDocument(next((PDF_SAMPLES / folder).glob("*.pdf")).read_bytes())
        for folder in TEXT_PDFS
    ]
    merged = pypdfium2.PdfDocument.new()
    while len(merged) < pages:
        for source in sources:
            take = min(len(source), pages - len(merged))
            merged.import_pages(source, list(range(take)))
    buffer = io.BytesIO()
    merged.save(buffer)
    return f"big-{pages}-pages.pdf", buffer.getvalue(), "pdf"


def processes(root: psutil.Process) -> list[tuple[str, psutil.Process]]:
    """(role, process) of the server and everything under it. The role is read from the tree:
    the server, the processes it starts (a ``worker`` command line is the supervisor) and their
    children (huey's worker processes and scheduler), whose children read one file each."""
    found: list[tuple[str, psutil.Process]] = [("server", root)]
    for child in root.children():
        command = " ".join(child.cmdline())
        found.append(("supervisor" if "worker" in command else "server child", child))
        for grandchild in child.children():
            found.append(("worker/scheduler", grandchild))
            found += [("parse child", process) for process in grandchild.children(True)]
    return found


def measure(root: psutil.Process) -> list[Sample]:
    samples = []
    for role, process in processes(root):
        try:
            info = process.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        samples.append(
            Sample(
                role,
                info.rss / MB,
                getattr(info, "pss", 0) / MB if hasattr(info, "pss") else None,
                getattr(info, "uss", 0) / MB if hasattr(info, "uss") else None,
            )
        )
    return samples


def sample_peaks(root: psutil.Process, peaks: Peaks, stop: threading.Event) -> None:
    while not stop.wait(0.2):
        for role, process in processes(root):
            try:
                rss = process.memory_info().rss / MB
            except psutil.NoSuchProcess:
                continue
            peaks.rss[process.pid] = max(peaks.rss.get(process.pid, 0.0), rss)
            peaks.roles[process.pid] = role


def settle(root: psutil.Process, idle_s: float) -> None:
    """Wait until the server ran ``idle_s`` seconds (past the first minutely reaper run, which
    an idle server makes too) and its process tree stopped growing."""
    count, stable_since = -1, time.monotonic()
    while time.monotonic() - stable_since < SETTLE_S or time.time() - root.create_time() < idle_s:
        now = len(processes(root))
        if now != count:
            count, stable_since = now, time.monotonic()
        time.sleep(0.5)


def ingest(client: httpx.Client, files: list[tuple[str, bytes, str]]) -> float:
    def call(method: str, path: str, **kwargs: Any) -> Any:
        body = client.request(method, path, **kwargs).json()
        if body["code"] != 0:
            raise RuntimeError(body)
        return body.get("data")

    dataset = call("POST", "/datasets", json={"name": "memory"})["id"]
    ids = []
    for name, data, _kind in files:
        [document] = call("POST", f"/datasets/{dataset}/documents", files=[("file", (name, data))])
        ids.append(document["id"])
    started = time.monotonic()
    call("POST", f"/datasets/{dataset}/chunks", json={"document_ids": ids})
    while True:
        docs = call("GET", f"/datasets/{dataset}/documents", params={"page_size": 1000})["docs"]
        runs = [doc["run"] for doc in docs]
        if all(run in {"DONE", "FAIL", "CANCEL"} for run in runs):
            if any(run != "DONE" for run in runs):
                raise RuntimeError(f"not all parsed: {runs}")
            return time.monotonic() - started
        time.sleep(1)


def retrieve(client: httpx.Client, count: int) -> None:
    datasets = client.get("/datasets").json()["data"]
    ids = [dataset["id"] for dataset in datasets]
    for index in range(count):
        body = client.post(
            "/retrieval", json={"question": QUESTIONS[index % len(QUESTIONS)], "dataset_ids": ids}
        ).json()
        if body["code"] != 0:
            raise RuntimeError(body)


def run_tree(
    src: Path,
    home: Path,
    files: list[tuple[str, bytes, str]],
    workers: int,
    retrievals: int,
    idle_s: float,
) -> dict[str, Any]:
    env = {"PYTHONPATH": str(src), "RAGSERVE_WORKERS": str(workers)}
    with running_server(home, env) as server:
        root = psutil.Process(server.process.pid)
        settle(root, idle_s)
        phases: dict[str, list[Sample]] = {"idle": measure(root)}
        peaks = Peaks()
        stop = threading.Event()
        sampler = threading.Thread(target=sample_peaks, args=(root, peaks, stop))
        sampler.start()
        client = client_for(server)
        try:
            if not files:
                return {"phases": phases, "peaks": peaks, "ingest_s": 0.0}
            seconds = ingest(client, files)
            stop.set()
            sampler.join()
            phases["ingested"] = measure(root)
            retrieve(client, retrievals)
            phases["retrievals"] = measure(root)
        finally:
            stop.set()
            client.close()
    return {"phases": phases, "peaks": peaks, "ingest_s": seconds}


def client_for(server: RunningServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url + "/api/v1",
        headers={"Authorization": f"Bearer {server.api_key}"},
        timeout=300,
    )


def total(samples: list[Sample], key: str) -> float | None:
    values = [getattr(sample, key) for sample in samples]
    return None if any(value is None for value in values) else sum(values)


def cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def report(
    results: dict[str, dict[str, Any]], pages: int, big_pages: int, retrievals: int
) -> dict[str, Any]:
    big = f" + one {big_pages}-page PDF" if big_pages else ""
    print(
        f"ragserve memory bench: {pages} PDF pages{big} + 3 text files, {retrievals} retrievals, "
        f"Python {sys.version.split()[0]}, MB"
    )
    print(f"{'tree':<10}{'phase':<12}{'process':<18}{'RSS':>7}{'PSS':>7}{'USS':>7}")
    print("-" * 61)
    summary: dict[str, Any] = {}
    for tree, result in results.items():
        tree_summary: dict[str, Any] = {"ingest_s": round(result["ingest_s"], 1)}
        for phase, samples in result["phases"].items():
            for sample in samples:
                print(
                    f"{tree:<10}{phase:<12}{sample.role:<18}{cell(sample.rss):>7}"
                    f"{cell(sample.pss):>7}{cell(sample.uss):>7}"
                )
            sums = {key: total(samples, key) for key in ("rss", "pss", "uss")}
            print(
                f"{tree:<10}{phase:<12}{'= total (' + str(len(samples)) + ')':<18}"
                f"{cell(sums['rss']):>7}{cell(sums['pss']):>7}{cell(sums['uss']):>7}"
            )
            tree_summary[phase] = {
                "processes": len(samples),
                **{key: None if value is None else round(value) for key, value in sums.items()},
            }
        peaks: Peaks = result["peaks"]
        by_role: dict[str, list[float]] = {}
        for pid, rss in peaks.rss.items():
            if rss > 0:  # a zombie's
                by_role.setdefault(peaks.roles[pid], []).append(rss)
        for role, values in by_role.items():
            label = f"{role} ({len(values)})"
            print(f"{tree:<10}{'peak ingest':<12}{label:<18}{max(values):>7.0f}")
        worker_peak = max(by_role.get("worker/scheduler", [0.0]) + by_role.get("parse child", []))
        tree_summary["worker_peak_rss"] = round(worker_peak)
        tree_summary["server_peak_rss"] = round(max(by_role.get("server", [0.0])))
        summary[tree] = tree_summary
        print("-" * 61)
    current = summary["this"]
    idle_met = current["idle"]["rss"] <= IDLE_TARGET_MB
    peak_met = current["worker_peak_rss"] <= WORKER_PEAK_TARGET_MB
    print(
        f"idle total RSS {current['idle']['rss']} MB: target <= {IDLE_TARGET_MB}: "
        f"{'met' if idle_met else 'MISSED'}"
    )
    print(
        f"worker peak RSS {current['worker_peak_rss']} MB: target <= {WORKER_PEAK_TARGET_MB}: "
        f"{'met' if peak_met else 'MISSED'}"
    )
    result = {
        "bench": "memory",
        "pdf_pages": pages,
        "big_pdf_pages": big_pages,
        "retrievals": retrievals,
        **summary,
    }
    result["targets_met"] = {"idle_rss": idle_met, "worker_peak_rss": peak_met}
    print(json.dumps(result))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, default=Path("/work/main/src"))
    parser.add_argument("--pdf-pages", type=int, default=100)
    parser.add_argument("--texts", type=int, default=100)
    parser.add_argument("--big-pdf-pages", type=int, default=1000, help="0: no big PDF")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--retrievals", type=int, default=100)
    parser.add_argument(
        "--idle-seconds", type=float, default=70, help="server uptime before the idle sample"
    )
    parser.add_argument("--idle-only", action="store_true", help="measure idle servers only")
    parser.add_argument("--only-this", action="store_true", help="skip the baseline")
    arguments = parser.parse_args()
    files = [] if arguments.idle_only else corpus(arguments.pdf_pages, arguments.texts)
    if files and arguments.big_pdf_pages:
        files.append(big_pdf(arguments.big_pdf_pages))
    trees = {"this": ROOT / "src"}
    if not arguments.only_this:
        trees = {"baseline": arguments.baseline, **trees}
    results = {}
    with tempfile.TemporaryDirectory(prefix="ragserve-memory-") as temp:
        for name, src in trees.items():
            results[name] = run_tree(
                src,
                Path(temp) / name,
                files,
                arguments.workers,
                arguments.retrievals,
                arguments.idle_seconds,
            )
    report(results, arguments.pdf_pages, arguments.big_pdf_pages, arguments.retrievals)


if __name__ == "__main__":
    main()
