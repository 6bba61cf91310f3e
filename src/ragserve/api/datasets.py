"""``/api/v1/datasets``: create, list, update, delete (spec 2.1)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from ragserve.api.body import query_model, strict_body, validate_model
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import api_result
from ragserve.schemas.datasets import (
    CreateDataset,
    DatasetPath,
    DeleteDatasets,
    ListDatasets,
    UpdateDataset,
)
from ragserve.services import datasets
from ragserve.services.datasets import DatasetView
from ragserve.timeutil import rfc1123

router = APIRouter(prefix="/api/v1/datasets", tags=["datasets"])


def dataset_wire(view: DatasetView) -> dict[str, Any]:
    dataset, stats = view.dataset, view.stats
    return {
        "id": dataset.id,
        "avatar": dataset.avatar,
        "tenant_id": dataset.tenant_id,
        "name": dataset.name,
        "language": dataset.language,
        "description": dataset.description,
        "embedding_model": dataset.embedding_model,
        "permission": dataset.permission,
        "created_by": dataset.created_by,
        "document_count": stats.document_count,
        "token_num": stats.token_num,
        "chunk_count": stats.chunk_count,
        "similarity_threshold": dataset.similarity_threshold,
        "vector_similarity_weight": dataset.vector_similarity_weight,
        "chunk_method": dataset.chunk_method,
        "pipeline_id": dataset.pipeline_id,
        "parser_config": dataset.parser_config,
        "pagerank": dataset.pagerank,
        "graphrag_task_id": None,
        "graphrag_task_finish_at": None,
        "raptor_task_id": None,
        "raptor_task_finish_at": None,
        "mindmap_task_id": None,
        "mindmap_task_finish_at": None,
        "status": "1",
        "create_time": dataset.create_time,
        "create_date": rfc1123(dataset.create_date),
        "update_time": dataset.update_time,
        "update_date": rfc1123(dataset.update_date),
    }


@router.post("")
def create_dataset(
    runtime: RuntimeDep,
    caller: ApiCaller,
    request: Annotated[CreateDataset, Depends(strict_body(CreateDataset))],
) -> dict[str, Any]:
    with runtime.transaction() as session:
        view = datasets.create_dataset(session, caller, request, settings=runtime.settings)
        return api_result(dataset_wire(view))


@router.get("")
def list_datasets(
    runtime: RuntimeDep,
    caller: ApiCaller,
    query: Annotated[ListDatasets, Depends(query_model(ListDatasets))],
) -> dict[str, Any]:
    with runtime.read() as session:
        views, total = datasets.list_datasets(session, caller, query)
        body = api_result([dataset_wire(view) for view in views])
    body["total_datasets"] = total
    return body


@router.put("/{dataset_id}")
def update_dataset(
    runtime: RuntimeDep,
    caller: ApiCaller,
    dataset_id: str,
    request: Annotated[UpdateDataset, Depends(strict_body(UpdateDataset))],
) -> dict[str, Any]:
    path = validate_model(DatasetPath, {"dataset_id": dataset_id})
    with runtime.transaction() as session:
        view = datasets.update_dataset(
            session, caller, path.dataset_id, request, settings=runtime.settings
        )
        return api_result(dataset_wire(view))


@router.delete("")
def delete_datasets(
    runtime: RuntimeDep,
    caller: ApiCaller,
    request: Annotated[DeleteDatasets, Depends(strict_body(DeleteDatasets))],
) -> dict[str, Any]:
    datasets.delete_datasets(runtime, caller, request.ids)
    return api_result()
