"""One BLAS thread per ragserve process.

numpy's OpenBLAS starts a thread per core and, after each product, its threads busy-wait for
the next one: in a server they take the cores from onnxruntime's threads embedding the next
question (measured: a 20k-chunk search went from 23 to 40 ms p50 with a second process doing
the same). ragserve's products are matrix-vector, bound by memory, so one thread loses little.
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]


def use_one_blas_thread() -> None:
    """Limit this process's BLAS libraries to one thread, from now on."""
    threadpool_limits(limits=1, user_api="blas")
