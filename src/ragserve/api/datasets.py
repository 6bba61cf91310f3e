"""``/api/v1/datasets``: create, list, update, delete; RAPTOR and the knowledge graph
(spec 2.1)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from ragserve.api.body import JSON_ONLY, RagflowRoute
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import Ok, Result
from ragserve.schemas.common import UUID1
from ragserve.schemas.dataset_tasks import (
    DatasetTaskRow,
    GraphragTaskQueued,
    KnowledgeGraphView,
    NoTask,
    RaptorTaskQueued,
    Reembed,
    ReembedTaskQueued,
    ReembedTaskRow,
)
from ragserve.schemas.datasets import (
    CreateDataset,
    DatasetList,
    DatasetPublic,
    DeleteDatasets,
    ListDatasets,
    UpdateDataset,
)
from ragserve.services import dataset_tasks, datasets, knowledge_graph

router = APIRouter(prefix="/api/v1/datasets", tags=["datasets"], route_class=RagflowRoute)

DatasetId = Annotated[UUID1, Path(description="The dataset's id (a UUID1, any spelling).")]


@router.post("", dependencies=JSON_ONLY, summary="Create a dataset")
def create_dataset(
    runtime: RuntimeDep, caller: ApiCaller, request: Annotated[CreateDataset, Body()]
) -> Result[DatasetPublic]:
    """A new dataset owned by the caller. A name already taken (ignoring case) gets a suffix:
    `name(1)`, `name(2)`…; omitted settings take the tenant's defaults."""
    with runtime.transaction() as session:
        view = datasets.create_dataset(session, caller, request, settings=runtime.settings)
        return Result(data=datasets.public(view))


@router.get("", summary="List datasets")
def list_datasets(
    runtime: RuntimeDep, caller: ApiCaller, query: Annotated[ListDatasets, Query()]
) -> DatasetList:
    """One page of the datasets the caller may see: its own, and `team` datasets of the
    tenants it has joined."""
    with runtime.read() as session:
        views, total = datasets.list_datasets(session, caller, query)
        return DatasetList(data=[datasets.public(view) for view in views], total_datasets=total)


@router.put("/{dataset_id}", dependencies=JSON_ONLY, summary="Update a dataset")
def update_dataset(
    runtime: RuntimeDep,
    caller: ApiCaller,
    dataset_id: DatasetId,
    request: Annotated[UpdateDataset, Body()],
) -> Result[DatasetPublic]:
    """Change the given settings; a new embedding model is refused once chunks exist."""
    with runtime.transaction() as session:
        view = datasets.update_dataset(
            session, caller, dataset_id, request, settings=runtime.settings
        )
        return Result(data=datasets.public(view))


@router.delete("", dependencies=JSON_ONLY, summary="Delete datasets")
def delete_datasets(
    runtime: RuntimeDep, caller: ApiCaller, request: Annotated[DeleteDatasets, Body()]
) -> Ok:
    """Delete the named datasets with their documents, chunks and files (`ids: null`: all the
    caller owns). An id the caller does not own fails the whole request; nothing is deleted."""
    datasets.delete_datasets(runtime, caller, request.ids)
    return Ok()


@router.post("/{dataset_id}/run_raptor", summary="Build the dataset's RAPTOR summaries")
def run_raptor(
    runtime: RuntimeDep, caller: ApiCaller, dataset_id: DatasetId
) -> Result[RaptorTaskQueued]:
    """Queue one task over all the dataset's parsed chunks: they are clustered and summarised
    by the chat model level by level, and the summaries become chunks of the dataset."""
    task_id = dataset_tasks.queue(runtime, caller, dataset_id, dataset_tasks.RAPTOR)
    return Result(data=RaptorTaskQueued(raptor_task_id=task_id))


@router.get("/{dataset_id}/trace_raptor", summary="Show the dataset's RAPTOR task")
def trace_raptor(
    runtime: RuntimeDep, caller: ApiCaller, dataset_id: DatasetId
) -> Result[DatasetTaskRow | NoTask]:
    """The newest RAPTOR task of the dataset (progress, log), or `{}` when it has none."""
    return Result(data=dataset_tasks.trace(runtime, caller, dataset_id, dataset_tasks.RAPTOR))


