"""The embedding thread of a parse task: batches sorted by length, vectors back in chunk order."""

from __future__ import annotations

# onnxruntime before usearch (see builtin_minilm).
import ragserve.models.builtin_minilm  # noqa: F401  # isort: skip

import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from ragserve.ingest.embedding_pipeline import (
    BackgroundEmbedding,
    BatchDone,
    batches_by_length,
    join_stopped,
    length_order,
)
from ragserve.models.embedding import BuiltinEmbedding, BuiltinSession, embed_chunks

WORDS = [
    "shock",
    "wave",
    "boundary",
    "layer",
    "supersonic",
    "flow",
    "wing",
    "pressure",
    "heat",
    "transfer",
]


def texts(count: int) -> list[str]:
    """Texts of very different lengths, in no order of length."""
    return [
        f"text {index}: " + " ".join(WORDS[(index + k) % len(WORDS)] for k in range(index * 7 % 60))
        for index in range(count)
    ]


@pytest.fixture(scope="module")
def model() -> BuiltinEmbedding:
    """The shipped model (fp32 products): a vector does not depend on its batch's company, as
    it does a little (cosine ~0.995) with the q8 model, which quantizes activations per call."""
    return BuiltinEmbedding(BuiltinSession(), model="all-MiniLM-L6-v2")


def run_all(embedding: BackgroundEmbedding) -> list[BatchDone]:
    """Collect every batch as a parse task does, with no work of its own."""
    done: list[BatchDone] = []
    assert embedding.alongside([], len, done.append) == []
    return done


def test_batches_hold_similar_lengths_longest_first_ties_in_order() -> None:
    lengths = [5, 40, 5, 12, 40, 3, 12]
    assert length_order(lengths) == [1, 4, 3, 6, 0, 2, 5]
    assert batches_by_length(lengths, 3) == [[1, 4, 3], [6, 0, 2], [5]]
    assert batches_by_length([], 3) == []


def test_vectors_come_back_in_the_texts_order(model: BuiltinEmbedding) -> None:
    inputs = texts(23)
    lengths = model.token_lengths(inputs)
    assert batches_by_length(lengths, 4)[0] != [0, 1, 2, 3], "the batches must be reordered"
    with BackgroundEmbedding(
        model, inputs, title="wings.txt", title_weight=0.1, batch_size=4
    ) as embedding:
        done = run_all(embedding)
        vectors = embedding.result()
    assert [batch.done for batch in done] == [4, 8, 12, 16, 20, 23]
    assert {batch.total for batch in done} == {23}
    expected = embed_chunks(model, ["wings.txt"] * len(inputs), inputs, 0.1)
    assert vectors.shape == expected.shape == (23, 384)
    # Row i is text i's vector: close to its own, far from the others'.
    similarity = vectors @ expected.T
    assert np.all(np.argmax(similarity, axis=1) == np.arange(23))
    assert np.allclose(vectors, expected, atol=1e-5)


def test_title_weight_one_and_zero(model: BuiltinEmbedding) -> None:
    inputs = texts(5)
    for weight in (0.0, 1.0):
        with BackgroundEmbedding(
            model, inputs, title="t.pdf", title_weight=weight, batch_size=2
        ) as embedding:
            run_all(embedding)
            vectors = embedding.result()
        expected = embed_chunks(model, ["t.pdf"] * 5, inputs, weight)
        assert np.allclose(vectors, expected, atol=1e-5)


def test_no_texts(model: BuiltinEmbedding) -> None:
    with BackgroundEmbedding(model, [], title="t", title_weight=0.1, batch_size=4) as embedding:
        assert embedding.finished and run_all(embedding) == []
        assert embedding.result().shape == (0, 1)


class SlowModel:
    """A real (if trivial) embedding model that takes its time and counts its calls."""

    name = "slow"
    dimension = 2

    def __init__(self, fail_at: int | None = None) -> None:
        self.calls = 0
        self.fail_at = fail_at
        self.threads: set[str] = set()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        if self.calls == self.fail_at:
            raise ValueError("the provider refused")
        time.sleep(0.05)
        return np.array([[1.0, float(len(text))] for text in texts], dtype=np.float32)


def test_the_work_alongside_runs_in_the_callers_thread_in_order() -> None:
    model = SlowModel()
    seen: list[BatchDone] = []
    with BackgroundEmbedding(
        model, ["a"] * 6, title="t", title_weight=0.0, batch_size=2
    ) as embedding:
        caller = threading.current_thread().name
        results = embedding.alongside(
            range(5), lambda n: (n * n, threading.current_thread().name), seen.append
        )
    assert results == [(n * n, caller) for n in range(5)]
    assert [batch.done for batch in seen] == [2, 4, 6]


def test_the_model_runs_in_another_thread_while_the_caller_goes_on() -> None:
    model = SlowModel()
    embedding = BackgroundEmbedding(model, ["a"] * 10, title="t", title_weight=0.0, batch_size=2)
    started = time.monotonic()
    assert embedding.poll() == []  # returns at once, the batches still running
    assert time.monotonic() - started < 0.05
    run_all(embedding)
    embedding.close()
    assert model.threads == {"ragserve-embed"}


def test_close_stops_after_the_current_batch() -> None:
    """A cancel (or the time limit) closes it: no batch starts after that."""
    model = SlowModel()
    embedding = BackgroundEmbedding(model, ["a"] * 40, title="t", title_weight=0.0, batch_size=1)
    time.sleep(0.12)
    embedding.close()
    calls = model.calls
    assert 1 <= calls < 40
    time.sleep(0.15)
    assert model.calls == calls
    assert not embedding.finished


def test_an_error_of_the_model_is_raised_in_the_callers_thread() -> None:
    with (
        pytest.raises(ValueError, match="refused"),
        BackgroundEmbedding(
            SlowModel(fail_at=2), ["a"] * 6, title="t", title_weight=0.0, batch_size=2
        ) as embedding,
    ):
        run_all(embedding)


def test_a_shutdown_does_not_wait_but_the_thread_can_be_joined_after() -> None:
    """On SIGTERM the task is given back first (no wait), then the batch in progress ends."""
    model = SlowModel()
    embedding = BackgroundEmbedding(model, ["a"] * 40, title="t", title_weight=0.0, batch_size=1)
    time.sleep(0.06)
    with pytest.raises(KeyboardInterrupt), embedding:
        raise KeyboardInterrupt
    assert any(thread.name == "ragserve-embed" for thread in threading.enumerate())
    join_stopped(timeout=5)
    assert not any(thread.name == "ragserve-embed" for thread in threading.enumerate())
    assert model.calls < 40
