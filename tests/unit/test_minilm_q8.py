"""The int8 builtin model (all-MiniLM-L6-v2-q8): close to the float reference, built
deterministically from the installed model, cached and hash-checked, rebuilt when corrupted."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest

from ragserve.models.builtin_minilm import MiniLMEmbedder, onnx_model_path
from ragserve.models.embedding import (
    BUILTIN_Q8_ID,
    BuiltinEmbedding,
    BuiltinSession,
    embedding_model_for,
)
from ragserve.models.minilm_q8 import cached_paths, file_sha256, q8_model_path
from ragserve.models.registry import vector_space
from unit.minilm_reference import CHINESE, SENTENCES, StoredReference, reference_model
from unit.test_embedding import PAIRS


@pytest.fixture(scope="module")
def cache_dir() -> Path:
    return Path(os.environ["RAGSERVE_MODELS_DIR"])


@pytest.fixture(scope="module")
def q8_path(cache_dir: Path) -> Path:
    return q8_model_path(onnx_model_path(), cache_dir)


@pytest.fixture(scope="module")
def q8(q8_path: Path) -> MiniLMEmbedder:
    return MiniLMEmbedder(model_path=q8_path)


def test_matrix_products_run_as_int8(q8_path: Path) -> None:
    shipped = Counter(node.op_type for node in onnx.load(str(onnx_model_path())).graph.node)
    built = Counter(node.op_type for node in onnx.load(str(q8_path)).graph.node)
    assert shipped["MatMulInteger"] == 0
    # 36 weight products (6 layers x Q, K, V, output, two feed-forward); attention stays fp32
    assert built["MatMulInteger"] == 36
    assert built["MatMul"] == shipped["MatMul"] - 36


def test_q8_vectors_close_to_the_float_reference(q8: MiniLMEmbedder) -> None:
    reference: StoredReference = reference_model()
    texts = list(dict.fromkeys((*SENTENCES, *CHINESE)))
    ours, expected = q8.embed(texts), reference.embed(texts)
    cosines = np.sum(ours * expected, axis=1)
    print(f"\ncosine(q8, reference): min {cosines.min():.5f} mean {cosines.mean():.5f}")
    assert np.all(cosines >= 0.98), cosines
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    index = {text: row for row, text in enumerate(texts)}
    for left, right in PAIRS:
        ours_sim = float(ours[index[left]] @ ours[index[right]])
        reference_sim = float(expected[index[left]] @ expected[index[right]])
        assert abs(ours_sim - reference_sim) < 0.05, (left, right)


def test_q8_close_to_the_shipped_model_on_long_text(q8: MiniLMEmbedder) -> None:
    shipped = MiniLMEmbedder()
    texts = [" ".join(SENTENCES[i:] + SENTENCES[:i]) * 4 for i in range(len(SENTENCES))]
    cosines = np.sum(q8.embed(texts) * shipped.embed(texts), axis=1)
    assert np.all(cosines >= 0.98), cosines


def test_build_is_deterministic_and_cached(q8_path: Path, tmp_path: Path) -> None:
    built = q8_model_path(onnx_model_path(), tmp_path)  # a build of its own, in another process
    assert built.read_bytes() == q8_path.read_bytes()
    model, checksum = cached_paths(onnx_model_path(), tmp_path)
    assert built == model
    assert checksum.read_text().strip() == file_sha256(model)
    before = model.stat()
    assert q8_model_path(onnx_model_path(), tmp_path) == model  # the cache: not rebuilt
    after = model.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)

    # a corrupted file fails the hash check and is built again
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    assert q8_model_path(onnx_model_path(), tmp_path) == model
    assert model.read_bytes() == q8_path.read_bytes()

    # so is a file without its checksum (a build interrupted between the two)
    checksum.unlink()
    model.write_bytes(b"torn")
    assert q8_model_path(onnx_model_path(), tmp_path) == model
    assert model.read_bytes() == q8_path.read_bytes()
    assert checksum.read_text().strip() == file_sha256(model)


def test_builtin_embedding_q8_through_a_session(q8: MiniLMEmbedder, cache_dir: Path) -> None:
    session = BuiltinSession(cache_dir=cache_dir)
    model = embedding_model_for(BUILTIN_Q8_ID, builtin=session)
    assert isinstance(model, BuiltinEmbedding)
    assert (model.name, model.dimension, model.model) == (BUILTIN_Q8_ID, 384, "all-MiniLM-L6-v2-q8")
    np.testing.assert_allclose(model.embed(SENTENCES), q8.embed(SENTENCES), atol=1e-6)
    old = embedding_model_for("all-MiniLM-L6-v2@Builtin", builtin=session)
    assert session.get("all-MiniLM-L6-v2-q8") is not session.get("all-MiniLM-L6-v2")
    assert not np.allclose(old.embed(SENTENCES[:1]), model.embed(SENTENCES[:1]), atol=1e-6)


def test_both_builtin_models_share_one_vector_space() -> None:
    assert vector_space("all-MiniLM-L6-v2-q8@Builtin") == vector_space("all-MiniLM-L6-v2@Builtin")
    assert vector_space("all-MiniLM-L6-v2-q8") == "all-MiniLM-L6-v2"
    assert vector_space("all-MiniLM-L6-v2-q8@OpenAI") == "all-MiniLM-L6-v2-q8"
    assert vector_space("text-embedding-3-small@OpenAI") == "text-embedding-3-small"
