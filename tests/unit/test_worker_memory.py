"""``task_memory_limit``: a worker process caps its own heap, and outlives a task that needs more."""

from __future__ import annotations

import resource
import subprocess
import sys

CAPPED = """
import resource
from ragserve.worker import limit_memory
limit_memory({megabytes})
print(resource.getrlimit(resource.RLIMIT_DATA)[0])
try:
    too_much = bytearray(600 * 2**20)
    print("allocated")
except MemoryError:
    print("MemoryError")
enough = bytearray(20 * 2**20)
print("alive")
"""


def run_python(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.split()


def test_the_limit_caps_the_heap_and_the_process_lives_on() -> None:
    assert run_python(CAPPED.format(megabytes=400)) == [str(400 * 2**20), "MemoryError", "alive"]


def test_zero_means_no_limit() -> None:
    unlimited = str(resource.RLIM_INFINITY)
    if resource.getrlimit(resource.RLIMIT_DATA)[0] == resource.RLIM_INFINITY:
        assert run_python(CAPPED.format(megabytes=0)) == [unlimited, "allocated", "alive"]
    else:  # the test runs under a limit of its own: 0 must leave that one as it is
        soft = str(resource.getrlimit(resource.RLIMIT_DATA)[0])
        assert run_python(CAPPED.format(megabytes=0))[0] == soft
