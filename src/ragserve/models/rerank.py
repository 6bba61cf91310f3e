"""Rerank models through LiteLLM's rerank API: relevance of each text to a query in [0, 1].

Most rerank services (Cohere, Jina, Voyage, and vLLM, Xinference, Infinity or LocalAI behind an
``api_base``) speak the same ``/rerank`` protocol; LiteLLM picks the dialect by provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ragserve.errors import RagserveError
from ragserve.models.provider import ProviderModel, litellm_module
from ragserve.models.registry import BUILTIN_FACTORY, split_model_id

# RAGFlow factory -> LiteLLM rerank provider; others serve the Jina/Cohere-style /rerank API.
RERANK_PROVIDERS: dict[str, str] = {
    "Cohere": "cohere",
    "Jina": "jina_ai",
    "Voyage AI": "voyage",
}
DEFAULT_RERANK_PROVIDER = "hosted_vllm"


class RerankError(RagserveError):
    """A rerank model could not score; the message is safe to show (no secrets)."""


class RerankModel(Protocol):
    name: str

    def scores(self, query: str, texts: Sequence[str]) -> list[float]:
        """Relevance of each text to the query, in order."""
        ...


class LiteLLMRerank(ProviderModel):
    def scores(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        options = self.options()
        try:
            response = litellm_module().rerank(
                model=self.model,
                query=query,
                documents=[text or " " for text in texts],
                top_n=len(texts),
                return_documents=False,
                **options,
            )
        except Exception as exc:
            what = f"Rerank model {self.name}"
            raise RerankError(self.failure(what, exc)) from None
        return _scores(response, len(texts), self.name)


def _scores(response: Any, count: int, name: str) -> list[float]:
    results = getattr(response, "results", None)
    if results is None and isinstance(response, dict):
        results = response.get("results")
    if not isinstance(results, list):
        raise RerankError(f"Rerank model {name} returned no results.")
    scores = [0.0] * count
    for item in results:
        index = item.get("index") if isinstance(item, dict) else getattr(item, "index", None)
        score = (
            item.get("relevance_score")
            if isinstance(item, dict)
            else getattr(item, "relevance_score", None)
        )
        if isinstance(index, int) and 0 <= index < count and isinstance(score, int | float):
            scores[index] = float(score)
    return scores


def rerank_model_for(
    model_id: str,
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    timeout: float = 60,
    max_retries: int = 2,
) -> RerankModel:
    """The rerank model named by a RAGFlow id (``rerank-v3.5@Cohere``) or a LiteLLM string."""
    name, factory = split_model_id(model_id)
    if factory == BUILTIN_FACTORY:
        raise RerankError(f"Model({model_id}) not authorized")
    if factory is None and "/" in name:
        model = name
    else:
        model = f"{RERANK_PROVIDERS.get(factory or '', DEFAULT_RERANK_PROVIDER)}/{name}"
    return LiteLLMRerank(
        model,
        api_key=api_key,
        api_base=api_base,
        timeout=timeout,
        max_retries=max_retries,
        name=model_id,
    )
