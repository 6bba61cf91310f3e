"""The web (login) twins of the dataset-wide task routes, ``/v1/kb/*``: RAPTOR, GraphRAG and
the dataset mind map (run, trace), the knowledge graph (show, delete) and ``unbind_task``
(cancel a task and delete its output). The same services as ``/api/v1/datasets/{id}/…``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import RuntimeDep, WebCaller
from ragserve.api.envelope import WebResult
from ragserve.schemas.dataset_tasks import (
    DatasetTaskRow,
    GraphragTaskQueued,
    KnowledgeGraphView,
    NoTask,
    RaptorTaskQueued,
)
from ragserve.schemas.kb_tasks import KbBody, KbQuery, MindmapTaskQueued, UnbindQuery
from ragserve.services import dataset_tasks, knowledge_graph

router = APIRouter(prefix="/v1/kb", tags=["dataset tasks (web)"], route_class=RagflowRoute)

TASK_TYPES = {
    "GraphRAG": dataset_tasks.GRAPHRAG,
    "RAPTOR": dataset_tasks.RAPTOR,
    "Mindmap": dataset_tasks.MINDMAP,
}


@router.post("/run_raptor", summary="Build the dataset's RAPTOR summaries")
def run_raptor(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[KbBody, Body()]
) -> WebResult[RaptorTaskQueued]:
    """As `POST /api/v1/datasets/{id}/run_raptor`."""
    task_id = dataset_tasks.queue(runtime, caller, request.kb_id, dataset_tasks.RAPTOR)
    return WebResult(data=RaptorTaskQueued(raptor_task_id=task_id))


@router.get("/trace_raptor", summary="Show the dataset's RAPTOR task")
def trace_raptor(
    runtime: RuntimeDep, caller: WebCaller, query: Annotated[KbQuery, Query()]
) -> WebResult[DatasetTaskRow | NoTask]:
    return WebResult(data=dataset_tasks.trace(runtime, caller, query.kb_id, dataset_tasks.RAPTOR))


@router.post("/run_graphrag", summary="Build the dataset's knowledge graph")
def run_graphrag(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[KbBody, Body()]
) -> WebResult[GraphragTaskQueued]:
    """As `POST /api/v1/datasets/{id}/run_graphrag`."""
    task_id = dataset_tasks.queue(runtime, caller, request.kb_id, dataset_tasks.GRAPHRAG)
    return WebResult(data=GraphragTaskQueued(graphrag_task_id=task_id))


@router.get("/trace_graphrag", summary="Show the dataset's GraphRAG task")
def trace_graphrag(
    runtime: RuntimeDep, caller: WebCaller, query: Annotated[KbQuery, Query()]
) -> WebResult[DatasetTaskRow | NoTask]:
    return WebResult(data=dataset_tasks.trace(runtime, caller, query.kb_id, dataset_tasks.GRAPHRAG))


@router.post("/run_mindmap", summary="Build the dataset's mind map")
def run_mindmap(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[KbBody, Body()]
) -> WebResult[MindmapTaskQueued]:
    """Queue a task in which the chat model outlines each parsed document; the outlines are
    the dataset's mind map, shown by `knowledge_graph`."""
    task_id = dataset_tasks.queue(runtime, caller, request.kb_id, dataset_tasks.MINDMAP)
    return WebResult(data=MindmapTaskQueued(mindmap_task_id=task_id))


@router.get("/trace_mindmap", summary="Show the dataset's mind-map task")
def trace_mindmap(
    runtime: RuntimeDep, caller: WebCaller, query: Annotated[KbQuery, Query()]
) -> WebResult[DatasetTaskRow | NoTask]:
    return WebResult(data=dataset_tasks.trace(runtime, caller, query.kb_id, dataset_tasks.MINDMAP))


@router.delete("/unbind_task", summary="Cancel a dataset task and delete its output")
def unbind_task(
    runtime: RuntimeDep, caller: WebCaller, query: Annotated[UnbindQuery, Query()]
) -> WebResult[bool]:
    """Cancel the dataset's queued or running task of the type, and delete RAPTOR's summary
    chunks, the knowledge graph or the mind map."""
    dataset_tasks.unbind(runtime, caller, query.kb_id, TASK_TYPES[query.pipeline_task_type])
    return WebResult(data=True)


@router.get("/{kb_id}/knowledge_graph", summary="Show the dataset's knowledge graph")
def get_knowledge_graph(
    runtime: RuntimeDep, caller: WebCaller, kb_id: Annotated[str, Path()]
) -> WebResult[KnowledgeGraphView]:
    return WebResult(data=knowledge_graph.show(runtime, caller, kb_id))


@router.delete("/{kb_id}/knowledge_graph", summary="Delete the dataset's knowledge graph")
def delete_knowledge_graph(
    runtime: RuntimeDep, caller: WebCaller, kb_id: Annotated[str, Path()]
) -> WebResult[bool]:
    knowledge_graph.remove(runtime, caller, kb_id)
    return WebResult(data=True)