@router.post("/{dataset_id}/run_graphrag", summary="Build the dataset's knowledge graph")
def run_graphrag(
    runtime: RuntimeDep, caller: ApiCaller, dataset_id: DatasetId
) -> Result[GraphragTaskQueued]:
    """Queue one task over all the dataset's parsed chunks: the chat model extracts entities
    and relations (`parser_config.graphrag`), merged into one graph per dataset."""
    task_id = dataset_tasks.queue(runtime, caller, dataset_id, dataset_tasks.GRAPHRAG)
    return Result(data=GraphragTaskQueued(graphrag_task_id=task_id))


@router.get("/{dataset_id}/trace_graphrag", summary="Show the dataset's GraphRAG task")
def trace_graphrag(
    runtime: RuntimeDep, caller: ApiCaller, dataset_id: DatasetId
) -> Result[DatasetTaskRow | NoTask]:
    """The newest GraphRAG task of the dataset (progress, log), or `{}` when it has none."""
    return Result(data=dataset_tasks.trace(runtime, caller, dataset_id, dataset_tasks.GRAPHRAG))


@router.get("/{dataset_id}/knowledge_graph", summary="Show the dataset's knowledge graph")
def get_knowledge_graph(
    runtime: RuntimeDep, caller: ApiCaller, dataset_id: DatasetId
) -> Result[KnowledgeGraphView]:
    """The graph's top nodes by PageRank and its heaviest edges."""
    return Result(data=knowledge_graph.show(runtime, caller, dataset_id))


@router.delete("/{dataset_id}/knowledge_graph", summary="Delete the dataset's knowledge graph")
def delete_knowledge_graph(
    runtime: RuntimeDep, caller: ApiCaller, dataset_id: DatasetId
) -> Result[bool]:
    """Remove the graph, its community reports and entity vectors."""
    knowledge_graph.remove(runtime, caller, dataset_id)
    return Result(data=True)


@router.post("/{dataset_id}/reembed", summary="Embed the dataset's chunks with another model")
def reembed_dataset(
    runtime: RuntimeDep,
    caller: ApiCaller,
    dataset_id: DatasetId,
    request: Annotated[Reembed | None, Body()] = None,
) -> Result[ReembedTaskQueued]:
    """A ragserve extension. Queue one task that embeds every chunk of the dataset again with
    `embedding_model` (default: the tenant's default embedding model), without parsing again;
    the vector dimension may change. Search keeps using the old model and vectors until all are
    replaced, then the dataset's `embedding_model` switches in one step; a failed or cancelled
    task leaves the dataset as it was. Refused while documents of the dataset are being parsed,
    or a re-embedding, RAPTOR or GraphRAG task of it runs."""
    model = request.embedding_model if request is not None else None
    task_id = dataset_tasks.queue_reembed(runtime, caller, dataset_id, model)
    row = dataset_tasks.trace(runtime, caller, dataset_id, dataset_tasks.REEMBED)
    assert isinstance(row, ReembedTaskRow)  # just queued
    return Result(
        data=ReembedTaskQueued(reembed_task_id=task_id, embedding_model=row.embedding_model)
    )


@router.get("/{dataset_id}/reembed", summary="Show the dataset's re-embedding task")
def trace_reembed(
    runtime: RuntimeDep, caller: ApiCaller, dataset_id: DatasetId
) -> Result[ReembedTaskRow | NoTask]:
    """A ragserve extension: the newest re-embedding task of the dataset (progress 0..1, or -1
    when it failed or was cancelled; its log; its target model), or `{}` when it has none."""
    return Result(data=dataset_tasks.trace(runtime, caller, dataset_id, dataset_tasks.REEMBED))


@router.delete("/{dataset_id}/reembed", summary="Cancel the dataset's re-embedding")
def cancel_reembed(runtime: RuntimeDep, caller: ApiCaller, dataset_id: DatasetId) -> Ok:
    """A ragserve extension: cancel the dataset's queued or running re-embedding. The worker
    stops at its next batch; the dataset keeps its model and vectors."""
    dataset_tasks.unbind(runtime, caller, dataset_id, dataset_tasks.REEMBED)
    return Ok()
