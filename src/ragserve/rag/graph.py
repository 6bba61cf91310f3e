"""A dataset's knowledge graph, from what the chat model extracted chunk by chunk.

The model answers the extraction prompt (``rag.prompt.GRAPH_EXTRACT_PROMPT``) with one record
per line, fields separated by ``<|>``::

    entity<|>NAME<|>TYPE<|>description
    relation<|>SOURCE<|>TARGET<|>description<|>keyword, keyword<|>weight

Records of every chunk are merged: an entity is one node whatever chunks and documents name it
(names compared case-insensitively; the most frequent type wins), a relation is one undirected
edge whose weights add up. PageRank ranks the nodes; Louvain communities group them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx  # type: ignore[import-untyped]

FIELD_SEPARATOR = "<|>"
MAX_DESCRIPTIONS = 8
"""Descriptions kept per node or edge (the first ones found)."""
SHOWN_NODES = 256
SHOWN_EDGES = 128


@dataclass
class Entity:
    name: str
    type: str
    description: str
    source_id: str


@dataclass
class Relation:
    source: str
    target: str
    description: str
    keywords: list[str]
    weight: float
    source_id: str


@dataclass
class Extraction:
    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)


def entity_key(name: str) -> str:
    return re.sub(r"\s+", " ", name).strip().upper()


def parse_extraction(reply: str, source_id: str, entity_types: Sequence[str]) -> Extraction:
    """The records of one reply; malformed lines, entities of types not asked for and
    relations to themselves are dropped."""
    allowed = {t.strip().lower() for t in entity_types if t.strip()}
    found = Extraction()
    for line in reply.splitlines():
        parts = [p.strip().strip("\"'()") for p in line.strip().strip("()").split(FIELD_SEPARATOR)]
        kind = parts[0].lower() if parts else ""
        if kind == "entity" and len(parts) >= 4 and parts[1]:
            if allowed and parts[2].lower() not in allowed:
                continue
            found.entities.append(
                Entity(entity_key(parts[1]), parts[2].lower(), parts[3], source_id)
            )
        elif kind in ("relation", "relationship") and len(parts) >= 4:
            source, target = entity_key(parts[1]), entity_key(parts[2])
            if not source or not target or source == target:
                continue
            listed = parts[4].split(",") if len(parts) > 4 else []
            keywords = [k.strip() for k in listed if k.strip()]
            found.relations.append(
                Relation(source, target, parts[3], keywords, _weight(parts), source_id)
            )
    return found


def _weight(parts: Sequence[str]) -> float:
    try:
        return max(float(parts[5]), 0.0) if len(parts) > 5 else 1.0
    except ValueError:
        return 1.0


def build_graph(extractions: Iterable[Extraction]) -> nx.Graph:
    """One graph from every chunk's records, with ``pagerank`` and ``rank`` (degree) on the
    nodes. A relation's ends that were never extracted as entities become nodes of type
    ``unknown``."""
    graph = nx.Graph()
    types: dict[str, Counter[str]] = {}
    for extraction in extractions:
        for entity in extraction.entities:
            _add_node(graph, entity.name, entity.description, entity.source_id)
            types.setdefault(entity.name, Counter())[entity.type] += 1
        for relation in extraction.relations:
            for end in (relation.source, relation.target):
                _add_node(graph, end, "", relation.source_id)
            _add_edge(graph, relation)
    for name, data in graph.nodes(data=True):
        counted = types.get(name)
        data["entity_type"] = counted.most_common(1)[0][0] if counted else "unknown"
    rank_nodes(graph)
    return graph


def _add_node(graph: nx.Graph, name: str, description: str, source_id: str) -> None:
    if name not in graph:
        graph.add_node(name, descriptions=[], source_id=[])
    data = graph.nodes[name]
    data["descriptions"] = _described(data["descriptions"], [description])
    data["source_id"] = _union(data["source_id"], [source_id])


def _add_edge(graph: nx.Graph, relation: Relation) -> None:
    if not graph.has_edge(relation.source, relation.target):
        graph.add_edge(
            relation.source,
            relation.target,
            src_id=relation.source,
            tgt_id=relation.target,
            descriptions=[],
            keywords=[],
            weight=0.0,
            source_id=[],
        )
    data = graph.edges[relation.source, relation.target]
    data["weight"] += relation.weight
    data["descriptions"] = _described(data["descriptions"], [relation.description])
    data["keywords"] = _union(data["keywords"], relation.keywords)
    data["source_id"] = _union(data["source_id"], [relation.source_id])


def _union(first: Sequence[str], second: Sequence[str]) -> list[str]:
    return [item for item in dict.fromkeys([*first, *second]) if item]


def _described(kept: Sequence[str], new: Sequence[str]) -> list[str]:
    """The descriptions, each once, at most ``MAX_DESCRIPTIONS``."""
    return _union(kept, new)[:MAX_DESCRIPTIONS]


def rank_nodes(graph: nx.Graph) -> None:
    ranks = nx.pagerank(graph, weight="weight") if graph.number_of_nodes() else {}
    for name, data in graph.nodes(data=True):
        data["pagerank"] = float(ranks.get(name, 0.0))
        data["rank"] = int(graph.degree(name))


def merge_nodes(graph: nx.Graph, keep: str, drop: str) -> None:
    """Fold ``drop`` into ``keep`` (an entity resolved as the same): its descriptions, sources
    and edges move over, edge weights adding up."""
    if keep == drop or drop not in graph or keep not in graph:
        return
    kept, dropped = graph.nodes[keep], graph.nodes[drop]
    kept["descriptions"] = _described(kept["descriptions"], dropped["descriptions"])
    kept["source_id"] = _union(kept["source_id"], dropped["source_id"])
    for neighbour in list(graph.neighbors(drop)):
        if neighbour == keep:
            continue
        data = graph.edges[drop, neighbour]
        _add_edge(
            graph,
            Relation(keep, neighbour, "", data["keywords"], data["weight"], ""),
        )
        merged = graph.edges[keep, neighbour]
        merged["descriptions"] = _described(merged["descriptions"], data["descriptions"])
        merged["source_id"] = _union(merged["source_id"], data["source_id"])
    graph.remove_node(drop)


def communities(graph: nx.Graph, seed: int = 0) -> list[list[str]]:
    """Louvain communities of two or more nodes, largest first."""
    if graph.number_of_edges() == 0:
        return []
    found = nx.community.louvain_communities(graph, weight="weight", seed=seed)
    groups = [sorted(group) for group in found if len(group) > 1]
    return sorted(groups, key=lambda group: (-len(group), group))


def description(data: dict[str, Any]) -> str:
    return "\n".join(data.get("descriptions", []))


def node_link(graph: nx.Graph) -> dict[str, Any]:
    """The graph as RAGFlow shows it: the ``SHOWN_NODES`` nodes of highest PageRank and the
    ``SHOWN_EDGES`` heaviest edges between them (networkx node-link JSON)."""
    if graph.number_of_nodes() == 0:
        return {}
    ranked = sorted(graph.nodes(data=True), key=lambda item: -item[1]["pagerank"])
    shown = ranked[:SHOWN_NODES]
    names = {name for name, _data in shown}
    edges = sorted(
        (
            (source, target, data)
            for source, target, data in graph.edges(data=True)
            if source in names and target in names and source != target
        ),
        key=lambda edge: -edge[2]["weight"],
    )[:SHOWN_EDGES]
    return {
        "directed": False,
        "multigraph": False,
        "graph": {},
        "nodes": [
            {
                "id": name,
                "entity_name": name,
                "entity_type": data["entity_type"],
                "description": description(data),
                "pagerank": data["pagerank"],
                "rank": data["rank"],
                "source_id": data["source_id"],
            }
            for name, data in shown
        ],
        "edges": [
            {
                "source": source,
                "target": target,
                "src_id": data["src_id"],
                "tgt_id": data["tgt_id"],
                "description": description(data),
                "keywords": data["keywords"],
                "weight": data["weight"],
                "source_id": data["source_id"],
            }
            for source, target, data in edges
        ],
    }


def to_json(graph: nx.Graph) -> dict[str, Any]:
    """The whole graph, for storage."""
    data: dict[str, Any] = nx.node_link_data(graph, edges="edges")
    return data


def from_json(data: dict[str, Any]) -> nx.Graph:
    graph: nx.Graph = nx.node_link_graph(data, edges="edges")
    return graph
