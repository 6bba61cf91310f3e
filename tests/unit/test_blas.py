"""ragserve's processes run numpy's BLAS on one thread."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, numpy
from threadpoolctl import threadpool_info
from ragserve.blas import use_one_blas_thread
before = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
use_one_blas_thread()
after = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
print(json.dumps([before, after]))
"""


def test_the_blas_library_is_limited_to_one_thread() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        check=True,
        env={"OPENBLAS_NUM_THREADS": "2", "PATH": ""},
    )
    before, after = json.loads(result.stdout)
    assert before == [2] and after == [1]
