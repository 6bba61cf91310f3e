"""RAPTOR: a tree of summaries over a dataset's chunks, built level by level.

Level 0 is the dataset's parsed chunks. At each level their vectors are clustered
(``rag.raptor.cluster``), the chat model summarises every cluster of two or more texts with the
dataset's ``raptor.prompt`` (``{cluster_content}`` is the cluster's texts), and the summaries,
embedded by the dataset's model, become chunks of the dataset. The next level is those
summaries and the texts that were alone in their cluster; it stops at one text, or when no
cluster has two.

A summary chunk belongs to the document most of its sources come from (so references name a
real document, and a re-parse of that document drops it), has ``fields.raptor_kwd = "raptor"``
and ``fields.raptor_level``, and is searched like any other chunk. A new run first deletes the
dataset's earlier summaries. Every summary is stored in ``llm_cache`` as soon as it arrives
(the same texts, model and prompt are never paid for twice), so a run taken over after its
worker died, or run again, pays only for what is new.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ragserve.db.models import Dataset
from ragserve.errors import RagserveError
from ragserve.models.chat import ChatModel
from ragserve.models.embedding import EmbeddingModel, embed_chunks
from ragserve.rag.raptor import cluster
from ragserve.runtime import Runtime
from ragserve.schemas.parser_config import RaptorConfig
from ragserve.services import llm_batch
from ragserve.services.dataset_chunks import dataset_records, start_build
from ragserve.store.base import ChunkRecord, chunk_id
from ragserve.tokenizer import count_tokens, tokenize_to_text

logger = logging.getLogger("ragserve.raptor")

RAPTOR_KIND = "raptor"
SUMMARY_ORDER = 1_000_000
"""Summary chunks sort after a document's own chunks."""
MAX_LEVELS = 16

NO_MODEL = (
    "RAPTOR needs a chat model to write its summaries, and neither the dataset nor its tenant "
    "has one: set the tenant's chat model first."
)

Report = Callable[[float | None, str | None], None]
"""Renews the task's lease and records progress / a log line; raises when the task stopped."""


class RaptorError(RagserveError):
    """The build cannot finish (no model, the model failed): the task fails with this."""


@dataclass
class Node:
    """A text of one level: a chunk, or a summary of the level below."""

    content: str
    vector: np.ndarray
    document_id: str
    document_name: str


def config_of(dataset: Dataset) -> RaptorConfig:
    raw = (dataset.parser_config or {}).get("raptor") or {}
    return RaptorConfig.model_validate({k: v for k, v in raw.items() if k != "use_raptor"})


def is_summary(record: ChunkRecord) -> bool:
    return record.fields.get("raptor_kwd") == RAPTOR_KIND


def build(runtime: Runtime, dataset_id: str, report: Report) -> list[str]:
    """Build the dataset's summaries; the ids of the summary chunks written."""
    with runtime.read() as session:
        start = start_build(session, runtime, dataset_id, RaptorError, NO_MODEL)
        config = config_of(start.dataset)
        tenant_id, embedding_id = start.dataset.tenant_id, start.dataset.embedding_model
    model_id = start.model_id
    leaves, old = _dataset_chunks(runtime, start.document_ids)
    if old:
        runtime.chunks.delete(old)
    report(0.05, f"RAPTOR over {len(leaves)} chunks with {model_id}.")
    run = _Run(
        runtime=runtime,
        config=config,
        chat=runtime.chat_model(model_id, tenant_id),
        embedder=runtime.embedding_model(embedding_id, tenant_id),
        tenant_id=tenant_id,
        dataset_id=dataset_id,
        model_id=model_id,
        report=report,
    )
    written: list[str] = []
    try:
        _levels(run, leaves, written)
    except BaseException:  # failed, cancelled or stopped: no half tree is left behind
        runtime.chunks.delete(written)
        raise
    return written


