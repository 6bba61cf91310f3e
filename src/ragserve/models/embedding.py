"""Embedding models: the builtin ONNX model and API models through LiteLLM (design section 4).

Every model turns a sequence of texts into a float32 array with one L2-normalised row per text.
``embedding_model_for`` maps RAGFlow's ``name@factory`` ids to a model; ``embed_chunks`` mixes the
title and content vectors of chunks as RAGFlow does.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from ragserve.errors import RagserveError
from ragserve.models.provider import ProviderModel, litellm_module
from ragserve.models.registry import (
    BUILTIN_FACTORY,
    CATALOGUE,
    ModelType,
    find_model,
    split_model_id,
)

if TYPE_CHECKING:
    from ragserve.models.builtin_minilm import MiniLMEmbedder

FloatArray = npt.NDArray[np.float32]

BUILTIN_MODEL_NAME = "all-MiniLM-L6-v2"
BUILTIN_MODEL_ID = f"{BUILTIN_MODEL_NAME}@{BUILTIN_FACTORY}"
"""The shipped model as it is computed (fp32 matrix products): datasets made before the q8 model."""
BUILTIN_Q8_NAME = "all-MiniLM-L6-v2-q8"
BUILTIN_Q8_ID = f"{BUILTIN_Q8_NAME}@{BUILTIN_FACTORY}"
"""The same weights multiplied as int8 (``minilm_q8``): the default for new datasets."""
BUILTIN_NAMES = (BUILTIN_MODEL_NAME, BUILTIN_Q8_NAME)
BUILTIN_DIMENSION = 384

# RAGFlow factory -> LiteLLM provider prefix. Factories not listed speak the OpenAI API at api_base.
LITELLM_PREFIXES: dict[str, str] = {
    "OpenAI": "openai",
    "OpenAI-API-Compatible": "openai",
    "Ollama": "ollama",
    "Cohere": "cohere",
    "Mistral": "mistral",
    "Gemini": "gemini",
    "Jina": "jina_ai",
    "Voyage AI": "voyage",
}
DEFAULT_LITELLM_PREFIX = "openai"


class EmbeddingError(RagserveError):
    """An embedding model could not produce vectors; the message is safe to show (no secrets)."""


class EmbeddingModel(Protocol):
    """Texts -> float32 array (len(texts), dimension), rows of norm 1, in the order given."""

    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> FloatArray: ...


def normalise_rows(vectors: npt.ArrayLike) -> FloatArray:
    """float32 copy of ``vectors`` with each row scaled to norm 1 (zero rows stay zero)."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError("expected a 2-D array of vectors")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    result: FloatArray = (array / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    return result


def _check_texts(texts: Sequence[str]) -> None:
    if isinstance(texts, str):
        raise TypeError("embed() takes a sequence of texts, not one string")
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f"texts must be strings, not {type(text).__name__}")


# --- the builtin model ------------------------------------------------------------------------


class BuiltinSession:
    """The builtin models' inference sessions, each created on first use (again after a fork,
    since an onnxruntime session must not cross one) and shared by every builtin model that holds
    it. The runtime owns one per process: a model is ~90 MB loaded.

    ``all-MiniLM-L6-v2`` runs the shipped file; ``all-MiniLM-L6-v2-q8`` the per-channel int8
    file built from it once and cached in ``cache_dir`` (None: ``ragserve-models`` in the
    system's temporary folder; the runtime passes ``<home>/models``).
    """

    def __init__(self, *, intra_op_threads: int = 1, cache_dir: Path | None = None) -> None:
        """``intra_op_threads``: threads one embedding call may use."""
        if intra_op_threads < 1:
            raise ValueError("intra_op_threads must be at least 1")
        self.intra_op_threads = intra_op_threads
        self.cache_dir = cache_dir or Path(tempfile.gettempdir()) / "ragserve-models"
        self._lock = threading.Lock()
        self._embedders: dict[str, MiniLMEmbedder] = {}
        self._pid: int | None = None

    def get(self, name: str = BUILTIN_MODEL_NAME) -> MiniLMEmbedder:
        """The embedder of the builtin model ``name`` (one of ``BUILTIN_NAMES``)."""
        pid = os.getpid()
        embedder = self._embedders.get(name)
        if embedder is not None and self._pid == pid:
            return embedder
        if name not in BUILTIN_NAMES:
            raise EmbeddingError(f"Unsupported model: <{name}@{BUILTIN_FACTORY}>")
        with self._lock:
            if self._pid != pid:
                self._embedders = {}
                self._pid = pid
            if name not in self._embedders:
                self._embedders[name] = self._load(name)
            return self._embedders[name]

    def _load(self, name: str) -> MiniLMEmbedder:
        from ragserve.models.builtin_minilm import (
            MiniLMEmbedder,
            ModelFilesMissing,
            onnx_model_path,
        )

        try:
            path = onnx_model_path()
            if name == BUILTIN_Q8_NAME:
                from ragserve.models.minilm_q8 import q8_model_path

                path = q8_model_path(path, self.cache_dir)
            return MiniLMEmbedder(intra_op_threads=self.intra_op_threads, model_path=path)
        except ModelFilesMissing as exc:
            raise EmbeddingError(str(exc)) from exc
        except ImportError as exc:
            raise EmbeddingError(
                f"The builtin model {name} is built with the Python package 'onnx' "
                f"(pip install onnx); it is not installed: {exc}"
            ) from exc


