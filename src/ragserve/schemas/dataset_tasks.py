"""Dataset-wide tasks as the API shows them (``run_raptor``, ``trace_raptor``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ragserve.schemas.common import StrictModel
from ragserve.schemas.datasets import EmbeddingModel


class RaptorTaskQueued(BaseModel):
    raptor_task_id: str = Field(description="The queued task; trace it with `trace_raptor`.")


class GraphragTaskQueued(BaseModel):
    graphrag_task_id: str = Field(description="The queued task; trace it with `trace_graphrag`.")


class KnowledgeGraphView(BaseModel):
    graph: dict[str, Any] = Field(
        description="networkx node-link JSON: the 256 nodes of highest PageRank (`id, "
        "entity_name, entity_type, description, pagerank, rank, source_id`) and the 128 "
        "heaviest edges between them (`source, target, src_id, tgt_id, description, keywords, "
        "weight, source_id`); `{}` without a graph."
    )
    mind_map: dict[str, Any] = Field(description="The dataset's mind map; `{}` without one.")


class DatasetTaskRow(BaseModel):
    """RAGFlow's task row. `progress` is 0..1, or -1 when the task failed; `progress_msg` is
    its log, one line per step."""

    id: str
    doc_id: str
    from_page: int
    to_page: int
    task_type: str
    priority: int
    begin_at: str | None
    process_duration: float
    progress: float
    progress_msg: str
    retry_count: int
    digest: str
    chunk_ids: str = Field(description="The summary chunks written, space separated.")
    create_time: int
    create_date: str | None
    update_time: int
    update_date: str | None


class NoTask(BaseModel):
    """`{}`: the dataset has no task of this type."""


class Reembed(StrictModel):
    """``POST /api/v1/datasets/{id}/reembed``'s body (it may be omitted)."""

    embedding_model: EmbeddingModel = Field(
        None,
        description="The model to embed the dataset with, `<model_name>@<provider>`; null or "
        "omitted: the tenant's default embedding model.",
    )


class ReembedTaskQueued(BaseModel):
    reembed_task_id: str = Field(description="The queued task; follow it with `GET …/reembed`.")
    embedding_model: str = Field(description="The model the dataset is being embedded with.")


class ReembedTaskRow(DatasetTaskRow):
    """The re-embedding task: RAGFlow's task row and its target model."""

    embedding_model: str = Field(description="The model the task embeds the dataset with.")
