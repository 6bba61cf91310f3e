"""The task time limit, also when a task runs others inside its own run (``workers = 0``)."""

from __future__ import annotations

import time

import pytest

from ragserve.services.ingestion import TaskTimeout, time_limit


def test_the_limit_stops_a_task() -> None:
    started = time.monotonic()
    with pytest.raises(TaskTimeout), time_limit(1):
        time.sleep(5)
    assert time.monotonic() - started < 3


def test_an_inner_limit_leaves_the_outer_one_armed() -> None:
    started = time.monotonic()
    with pytest.raises(TaskTimeout), time_limit(1):
        with time_limit(60):
            time.sleep(0.2)
        time.sleep(5)  # the outer second runs out here
    assert time.monotonic() - started < 3