class BuiltinEmbedding:
    """A builtin all-MiniLM-L6-v2 model (384 dimensions) run in this process, on the session it
    is given: ``model`` is one of ``BUILTIN_NAMES``."""

    def __init__(
        self,
        session: BuiltinSession | None = None,
        *,
        batch_size: int | None = None,
        name: str = BUILTIN_MODEL_ID,
        model: str | None = None,
    ) -> None:
        """``session`` None: a session of its own; ``batch_size`` None: the model's own
        (``builtin_minilm.BATCH_SIZE``); ``model`` None: the one ``name`` names."""
        self.session = session or BuiltinSession()
        self.name = name
        self.model = model or split_model_id(name)[0]
        if self.model not in BUILTIN_NAMES:
            raise EmbeddingError(f"Unsupported model: <{name}>")
        self.dimension = BUILTIN_DIMENSION
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> FloatArray:
        _check_texts(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        embedder = self.session.get(self.model)
        if self.batch_size is None:
            return embedder.embed(texts)
        return embedder.embed(texts, self.batch_size)

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of each text as the model reads it (truncated to its window)."""
        return [len(ids) for ids in self.session.get(self.model).tokenize(texts)]

    def __repr__(self) -> str:
        return f"BuiltinEmbedding({self.name!r})"


# --- API models through LiteLLM ---------------------------------------------------------------


class LiteLLMEmbedding(ProviderModel):
    """An API embedding model called through ``litellm.embedding`` in batches.

    ``model`` is a LiteLLM model string (``openai/text-embedding-3-small``). ``dimension`` is the
    expected vector length when known; otherwise it is learnt from the first answer (0 before).
    """

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None,
        api_base: str | None,
        dimension: int | None = None,
        timeout: float = 60,
        max_retries: int = 2,
        batch_size: int = 64,
        name: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        super().__init__(
            model,
            api_key=api_key,
            api_base=api_base,
            timeout=timeout,
            max_retries=max_retries,
            name=name,
        )
        self.dimension = dimension or 0
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> FloatArray:
        _check_texts(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = [
            self._embed_batch(texts[start : start + self.batch_size])
            for start in range(0, len(texts), self.batch_size)
        ]
        return normalise_rows(np.concatenate(parts, axis=0))

    def _embed_batch(self, texts: Sequence[str]) -> FloatArray:
        # Providers reject empty inputs; a space embeds as "nothing" just as well.
        inputs = [text if text.strip() else " " for text in texts]
        kwargs = self.options()
        try:
            response = litellm_module().embedding(model=self.model, input=inputs, **kwargs)
        except Exception as exc:
            raise self._error(exc) from None
        return self._vectors(response, len(inputs))

    def _vectors(self, response: Any, count: int) -> FloatArray:
        data = getattr(response, "data", None)
        if not isinstance(data, list) or len(data) != count:
            got = len(data) if isinstance(data, list) else "no"
            raise EmbeddingError(
                f"Embedding model {self.name} returned {got} vectors for {count} texts."
            )
        items = [_item_fields(item) for item in data]
        if all(index is not None for index, _ in items):
            items.sort(key=lambda pair: pair[0] or 0)
        try:
            array = np.asarray([vector for _, vector in items], dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise EmbeddingError(
                f"Embedding model {self.name} returned malformed vectors."
            ) from exc
        if array.ndim != 2 or array.shape[1] == 0:
            raise EmbeddingError(f"Embedding model {self.name} returned malformed vectors.")
        if self.dimension and array.shape[1] != self.dimension:
            raise EmbeddingError(
                f"Embedding model {self.name} returned vectors of {array.shape[1]} dimensions; "
                f"expected {self.dimension}."
            )
        self.dimension = array.shape[1]
        return array

    def _error(self, exc: Exception) -> EmbeddingError:
        return EmbeddingError(self.failure(f"Embedding model {self.name}", exc))


def _item_fields(item: Any) -> tuple[int | None, Any]:
    if isinstance(item, dict):
        return item.get("index"), item.get("embedding")
    return getattr(item, "index", None), getattr(item, "embedding", None)


# --- model ids ---------------------------------------------------------------------------------


def litellm_model_string(name: str, factory: str | None) -> str:
    """LiteLLM's model string for RAGFlow's ``name@factory``."""
    prefix = LITELLM_PREFIXES.get(factory or "", DEFAULT_LITELLM_PREFIX)
    return f"{prefix}/{name}"


def embedding_model_for(
    model_id: str,
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    timeout: float = 60,
    max_retries: int = 2,
    builtin: BuiltinSession | None = None,
) -> EmbeddingModel:
    """The embedding model named by a RAGFlow id (``all-MiniLM-L6-v2@Builtin``,
    ``text-embedding-3-small@OpenAI``, ``nomic-embed-text@Ollama``...).

    An id without a known factory is looked up by name in the catalogue, and otherwise taken as a
    model behind an OpenAI-compatible ``api_base``. The builtin model runs on ``builtin`` (the
    runtime's session; None: a session of its own).
    """
    name, factory = split_model_id(model_id)
    if factory is None:
        matches = [
            spec
            for spec in CATALOGUE
            if spec.name == name and spec.model_type == ModelType.EMBEDDING
        ]
        if len(matches) == 1:
            factory = matches[0].factory
    if factory == BUILTIN_FACTORY or (factory is None and name in BUILTIN_NAMES):
        if name not in BUILTIN_NAMES:
            raise EmbeddingError(f"Unsupported model: <{model_id}>")
        return BuiltinEmbedding(builtin, name=model_id, model=name)
    spec = find_model(f"{name}@{factory}", ModelType.EMBEDDING) if factory else None
    return LiteLLMEmbedding(
        litellm_model_string(name, factory),
        api_key=api_key,
        api_base=api_base,
        dimension=spec.dimension if spec else None,
        timeout=timeout,
        max_retries=max_retries,
        name=model_id,
    )


# --- chunks ------------------------------------------------------------------------------------

_TABLE_TAGS = re.compile(r"</?(table|td|caption|tr|th)( [^<>]{0,12})?>")


def embed_chunks(
    model: EmbeddingModel,
    titles: Sequence[str],
    contents: Sequence[str],
    title_weight: float = 0.1,
) -> FloatArray:
    """Chunk vectors as RAGFlow computes them: ``normalise(w * v_title + (1 - w) * v_content)``.

    ``w`` is the dataset's ``parser_config.filename_embd_weight`` (default 0.1); titles are usually
    the document name, so each distinct title is embedded once. As in RAGFlow, table markup is
    dropped from the content before embedding and an empty content embeds as "None".
    """
    if len(titles) != len(contents):
        raise ValueError("titles and contents must have the same length")
    if not 0.0 <= title_weight <= 1.0:
        raise ValueError("title_weight must be between 0 and 1")
    cleaned = embedding_inputs(contents)
    vectors = model.embed(cleaned) if title_weight < 1.0 else None
    if title_weight == 0.0:
        assert vectors is not None
        return normalise_rows(vectors)
    distinct = list(dict.fromkeys(titles))
    title_vectors = model.embed(distinct)
    rows = {title: row for row, title in enumerate(distinct)}
    per_chunk = title_vectors[[rows[title] for title in titles]]
    return mix_title(per_chunk, vectors, title_weight)


def embedding_inputs(contents: Sequence[str]) -> list[str]:
    """What the model reads of each content: table markup dropped, an empty content "None"."""
    return [_TABLE_TAGS.sub(" ", content) or "None" for content in contents]


def mix_title(
    title_vectors: FloatArray, vectors: FloatArray | None, title_weight: float
) -> FloatArray:
    """``normalise(w * title + (1 - w) * content)`` row by row (``vectors`` None: w = 1);
    ``title_vectors`` has one row per content, or one row for all of them."""
    if vectors is None:
        return normalise_rows(title_vectors)
    weight = np.float32(title_weight)
    return normalise_rows(weight * title_vectors + (np.float32(1.0) - weight) * vectors)


def text_lengths(model: EmbeddingModel, texts: Sequence[str]) -> list[int]:
    """How long each text is for ``model``: word pieces for the builtin model (what a batch
    pads to), characters for the others."""
    if isinstance(model, BuiltinEmbedding):
        return model.token_lengths(texts)
    return [len(text) for text in texts]
