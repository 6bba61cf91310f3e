"""A document's ``progress_msg``: a bounded log of its parse.

A parse reports a line per step, and a long PDF parsed as hundreds of page-range tasks reports
thousands; the log is shown in every document listing, so it keeps its first ``HEAD_LINES`` lines
(how the parse began), its last ``TAIL_LINES`` (where it is, and how it ended) and, between
them, one line counting the lines left out. Each line is cut at ``LINE_CHARS`` characters.
A step that reports a running count ("Embedded 96/170 chunks.") updates its own line rather
than adding one per batch, so that the lines that matter (a release, a retry, an error) stay in
sight.
"""

from __future__ import annotations

import re

HEAD_LINES = 10
TAIL_LINES = 30
LINE_CHARS = 500

_OMITTED = re.compile(r"^\[(\d+) lines? omitted\]$")


def _omitted(count: int) -> str:
    return f"[{count} line{'' if count == 1 else 's'} omitted]"


def append_line(log: str, line: str, *, updates: str | None = None) -> str:
    """``log`` with ``line`` added at the end, the middle of it dropped past the bound.

    With ``updates``, ``line`` replaces the last line when that line's text (past its time
    stamp) starts with ``updates``."""
    line = " ".join(line.splitlines())
    if len(line) > LINE_CHARS:
        line = line[: LINE_CHARS - 1] + "…"
    lines = log.split("\n") if log else []
    if updates is not None and lines and _text(lines[-1]).startswith(updates):
        lines.pop()
    head, tail, omitted = lines[:HEAD_LINES], lines[HEAD_LINES:], 0
    marker = _OMITTED.match(tail[0]) if tail else None
    if marker is not None:
        omitted, tail = int(marker.group(1)), tail[1:]
    tail.append(line)
    if len(tail) > TAIL_LINES:
        omitted += len(tail) - TAIL_LINES
        tail = tail[-TAIL_LINES:]
    return "\n".join([*head, *([_omitted(omitted)] if omitted else []), *tail])


def _text(line: str) -> str:
    """A line without its ``HH:MM:SS`` time stamp."""
    stamp, _, text = line.partition(" ")
    return text if stamp.count(":") == 2 else line
