"""Retrieval: searches datasets for the question and adds the passages found to the turn's
references, so that an answer citing ``[ID:n]`` points at them. Outputs ``formalized_content``
(the passages as text, each under its citation ID, for a prompt) and ``json`` (the chunks).

``kb_ids`` holds dataset ids, dataset names, or references to either (``begin@datasets``,
with or without braces; a reference may hold one or a list); ``kb_vars`` more references.
``use_kg``, ``cross_languages``, ``toc_enhance`` and ``meta_data_filter`` (``manual``) work as
in chats and ``/api/v1/retrieval``. ``query`` is a
template, the question by default. ``keywords_similarity_weight`` is the weight of the term
side, as in RAGFlow (the vector side weighs the rest). ``memory_ids`` names memories searched
too: the messages found come after the passages in ``formalized_content`` (under ``Memory:``,
without citation IDs: they are no documents) and in ``json``."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from ragserve.agent import variables
from ragserve.agent.components.base import Component, ComponentParams
from ragserve.agent.context import RunContext
from ragserve.agent.environment import MemoryQuery, RetrievalQuery


class RetrievalParams(ComponentParams):
    kb_ids: list[str] = Field(default_factory=list)
    kb_vars: list[str] = Field(default_factory=list)
    query: str = "{sys.query}"
    similarity_threshold: float = Field(0.2, ge=0, le=1)
    keywords_similarity_weight: float = Field(0.5, ge=0, le=1)
    top_n: int = Field(8, ge=1, le=1024)
    top_k: int = Field(1024, ge=1, le=10_000)
    rerank_id: str = ""
    empty_response: str = ""
    doc_ids: list[str] = Field(default_factory=list)
    use_kg: bool = False
    cross_languages: list[str] = Field(default_factory=list)
    toc_enhance: bool = False
    meta_data_filter: dict[str, Any] = Field(default_factory=dict)
    memory_ids: list[str] = Field(default_factory=list)

    @field_validator("kb_ids", "kb_vars", "doc_ids", "cross_languages", "memory_ids", mode="before")
    @classmethod
    def _a_list(cls, value: Any) -> Any:
        if value is None or value == "":
            return []
        return [value] if isinstance(value, str) else value


def manual_filter(meta_data_filter: dict[str, Any]) -> dict[str, Any] | None:
    """RAGFlow's ``meta_data_filter`` (``{"method": "manual", "manual": [{"key", "op",
    "value"}]}``) as a ``metadata_condition``; None for ``disabled`` and ``auto`` (whose
    filter the chat model writes at search time: ``RetrievalQuery.auto_filter``)."""
    if meta_data_filter.get("method") != "manual":
        return None
    conditions = [
        {
            "name": item.get("key", ""),
            "comparison_operator": item.get("op", "="),
            "value": item.get("value"),
        }
        for item in meta_data_filter.get("manual") or []
        if isinstance(item, dict)
    ]
    logic = meta_data_filter.get("logic", "and")
    return {"logic": logic, "conditions": conditions} if conditions else None


def formalized(keyed: dict[int, dict[str, Any]]) -> str:
    """The passages as a prompt shows them, each under the ID an answer cites."""
    blocks = [
        f"ID: {key}\nDocument: {chunk.get('document_name', '')}\n"
        f"Content: {chunk.get('content', '')}"
        for key, chunk in keyed.items()
    ]
    return "\n\n".join(blocks)


def _with_memories(
    passages: str, chunks: list[dict[str, Any]], remembered: list[dict[str, Any]]
) -> dict[str, Any]:
    if not remembered:
        return {"formalized_content": passages, "json": chunks}
    memory = "\n\n".join(f"Memory: {m.get('content', '')}" for m in remembered)
    text = f"{passages}\n\n{memory}" if chunks else memory
    return {"formalized_content": text, "json": [*chunks, *remembered]}


class Retrieval(Component):
    component_name = "Retrieval"
    Params = RetrievalParams

    @property
    def settings(self) -> RetrievalParams:
        assert isinstance(self.params, RetrievalParams)
        return self.params

    def dataset_ids(self, context: RunContext) -> tuple[str, ...]:
        found: list[str] = []
        for entry in [*self.settings.kb_ids, *self.settings.kb_vars]:
            reference = variables.bare_reference(entry)
            value: Any = context.value(reference) if reference else entry
            values = value if isinstance(value, list | tuple) else [value]
            found += [str(item).strip() for item in values if item not in (None, "")]
        return tuple(dict.fromkeys(found))

    def search(self, context: RunContext, question: str) -> dict[str, Any]:
        """The search with these parameters for ``question`` (also the Agent tool's call)."""
        params = self.settings
        query = RetrievalQuery(
            question=question,
            dataset_ids=self.dataset_ids(context),
            similarity_threshold=params.similarity_threshold,
            vector_similarity_weight=1 - params.keywords_similarity_weight,
            top_n=params.top_n,
            top_k=params.top_k,
            rerank_id=params.rerank_id,
            document_ids=tuple(params.doc_ids),
            use_kg=params.use_kg,
            cross_languages=tuple(params.cross_languages),
            toc_enhance=params.toc_enhance,
            metadata_condition=manual_filter(params.meta_data_filter),
            auto_filter=params.meta_data_filter.get("method") == "auto",
        )
        remembered = self.recall(context, question)
        if not question.strip() or not query.dataset_ids:
            return _with_memories(params.empty_response, [], remembered)
        found = context.environment.retrieve(query)
        if not found.chunks:
            return _with_memories(params.empty_response, [], remembered)
        keyed = context.add_reference(found.chunks, found.doc_aggs)
        return _with_memories(formalized(keyed), found.chunks, remembered)

    def recall(self, context: RunContext, question: str) -> list[dict[str, Any]]:
        params = self.settings
        memory_ids = tuple(i for i in params.memory_ids if i)
        if not memory_ids or not question.strip():
            return []
        return context.environment.recall(
            MemoryQuery(
                question=question,
                memory_ids=memory_ids,
                similarity_threshold=params.similarity_threshold,
                keywords_similarity_weight=params.keywords_similarity_weight,
                top_n=params.top_n,
            )
        )

    def run(self, context: RunContext) -> dict[str, Any]:
        return self.search(context, context.render(self.settings.query))
