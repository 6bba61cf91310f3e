"""GraphRAG: build a dataset's knowledge graph with the chat model (``run_graphrag``).

1. Extraction: each parsed chunk is sent with ``GRAPH_EXTRACT_PROMPT`` (the dataset's
   ``graphrag.entity_types``); with ``method: general`` the model is asked once more for what
   it missed (one gleaning round). ``rag.graph`` parses and merges the records.
2. Resolution (``resolution: true``): entities of one type with near-identical names (one
   inside the other, or 85% alike) are shown to the model in pairs; those it calls the same
   are merged.
3. Communities (``community: true``): Louvain communities of the graph, each summarised by the
   model into a report (a title line, then a paragraph).
4. PageRank on the nodes; every entity embedded (``name: description``) with the dataset's
   embedding model, for ``use_kg``.

The graph, reports and vectors replace the dataset's ``knowledge_graph`` row. Every model call
goes through ``llm_batch`` (cached, so a re-run pays only for new chunks).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from itertools import combinations
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ragserve.db.models import Dataset, KnowledgeGraph
from ragserve.errors import RagserveError
from ragserve.models.embedding import embed_chunks
from ragserve.rag import graph as kg
from ragserve.rag.prompt import (
    GRAPH_COMMUNITY_PROMPT,
    GRAPH_EXTRACT_PROMPT,
    GRAPH_GLEAN_PROMPT,
    GRAPH_RESOLVE_PROMPT,
)
from ragserve.runtime import Runtime
from ragserve.schemas.parser_config import GraphragConfig
from ragserve.services import llm_batch
from ragserve.services.dataset_chunks import dataset_records, start_build
from ragserve.services.raptor import is_summary

Report = Callable[[float | None, str | None], None]

EXTRACT_TOKENS = 1024
SHORT_TOKENS = 8
REPORT_TOKENS = 512
MAX_RESOLUTION_PAIRS = 200
NAME_LIKENESS = 0.85
NO_MODEL = (
    "GraphRAG needs a chat model to extract the graph, and neither the dataset nor its tenant "
    "has one: set the tenant's chat model first."
)


class GraphragError(RagserveError):
    """The build cannot finish: the task fails with this message."""


def config_of(dataset: Dataset) -> GraphragConfig:
    raw = (dataset.parser_config or {}).get("graphrag") or {}
    return GraphragConfig.model_validate({k: v for k, v in raw.items() if k != "use_graphrag"})


def build(runtime: Runtime, dataset_id: str, report: Report) -> list[str]:
    """Build and store the dataset's graph; no chunks are written (an empty list)."""
    with runtime.read() as session:
        start = start_build(session, runtime, dataset_id, GraphragError, NO_MODEL)
        config = config_of(start.dataset)
        tenant_id, embedding_id = start.dataset.tenant_id, start.dataset.embedding_model
    model_id = start.model_id
    chunks = [
        (record.id, record.content)
        for record in dataset_records(runtime, start.document_ids)
        if record.available and record.content.strip() and not is_summary(record)
    ]
    report(0.05, f"GraphRAG ({config.method}) over {len(chunks)} chunks with {model_id}.")
    chat = runtime.chat_model(model_id, tenant_id)

    def ask(step: str, conversations: Sequence[llm_batch.Conversation], tokens: int) -> list[str]:
        return llm_batch.ask_all(
            runtime,
            chat,
            tenant_id=tenant_id,
            model_id=model_id,
            step=step,
            conversations=conversations,
            max_tokens=tokens,
            renew=lambda: report(None, None),
        )

    extractions = _extract(ask, config, chunks)
    graph = kg.build_graph(extractions)
    nodes, edges = graph.number_of_nodes(), graph.number_of_edges()
    report(0.6, f"Extracted {nodes} entities and {edges} relations.")
    if config.resolution:
        merged = _resolve(ask, graph)
        kg.rank_nodes(graph)
        report(0.7, f"Entity resolution merged {merged} entities.")
    reports = _community_reports(ask, graph) if config.community else []
    if config.community:
        report(0.85, f"{len(reports)} community reports.")
    names, vectors = entity_vectors(runtime, embedding_id, tenant_id, graph)
    with runtime.transaction() as session:
        row = graph_row(session, dataset_id, tenant_id)
        row.graph, row.reports, row.entity_names = kg.to_json(graph), reports, names
        row.vectors = vectors.astype(np.float32).tobytes()
    return []


def graph_row(session: Session, dataset_id: str, tenant_id: str) -> KnowledgeGraph:
    """The dataset's row, locked, made when it has none."""
    row = session.scalars(
        select(KnowledgeGraph).where(KnowledgeGraph.dataset_id == dataset_id).with_for_update()
    ).first()
    if row is None:
        row = KnowledgeGraph(dataset_id=dataset_id, tenant_id=tenant_id, graph={}, mind_map={})
        session.add(row)
    return row


