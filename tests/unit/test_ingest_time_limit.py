"""The task time limit, also when a task runs others inside its own run (``workers = 0``)."""

from __future__ import annotations

import time

import pytest

from ragserve.services import ingestion
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


def test_an_unexpected_failure_names_no_exception() -> None:
    """A document's log is shown to API clients: no exception class or text reaches it."""
    from pydantic import BaseModel, ValidationError

    class Strict(BaseModel):
        size: int

    try:
        Strict.model_validate({"size": "secret detail"})
    except ValidationError as error:
        message = ingestion._describe(error, 60)
    assert message == "Internal error while parsing; see the server log."
