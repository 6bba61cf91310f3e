"""The test data the repository carries (``tests/data``; origins and licences in its README)."""

from __future__ import annotations

from pathlib import Path

TEST_DATA = Path(__file__).resolve().parents[1] / "data"
PDF_SAMPLES = TEST_DATA / "pdf-samples"
CRANFIELD = TEST_DATA / "cranfield"


def cranfield_text(documents: int) -> str:
    """The first ``documents`` Cranfield abstracts as plain text, one paragraph each."""
    text = (CRANFIELD / "cran.all.1400").read_text(errors="replace")
    parts = []
    for record in text.split("\n.I ")[1 : documents + 1]:
        body = record.split("\n.W\n", 1)[-1]
        parts.append(" ".join(body.split()))
    return "\n\n".join(parts)