Ask = Callable[[str, Sequence[llm_batch.Conversation], int], list[str]]


def _extract(
    ask: Ask, config: GraphragConfig, chunks: Sequence[tuple[str, str]]
) -> list[kg.Extraction]:
    system = GRAPH_EXTRACT_PROMPT.format(entity_types=", ".join(config.entity_types))
    first = [
        [{"role": "system", "content": system}, {"role": "user", "content": text}]
        for _id, text in chunks
    ]
    replies = ask("GraphRAG extraction", first, EXTRACT_TOKENS)
    if config.method == "general":
        glean = [
            [
                *conversation,
                {"role": "assistant", "content": reply},
                {"role": "user", "content": GRAPH_GLEAN_PROMPT},
            ]
            for conversation, reply in zip(first, replies, strict=True)
        ]
        more = ask("GraphRAG gleaning", glean, EXTRACT_TOKENS)
        replies = [f"{a}\n{b}" for a, b in zip(replies, more, strict=True)]
    return [
        kg.parse_extraction(reply, chunk_id, config.entity_types)
        for (chunk_id, _text), reply in zip(chunks, replies, strict=True)
    ]


def resolution_pairs(graph: Any) -> list[tuple[str, str]]:
    """Pairs of entities of one type whose names look alike, heaviest first."""
    by_type: dict[str, list[str]] = {}
    for name, data in graph.nodes(data=True):
        by_type.setdefault(data["entity_type"], []).append(name)
    pairs = []
    for names in by_type.values():
        for first, second in combinations(sorted(names), 2):
            short, long = sorted((first, second), key=len)
            alike = difflib.SequenceMatcher(None, first, second).ratio() >= NAME_LIKENESS
            if alike or (len(short) >= 4 and short in long):
                pairs.append((first, second))
    return pairs[:MAX_RESOLUTION_PAIRS]


def _resolve(ask: Ask, graph: Any) -> int:
    pairs = resolution_pairs(graph)
    if not pairs:
        return 0
    conversations = []
    for first, second in pairs:
        a, b = graph.nodes[first], graph.nodes[second]
        prompt = GRAPH_RESOLVE_PROMPT.format(
            first=first,
            first_type=a["entity_type"],
            first_description=kg.description(a),
            second=second,
            second_type=b["entity_type"],
            second_description=kg.description(b),
        )
        conversations.append([{"role": "user", "content": prompt}])
    answers = ask("GraphRAG resolution", conversations, SHORT_TOKENS)
    merged = 0
    for (first, second), answer in zip(pairs, answers, strict=True):
        if answer.strip().lower().startswith("yes") and first in graph and second in graph:
            keep, drop = sorted((first, second), key=lambda n: (-graph.degree(n), len(n), n))
            kg.merge_nodes(graph, keep, drop)
            merged += 1
    return merged


def _community_reports(ask: Ask, graph: Any) -> list[dict[str, Any]]:
    groups = kg.communities(graph)
    conversations = []
    for group in groups:
        members = set(group)
        lines = [f"Entity {name}: {kg.description(graph.nodes[name])}" for name in group]
        lines += [
            f"Relation {s} - {t}: {kg.description(d)}"
            for s, t, d in graph.edges(group, data=True)
            if s in members and t in members
        ]
        content = "\n".join(lines)
        conversations.append(
            [{"role": "user", "content": GRAPH_COMMUNITY_PROMPT.format(content=content)}]
        )
    answers = ask("GraphRAG communities", conversations, REPORT_TOKENS)
    reports = []
    for group, answer in zip(groups, answers, strict=True):
        title, _, body = answer.strip().partition("\n")
        weight = sum(graph.nodes[name]["pagerank"] for name in group)
        reports.append(
            {
                "title": title.strip("# "),
                "report": body.strip(),
                "entities": group,
                "weight": weight,
            }
        )
    return sorted(reports, key=lambda item: -float(item["weight"]))


def entity_vectors(
    runtime: Runtime, embedding_id: str, tenant_id: str, graph: Any
) -> tuple[list[str], np.ndarray]:
    names = list(graph.nodes)
    if not names:
        return [], np.zeros((0, 0), dtype=np.float32)
    texts = [f"{name}: {kg.description(graph.nodes[name])}" for name in names]
    model = runtime.embedding_model(embedding_id, tenant_id)
    batch = runtime.settings.embedding_batch_size
    parts = [
        embed_chunks(model, names[i : i + batch], texts[i : i + batch], 0.0)
        for i in range(0, len(names), batch)
    ]
    return names, np.vstack(parts)
