"""``progress_msg`` stays short however many steps a parse reports: its first lines, its last
lines, and how many were left out between them."""

from __future__ import annotations

from ragserve.db.models import Document
from ragserve.ingest import progress_log, tasks
from ragserve.ingest.progress_log import HEAD_LINES, LINE_CHARS, TAIL_LINES, append_line


def test_many_progress_updates_leave_a_bounded_log_with_first_and_last_lines() -> None:
    document = Document(progress_msg="")
    for step in range(20_000):
        tasks.append_progress(document, f"Pages {step}-{step}: Embedded 32/32 chunks.")
    tasks.fail_document(document, "The worker stopped 3 times on this document.")
    lines = document.progress_msg.split("\n")
    assert len(lines) == HEAD_LINES + 1 + TAIL_LINES
    assert len(document.progress_msg) < 4_000
    assert [line[9:] for line in lines[:2]] == [
        "Pages 0-0: Embedded 32/32 chunks.",
        "Pages 1-1: Embedded 32/32 chunks.",
    ]
    assert lines[HEAD_LINES] == f"[{20_001 - HEAD_LINES - TAIL_LINES} lines omitted]"
    assert lines[-2].endswith("Pages 19999-19999: Embedded 32/32 chunks.")
    assert lines[-1].endswith("[ERROR] The worker stopped 3 times on this document.")


def test_a_short_log_is_kept_whole() -> None:
    log = ""
    for step in range(HEAD_LINES + TAIL_LINES):
        log = append_line(log, f"step {step}")
    assert log.split("\n") == [f"step {step}" for step in range(HEAD_LINES + TAIL_LINES)]
    log = append_line(log, "one more")
    assert log.split("\n")[HEAD_LINES : HEAD_LINES + 2] == [
        "[1 line omitted]",
        f"step {HEAD_LINES + 1}",
    ]
    assert log.endswith("\none more")


def test_a_long_or_multiline_message_stays_one_bounded_line() -> None:
    log = append_line("first", "x" * 10_000 + "\nsecond line")
    first, line = log.split("\n")
    assert first == "first"
    assert len(line) == LINE_CHARS and line.endswith("…")
    assert progress_log.append_line("", "a\nb") == "a b"


def test_a_running_count_updates_its_own_line_and_leaves_the_others() -> None:
    document = Document(progress_msg="")
    tasks.append_progress(document, "Chunking finished: 6000 chunks.")
    for done in range(16, 6001, 16):
        tasks.append_progress(
            document, f"Pages 1-8: Embedded {done}/6000 chunks.", updates="Pages 1-8: Embedded "
        )
    tasks.append_progress(document, "The worker was stopped (shutdown); the task is queued again.")
    tasks.append_progress(document, "Embedded 16/6000 chunks.", updates="Embedded ")
    texts = [line[9:] for line in document.progress_msg.split("\n")]
    assert texts == [
        "Chunking finished: 6000 chunks.",
        "Pages 1-8: Embedded 6000/6000 chunks.",
        "The worker was stopped (shutdown); the task is queued again.",
        "Embedded 16/6000 chunks.",
    ]


def test_an_update_after_another_step_or_in_an_empty_log_is_a_new_line() -> None:
    log = append_line("", "10:00:00 Embedded 2/9 chunks.", updates="Embedded ")
    assert log == "10:00:00 Embedded 2/9 chunks."
    log = append_line(log, "10:00:01 Pages 1-8: Embedded 4/9 chunks.", updates="Pages 1-8: Emb")
    assert log.split("\n") == [
        "10:00:00 Embedded 2/9 chunks.",
        "10:00:01 Pages 1-8: Embedded 4/9 chunks.",
    ]
