"""The runtime's caches key on everything that changes their result."""

from __future__ import annotations

from typing import Any

import numpy as np

from helpers.fake_openai import FakeOpenAI, fake_vector
from ragserve.runtime import Runtime

MODEL = "fake-embedding@OpenAI-API-Compatible"


def test_question_vectors_are_kept_per_model_credentials(runtime: Runtime) -> None:
    with FakeOpenAI(dimension=8) as first, FakeOpenAI(dimension=8) as second:
        base = {"url": first.base_url}

        def lookup(*_args: Any) -> tuple[str, str]:
            return "a-key", base["url"]

        runtime.credential_lookup = lookup
        vector = runtime.question_vector(MODEL, "tenant", "what is lift?")
        again = runtime.question_vector(MODEL, "tenant", "what is lift?")
        assert again is vector
        assert len(first.requests) == 1
        expected = np.asarray(fake_vector("what is lift?", 8), dtype=np.float32)
        np.testing.assert_allclose(vector, expected / np.linalg.norm(expected), rtol=1e-5)

        base["url"] = second.base_url  # the tenant moved its model to another server
        runtime.question_vector(MODEL, "tenant", "what is lift?")
        assert (len(first.requests), len(second.requests)) == (1, 1)
