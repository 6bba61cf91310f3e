"""Which models exist, in RAGFlow's ``name@factory`` form (spec 3.2).

Builtin models run inside ragserve. API models are known by name; using one needs a key for its
factory (``/v1/llm/set_api_key``, see ``services.models``). Setting a factory's key makes every
catalogue model of that factory available to the tenant; other models are added by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from ragserve.errors import ArgumentError

BUILTIN_FACTORY = "Builtin"


class ModelType(StrEnum):
    CHAT = "chat"
    EMBEDDING = "embedding"
    RERANK = "rerank"
    IMAGE2TEXT = "image2text"
    SPEECH2TEXT = "speech2text"
    TTS = "tts"
    OCR = "ocr"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    factory: str
    model_type: ModelType
    max_tokens: int
    dimension: int | None = None

    @property
    def model_id(self) -> str:
        return f"{self.name}@{self.factory}"


CATALOGUE: tuple[ModelSpec, ...] = (
    # The same weights: -q8 multiplies them as int8 (1.7x faster), the other as fp32 (the vectors
    # of datasets made before -q8 existed). They share one vector space (``vector_space``).
    ModelSpec("all-MiniLM-L6-v2-q8", BUILTIN_FACTORY, ModelType.EMBEDDING, 256, 384),
    ModelSpec("all-MiniLM-L6-v2", BUILTIN_FACTORY, ModelType.EMBEDDING, 256, 384),
    ModelSpec("text-embedding-3-small", "OpenAI", ModelType.EMBEDDING, 8191, 1536),
    ModelSpec("text-embedding-3-large", "OpenAI", ModelType.EMBEDDING, 8191, 3072),
    ModelSpec("text-embedding-ada-002", "OpenAI", ModelType.EMBEDDING, 8191, 1536),
    ModelSpec("embed-english-v3.0", "Cohere", ModelType.EMBEDDING, 512, 1024),
    ModelSpec("embed-multilingual-v3.0", "Cohere", ModelType.EMBEDDING, 512, 1024),
    ModelSpec("mistral-embed", "Mistral", ModelType.EMBEDDING, 8192, 1024),
    ModelSpec("text-embedding-004", "Gemini", ModelType.EMBEDDING, 2048, 768),
    ModelSpec("jina-embeddings-v3", "Jina", ModelType.EMBEDDING, 8192, 1024),
    ModelSpec("voyage-3", "Voyage AI", ModelType.EMBEDDING, 32000, 1024),
    ModelSpec("embedding-3", "ZHIPU-AI", ModelType.EMBEDDING, 8192, 2048),
    ModelSpec("text-embedding-v3", "Tongyi-Qianwen", ModelType.EMBEDDING, 8192, 1024),
    ModelSpec("gpt-4o-mini", "OpenAI", ModelType.CHAT, 128000),
    ModelSpec("gpt-4o", "OpenAI", ModelType.CHAT, 128000),
    ModelSpec("gpt-4.1-mini", "OpenAI", ModelType.CHAT, 1047576),
    ModelSpec("mistral-small-latest", "Mistral", ModelType.CHAT, 32000),
    ModelSpec("gemini-2.0-flash", "Gemini", ModelType.CHAT, 1048576),
    ModelSpec("rerank-v3.5", "Cohere", ModelType.RERANK, 4096),
    ModelSpec("jina-reranker-v2-base-multilingual", "Jina", ModelType.RERANK, 8196),
    ModelSpec("rerank-2", "Voyage AI", ModelType.RERANK, 16000),
)

# Providers known by name, so that "a@b" with an unknown b is read as a model name with no factory.
FACTORIES: frozenset[str] = frozenset(
    {spec.factory for spec in CATALOGUE}
    | {
        "Azure-OpenAI",
        "Anthropic",
        "DeepSeek",
        "Ollama",
        "VLLM",
        "LM-Studio",
        "OpenAI-API-Compatible",
        "LocalAI",
        "Xinference",
        "HuggingFace",
        "OpenRouter",
        "Groq",
        "Bedrock",
        "Moonshot",
        "BAAI",
        "Youdao",
        "FastEmbed",
    }
)


def split_model_id(model_id: str) -> tuple[str, str | None]:
    """``name@factory`` split at the last ``@``; an unknown factory means no factory at all."""
    name, at, factory = model_id.rpartition("@")
    if not at or factory not in FACTORIES:
        return model_id, None
    return name, factory


def find_model(model_id: str, model_type: ModelType) -> ModelSpec | None:
    name, factory = split_model_id(model_id)
    for spec in CATALOGUE:
        if (spec.name, spec.factory, spec.model_type) == (name, factory, model_type):
            return spec
    return None


def check_embedding_model(model_id: str, has_key: Callable[[str], bool]) -> ModelSpec:
    """The embedding model named ``model_id`` if the tenant can use it (spec 2.1 messages)."""
    spec = find_model(model_id, ModelType.EMBEDDING)
    if spec is None:
        raise ArgumentError(f"Unsupported model: <{model_id}>")
    if spec.factory != BUILTIN_FACTORY and not has_key(spec.factory):
        raise ArgumentError(f"Unauthorized model: <{model_id}>")
    return spec


BUILTIN_SPACES = {"all-MiniLM-L6-v2-q8": "all-MiniLM-L6-v2"}
"""Builtin models computing another's vectors (to cosine >= 0.98): searchable together."""


def vector_space(model_id: str) -> str:
    """The name of the model whose vectors ``model_id`` computes: datasets with the same one may
    be searched together (a dataset made with ``all-MiniLM-L6-v2`` next to one made with its
    int8 variant); otherwise the model's name, as in RAGFlow."""
    name, factory = split_model_id(model_id)
    if factory in (BUILTIN_FACTORY, None):
        return BUILTIN_SPACES.get(name, name)
    return name


def embedding_model_name(model_id: str) -> str:
    """The part datasets used together must share (the factory is ignored, spec 3.2)."""
    return split_model_id(model_id)[0]


INTERNAL_SUFFIXES = ("___LocalAI", "___HuggingFace", "___OpenAI-API", "___VLLM")
"""What RAGFlow appends to names added under some factories; ragserve never stores them."""


def plain_name(name: str) -> str:
    """``name`` without RAGFlow's internal ``___VLLM``-style suffix."""
    for suffix in INTERNAL_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def plain_model_id(model_id: str) -> str:
    """``model_id`` with its name's internal suffix dropped (``qwen___VLLM@VLLM`` ->
    ``qwen@VLLM``), as the provider knows the model."""
    name, factory = split_model_id(model_id)
    return f"{plain_name(name)}@{factory}" if factory is not None else model_id


def is_builtin(model_id: str) -> bool:
    """Whether the model runs in this process, needing no credentials."""
    return split_model_id(model_id)[1] == BUILTIN_FACTORY
