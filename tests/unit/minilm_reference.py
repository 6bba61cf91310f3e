"""all-MiniLM-L6-v2's float vectors of a few texts, which the int8 model ragserve runs must match.

The vectors are stored in ``tests/data/minilm-reference.json``: the original float weights
(``model.safetensors``, 90 MB) come only in packages that require sentence-transformers and so
PyTorch, which the project does not install. This module also computes them: a float32 numpy
implementation of the BERT encoder as transformers' ``BertModel`` runs it (6 layers, hidden 384,
12 heads, exact erf GELU, LayerNorm eps 1e-12), then sentence-transformers' mean pooling and
normalisation. To rebuild the file from a directory holding the original model (``config.json``,
``sentence_bert_config.json``, ``model.safetensors``, ``tokenizer.json``) and with the
``safetensors`` package installed::

    PYTHONPATH=src:tests .venv/bin/python -m unit.minilm_reference MODEL_DIR
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ragserve.models.builtin_minilm import load_tokenizer, mean_pool_normalise

Array = npt.NDArray[np.float32]

REFERENCE_FILE = Path(__file__).resolve().parents[1] / "data" / "minilm-reference.json"

SENTENCES = (
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.",
    "Someone in a gorilla costume is playing a set of drums.",
    "The new movie is awesome, I loved every minute of it.",
    "RAGFlow splits documents into chunks, embeds them and retrieves the best passages.",
    "今天天气很好，我们去公园散步吧。",
)
CHINESE = (
    "今天天气很好，我们去公园散步吧。",
    "今天天气不错，我们去公园走走。",
    "股票市场今天大幅下跌。",
)
REFERENCE_TEXTS = tuple(dict.fromkeys(("", *SENTENCES, *CHINESE)))
"""Every text whose reference vector is stored."""


# Numerical Recipes' erfc (Chebyshev fit, fractional error < 1.2e-7 everywhere): numpy has no erf,
# and math.erf element by element is slow.
_ERFC_COEFFICIENTS = (
    -1.26551223,
    1.00002368,
    0.37409196,
    0.09678418,
    -0.18628806,
    0.27886807,
    -1.13520398,
    1.48851587,
    -0.82215223,
    0.17087277,
)


def _erf(x: Array) -> Array:
    z = np.abs(x.astype(np.float64))
    t = 1.0 / (1.0 + 0.5 * z)
    poly = np.zeros_like(z)
    for coefficient in reversed(_ERFC_COEFFICIENTS[1:]):
        poly = (poly + coefficient) * t
    erfc = t * np.exp(-z * z + _ERFC_COEFFICIENTS[0] + poly)
    result: Array = np.where(x >= 0, 1.0 - erfc, erfc - 1.0).astype(np.float32)
    return result


def gelu(x: Array) -> Array:
    return (0.5 * x * (1.0 + _erf(x / np.float32(np.sqrt(2.0))))).astype(np.float32)


def layer_norm(x: Array, weight: Array, bias: Array, eps: float) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    result: Array = ((x - mean) / np.sqrt(var + eps) * weight + bias).astype(np.float32)
    return result


class ReferenceMiniLM:
    """``embed(texts)`` as sentence-transformers' all-MiniLM-L6-v2 computes it, in float32."""

    def __init__(self, directory: Path) -> None:
        from safetensors.numpy import load_file

        config = json.loads((directory / "config.json").read_text())
        self.layers: int = config["num_hidden_layers"]
        self.hidden: int = config["hidden_size"]
        self.heads: int = config["num_attention_heads"]
        self.eps: float = config["layer_norm_eps"]
        assert config["hidden_act"] == "gelu"
        st_config = json.loads((directory / "sentence_bert_config.json").read_text())
        self.max_seq_length: int = st_config["max_seq_length"]
        self.w: dict[str, Array] = {
            key: value.astype(np.float32)
            for key, value in load_file(str(directory / "model.safetensors")).items()
            if value.dtype.kind == "f"
        }
        self.tokenizer = load_tokenizer(directory / "tokenizer.json", self.max_seq_length)

    def _linear(self, x: Array, name: str) -> Array:
        # torch Linear: y = x @ W.T + b, W of shape (out, in).
        return (x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]).astype(np.float32)

    def _norm(self, x: Array, name: str) -> Array:
        return layer_norm(x, self.w[f"{name}.weight"], self.w[f"{name}.bias"], self.eps)

    def hidden_states(self, ids: Sequence[int]) -> Array:
        """The last hidden state of one sequence of word-piece ids: (len(ids), hidden)."""
        w = self.w
        tokens = np.asarray(ids, dtype=np.int64)
        n = len(tokens)
        x = (
            w["embeddings.word_embeddings.weight"][tokens]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        head = self.hidden // self.heads
        scale = np.float32(1.0 / np.sqrt(head))
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}"
            q = self._linear(x, f"{p}.attention.self.query").reshape(n, self.heads, head)
            k = self._linear(x, f"{p}.attention.self.key").reshape(n, self.heads, head)
            v = self._linear(x, f"{p}.attention.self.value").reshape(n, self.heads, head)
            scores = np.einsum("qhd,khd->hqk", q, k) * scale  # one unpadded sequence: no mask
            scores = scores - scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = np.einsum("hqk,khd->qhd", probs, v).reshape(n, self.hidden)
            attention = self._linear(context, f"{p}.attention.output.dense")
            x = self._norm(attention + x, f"{p}.attention.output.LayerNorm")
            inner = gelu(self._linear(x, f"{p}.intermediate.dense"))
            x = self._norm(self._linear(inner, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
        return x.astype(np.float32)

    def embed(self, texts: Sequence[str]) -> Array:
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        for index, text in enumerate(texts):
            ids = self.tokenizer.encode(text).ids
            hidden = self.hidden_states(ids)[None]
            out[index] = mean_pool_normalise(hidden, np.ones((1, len(ids)), dtype=np.int64))[0]
        return out


class StoredReference:
    """``embed(texts)`` for the texts of REFERENCE_TEXTS, from the stored float vectors."""

    def __init__(self, path: Path = REFERENCE_FILE) -> None:
        stored = json.loads(path.read_text(encoding="utf-8"))
        self.vectors = {text: np.asarray(row, dtype=np.float32) for text, row in stored.items()}

    def embed(self, texts: Sequence[str]) -> Array:
        return np.vstack([self.vectors[text] for text in texts])


@cache
def reference_model() -> StoredReference:
    return StoredReference()


def main() -> None:
    import sys

    model = ReferenceMiniLM(Path(sys.argv[1]))
    vectors = model.embed(REFERENCE_TEXTS)
    rows = zip(REFERENCE_TEXTS, vectors, strict=True)
    stored = {text: [round(float(x), 7) for x in row] for text, row in rows}
    REFERENCE_FILE.write_text(json.dumps(stored, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(stored)} vectors to {REFERENCE_FILE}")


if __name__ == "__main__":
    main()