@dataclass(frozen=True)
class _Run:
    """What one build works with, the same at every level."""

    runtime: Runtime
    config: RaptorConfig
    """The dataset's ``parser_config.raptor``."""
    chat: ChatModel
    """Writes the summaries."""
    embedder: EmbeddingModel
    """The dataset's model: embeds the summaries."""
    tenant_id: str
    dataset_id: str
    model_id: str
    """The chat model's id, for ``llm_cache``."""
    report: Report


def _levels(run: _Run, leaves: list[Node], written: list[str]) -> None:
    """Summarise level after level from ``leaves``, adding each level's summary chunks to the
    store and their ids to ``written``."""
    runtime, config, report = run.runtime, run.config, run.report
    tenant_id, dataset_id, model_id = run.tenant_id, run.dataset_id, run.model_id
    level_nodes = leaves
    for level in range(1, MAX_LEVELS + 1):
        if len(level_nodes) < 2:
            break
        groups = cluster(
            np.vstack([node.vector for node in level_nodes]),
            max_cluster=config.max_cluster,
            threshold=config.threshold,
            random_seed=config.random_seed,
        )
        carried = [level_nodes[group[0]] for group in groups if len(group) == 1]
        groups = [group for group in groups if len(group) > 1]
        if not groups:
            break
        prompts = [
            config.prompt.replace(
                "{cluster_content}", "\n".join(level_nodes[i].content for i in group)
            )
            for group in groups
        ]
        summaries = llm_batch.ask_all(
            runtime,
            run.chat,
            tenant_id=tenant_id,
            model_id=model_id,
            step="RAPTOR",
            conversations=[[{"role": "user", "content": prompt}] for prompt in prompts],
            max_tokens=config.max_token,
            renew=lambda: report(None, None),
        )
        texts = [s.strip() or p for s, p in zip(summaries, prompts, strict=True)]
        owners = [_owner([level_nodes[i] for i in group]) for group in groups]
        vectors = embed_chunks(run.embedder, [name for _id, name in owners], texts, 0.0)
        nodes = [Node(text, vectors[k], owners[k][0], owners[k][1]) for k, text in enumerate(texts)]
        records = [
            _record(tenant_id, dataset_id, node, level, len(written) + k)
            for k, node in enumerate(nodes)
        ]
        runtime.chunks.insert(records)
        written.extend(record.id for record in records)
        report(
            min(0.95, 0.1 + 0.15 * level),
            f"Level {level}: {len(groups)} summaries of {len(level_nodes)} texts.",
        )
        # a text alone in its cluster goes up unchanged, to be summarised with others there
        level_nodes = nodes + carried


def _dataset_chunks(runtime: Runtime, document_ids: Sequence[str]) -> tuple[list[Node], list[str]]:
    """The dataset's available chunks with vectors, and the ids of its earlier summaries."""
    leaves: list[Node] = []
    old: list[str] = []
    for record in dataset_records(runtime, document_ids):
        if is_summary(record):
            old.append(record.id)
        elif record.available and record.vector is not None and record.content.strip():
            leaves.append(
                Node(record.content, record.vector, record.document_id, record.document_name)
            )
    return leaves, old


def _owner(nodes: Sequence[Node]) -> tuple[str, str]:
    """The document most of the nodes come from (the first such, on a tie)."""
    counts = Counter(node.document_id for node in nodes)
    best = max(counts.values())
    chosen = next(node for node in nodes if counts[node.document_id] == best)
    return chosen.document_id, chosen.document_name


def _record(tenant_id: str, dataset_id: str, node: Node, level: int, index: int) -> ChunkRecord:
    order = SUMMARY_ORDER + index
    return ChunkRecord(
        id=chunk_id(node.document_id, node.content, order),
        tenant_id=tenant_id,
        dataset_id=dataset_id,
        document_id=node.document_id,
        document_name=node.document_name,
        content=node.content,
        content_tokens=tokenize_to_text(node.content),
        title_tokens=tokenize_to_text(node.document_name),
        token_count=count_tokens(node.content),
        order=order,
        fields={"raptor_kwd": RAPTOR_KIND, "raptor_level": level},
        vector=np.asarray(node.vector, dtype=np.float32),
    )
