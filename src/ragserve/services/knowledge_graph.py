"""A dataset's knowledge graph as the API shows it (``GET/DELETE …/knowledge_graph``) and as
retrieval uses it (``use_kg``).

``use_kg`` adds one passage to a retrieval: the entities nearest to the question (cosine of
the question's vector and the entity's ``name: description`` vector, weighted up by PageRank
and by the entity's name appearing in the question), the heaviest relations touching them and
the community reports they belong to, as RAGFlow's "Related content in Knowledge Graph".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ragserve.db.models import KnowledgeGraph
from ragserve.rag import graph as kg
from ragserve.runtime import Runtime
from ragserve.schemas.dataset_tasks import KnowledgeGraphView
from ragserve.services.datasets import visible_dataset
from ragserve.services.tenancy import Caller

KG_DOCUMENT_NAME = "Related content in Knowledge Graph"
TOP_ENTITIES = 6
TOP_RELATIONS = 6
TOP_REPORTS = 1
MIN_SIMILARITY = 0.3
NAME_BONUS = 1.0
"""Added to an entity whose name is in the question: it is always among the candidates."""


def show(runtime: Runtime, caller: Caller, dataset_id: str) -> KnowledgeGraphView:
    """The graph and the mind map; both ``{}`` when the dataset has no graph."""
    with runtime.read() as session:
        dataset = visible_dataset(session, caller, dataset_id)
        row = session.scalars(
            select(KnowledgeGraph).where(KnowledgeGraph.dataset_id == dataset.id)
        ).first()
        if row is None:
            return KnowledgeGraphView(graph={}, mind_map={})
        graph = kg.node_link(kg.from_json(row.graph)) if row.graph else {}
        return KnowledgeGraphView(graph=graph, mind_map=row.mind_map or {})


def remove(runtime: Runtime, caller: Caller, dataset_id: str) -> None:
    """Delete the graph (its reports and vectors too); the mind map stays."""
    with runtime.transaction() as session:
        dataset = visible_dataset(session, caller, dataset_id)
        remove_graph(session, dataset.id)


def remove_graph(session: Session, dataset_id: str) -> None:
    session.execute(
        update(KnowledgeGraph)
        .where(KnowledgeGraph.dataset_id == dataset_id)
        .values(graph={}, reports=[], entity_names=[], vectors=b"")
    )


def remove_mind_map(session: Session, dataset_id: str) -> None:
    session.execute(
        update(KnowledgeGraph).where(KnowledgeGraph.dataset_id == dataset_id).values(mind_map={})
    )


@dataclass(frozen=True)
class Related:
    content: str
    dataset_ids: list[str]


def related_content(
    session: Session, dataset_ids: Sequence[str], question: str, vector: np.ndarray
) -> Related | None:
    """The graph's answer to the question over these (already authorised) datasets, or None
    when none of them has a graph or nothing in it is near the question."""
    rows = session.scalars(
        select(KnowledgeGraph).where(KnowledgeGraph.dataset_id.in_(list(dataset_ids)))
    ).all()
    entity_lines: list[str] = []
    relation_lines: list[str] = []
    report_lines: list[str] = []
    used: list[str] = []
    words = {word.upper() for word in question.replace("?", " ").split() if len(word) > 2}
    for row in rows:
        if not row.entity_names:
            continue
        graph = kg.from_json(row.graph)
        vectors = np.frombuffer(row.vectors, dtype=np.float32).reshape(len(row.entity_names), -1)
        if vectors.shape[1] != vector.shape[0]:
            continue
        similarity = vectors @ vector.astype(np.float32)
        scored = []
        for index, name in enumerate(row.entity_names):
            if name not in graph:
                continue
            named = bool(set(name.split()) & words)
            score = max(float(similarity[index]), 0.0) + (NAME_BONUS if named else 0.0)
            if score >= MIN_SIMILARITY:
                rank = graph.nodes[name]["pagerank"]
                scored.append((score * (1 + rank), name))
        top = [name for _score, name in sorted(scored, reverse=True)[:TOP_ENTITIES]]
        if not top:
            continue
        used.append(row.dataset_id)
        for name in top:
            data = graph.nodes[name]
            entity_lines.append(f"{name},{data['entity_type']},{_one_line(kg.description(data))}")
        edges = sorted(graph.edges(top, data=True), key=lambda edge: -edge[2]["weight"])
        for source, target, data in edges[:TOP_RELATIONS]:
            relation_lines.append(f"{source},{target},{_one_line(kg.description(data))}")
        chosen = set(top)
        reports = [r for r in row.reports if chosen & set(r.get("entities", []))]
        for item in reports[:TOP_REPORTS]:
            report_lines.append(f"# {item['title']}\n{item['report']}")
    if not entity_lines:
        return None
    parts = ["---- Entities ----", "Entity,Type,Description", *entity_lines]
    if relation_lines:
        parts += ["---- Relations ----", "Source,Target,Description", *relation_lines]
    if report_lines:
        parts += ["---- Community Report ----", *report_lines]
    return Related("\n".join(parts), used)


def _one_line(text: str) -> str:
    return " ".join(text.split())
