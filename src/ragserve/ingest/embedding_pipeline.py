"""A document's chunks embedded in a thread of their own, while the caller goes on.

A worker process runs one task at a time. Embedding is its longest stage and, on the builtin
model, runs in native code that releases the GIL; the rest of the stage (each chunk's full-text
tokens, in Python) needs the interpreter. ``BackgroundEmbedding`` embeds in a daemon thread while
the task's own thread tokenizes the chunks and reports progress, so the two overlap on two cores.

* Batches are formed from the texts sorted by length (word pieces for the builtin model), longest
  first, so that each batch pads to nearly its own length; the vectors are put back in the
  texts' order.
* The document name's vector (``filename_embd_weight``) is computed once, not once per batch.
* Only the caller's thread touches the database: it collects finished batches (``poll``,
  ``wait``) and reports them, which renews the task's lease and notices a cancel. On the way out
  (``close``: a cancel, the time limit, a shutdown) the thread stops after its current batch;
  nothing it computed is kept, and the task runs again from its start wherever it runs next.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from ragserve.models.embedding import (
    EmbeddingModel,
    FloatArray,
    embedding_inputs,
    mix_title,
    normalise_rows,
    text_lengths,
)

T = TypeVar("T")
R = TypeVar("R")


def length_order(lengths: Sequence[int]) -> list[int]:
    """Indexes of ``lengths``, longest first; equal lengths keep their order (deterministic)."""
    return sorted(range(len(lengths)), key=lambda index: -lengths[index])


def batches_by_length(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indexes grouped into batches of at most ``batch_size``, of similar lengths."""
    order = length_order(lengths)
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


@dataclass(frozen=True)
class BatchDone:
    """A finished batch: how many texts are embedded so far, of how many."""

    done: int
    total: int


class _Stop(Exception):
    pass


_running: set[threading.Thread] = set()
_running_lock = threading.Lock()


def join_stopped(timeout: float) -> None:
    """Wait up to ``timeout`` s for embedding threads told to stop without waiting (a shutdown:
    the task is given back first) to end, so that the process does not exit while one runs in
    the model."""
    deadline = time.monotonic() + timeout
    with _running_lock:
        threads = list(_running)
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0.0))


class BackgroundEmbedding:
    """Vectors of ``texts`` (``embed_chunks``' rules: mixed with ``title``'s vector by
    ``title_weight``), computed in a daemon thread started at once.

    The caller polls for finished batches (``poll``, ``wait``) and takes the result (``result``)
    when every batch is done; ``close`` stops the thread (always call it: ``with`` does).
    """

    def __init__(
        self,
        model: EmbeddingModel,
        texts: Sequence[str],
        *,
        title: str,
        title_weight: float,
        batch_size: int,
    ) -> None:
        if not 0.0 <= title_weight <= 1.0:
            raise ValueError("title_weight must be between 0 and 1")
        self._model = model
        self._inputs = embedding_inputs(texts)
        self._title = title
        self._weight = title_weight
        self._batches = batches_by_length(text_lengths(model, self._inputs), batch_size)
        self.total = len(self._inputs)
        self._done = 0
        self._parts: list[tuple[list[int], FloatArray]] = []
        self._results: queue.Queue[tuple[list[int], FloatArray] | BaseException] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ragserve-embed", daemon=True)
        self._thread.start()

    def __enter__(self) -> BackgroundEmbedding:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_rest: object) -> None:
        # A shutdown (KeyboardInterrupt) does not wait for the batch in progress: the process
        # is leaving, and the daemon thread with it.
        self.close(wait=kind is None or not issubclass(kind, KeyboardInterrupt))

    @property
    def finished(self) -> bool:
        return self._done == self.total

    def _run(self) -> None:
        with _running_lock:
            _running.add(threading.current_thread())
        try:
            self._embed_all()
        finally:
            with _running_lock:
                _running.discard(threading.current_thread())

    def _embed_all(self) -> None:
        try:
            title_vector = None
            if self._weight > 0.0 and self._batches:
                title_vector = self._model.embed([self._title])
            for rows in self._batches:
                if self._stop.is_set():
                    raise _Stop
                texts = [self._inputs[index] for index in rows]
                vectors = self._model.embed(texts) if self._weight < 1.0 else None
                if title_vector is None:
                    assert vectors is not None
                    mixed = normalise_rows(vectors)
                else:
                    mixed = mix_title(title_vector, vectors, self._weight)
                self._results.put((rows, mixed))
        except _Stop:
            return
        except BaseException as error:  # the caller raises it in its own thread
            self._results.put(error)

    def _take(self, item: tuple[list[int], FloatArray] | BaseException) -> BatchDone:
        if isinstance(item, BaseException):
            raise item
        self._parts.append(item)
        self._done += len(item[0])
        return BatchDone(self._done, self.total)

    def poll(self) -> list[BatchDone]:
        """The batches finished since the last call, without waiting."""
        done: list[BatchDone] = []
        while True:
            try:
                item = self._results.get_nowait()
            except queue.Empty:
                return done
            done.append(self._take(item))

    def wait(self, timeout: float = 1.0) -> BatchDone | None:
        """The next finished batch, or None after ``timeout`` seconds (or when all are done)."""
        if self.finished:
            return None
        try:
            item = self._results.get(timeout=timeout)
        except queue.Empty:
            return None
        return self._take(item)

    def alongside(
        self,
        items: Iterable[T],
        work: Callable[[T], R],
        on_batch: Callable[[BatchDone], None],
    ) -> list[R]:
        """``work`` of each item in this thread while the batches are embedded, then wait for
        the last batch; ``on_batch`` gets each finished batch, in this thread, as it is noticed.
        What a parse task does (``work``: a chunk's full-text tokens) and the bench measures."""
        results: list[R] = []
        for item in items:
            results.append(work(item))
            for batch in self.poll():
                on_batch(batch)
        while not self.finished:
            finished = self.wait()
            if finished is not None:
                on_batch(finished)
        return results

    def result(self) -> FloatArray:
        """The vectors in the texts' order, once every batch is done."""
        if not self.finished:
            raise RuntimeError("not every batch is embedded yet")
        if not self._parts:
            return np.zeros((0, 1), dtype=np.float32)
        width = self._parts[0][1].shape[1]
        out = np.empty((self.total, width), dtype=np.float32)
        for rows, vectors in self._parts:
            out[rows] = vectors
        return out

    def close(self, *, wait: bool = True) -> None:
        """Stop the thread after its current batch (``wait``: and let it end before returning)."""
        self._stop.set()
        if wait:
            self._thread.join()
