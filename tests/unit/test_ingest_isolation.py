"""``call_in_child``: a parsing step in a forked child; how the child ends is what the caller
sees, and the caller's process survives native crashes."""

from __future__ import annotations

import faulthandler
import os
import signal

import pytest

from ragserve.ingest.isolation import CRASHED, call_in_child
from ragserve.ingest.types import ParseError


def crash(signum: int) -> None:
    faulthandler.disable()  # pytest's handler would print the child's stack into the test log
    os.kill(os.getpid(), signum)


def fail_to_parse(message: str) -> None:
    try:
        raise ValueError("library detail")
    except ValueError as error:
        raise ParseError(message) from error


def allocate_too_much() -> None:
    try:
        raise MemoryError
    except MemoryError as error:
        raise ParseError("The .json file could not be parsed; it may be damaged.") from error


def test_the_value_comes_back() -> None:
    assert call_in_child(sorted, [3, 1, 2], reverse=True) == [3, 2, 1]
    assert call_in_child(bytes, 5 * 2**20) == bytes(5 * 2**20)


def test_a_parse_error_comes_back_with_its_message() -> None:
    with pytest.raises(ParseError, match=r"^The file is empty\.$"):
        call_in_child(fail_to_parse, "The file is empty.")


def test_running_out_of_memory_is_a_memory_error_also_when_wrapped() -> None:
    with pytest.raises(MemoryError):
        call_in_child(allocate_too_much)


def test_an_aborting_child_ran_out_of_memory_and_the_caller_lives_on() -> None:
    with pytest.raises(MemoryError):
        call_in_child(crash, signal.SIGABRT)
    with pytest.raises(MemoryError):
        call_in_child(crash, signal.SIGKILL)


def test_another_crash_is_the_files_fault() -> None:
    with pytest.raises(ParseError) as raised:
        call_in_child(crash, signal.SIGSEGV)
    assert str(raised.value) == CRASHED.format("SIGSEGV")


def test_another_exception_comes_back_as_a_runtime_error() -> None:
    with pytest.raises(RuntimeError, match=r"^ZeroDivisionError: "):
        call_in_child(divmod, 1, 0)
