"""Datasets (RAGFlow's knowledge bases): create, list, update, delete, with tenant scoping.

Document and chunk counts are never stored on the dataset: they are summed from its documents
when read, so they cannot drift from the rows, whatever runs concurrently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ragserve.db.models import Dataset, Document, StoreSyncAction, TenantRole, UserTenant
from ragserve.domain import Permission, Validity
from ragserve.errors import ArgumentError, AuthenticationError, DataError, PermissionDenied
from ragserve.ingest import dataset_tasks, store_sync
from ragserve.runtime import Runtime
from ragserve.schemas.datasets import CreateDataset, DatasetPublic, ListDatasets, UpdateDataset
from ragserve.services import file_tree
from ragserve.services.auto_keywords import require_chat_model
from ragserve.services.models import check_embedding_model
from ragserve.services.naming import free_name, shortest_stem
from ragserve.services.parser_config import (
    parser_config_for_dataset_update,
    parser_config_for_new_dataset,
)
from ragserve.services.tenancy import Caller, get_owned, owned_by
from ragserve.services.users import owner_tenant
from ragserve.settings import Settings
from ragserve.timeutil import rfc1123

MAX_NAME_BYTES = 128
NO_AUTHORIZATION = "No authorization."
NAME_ATTEMPTS = 20


@dataclass(frozen=True)
class DatasetStats:
    document_count: int = 0
    chunk_count: int = 0
    token_num: int = 0


@dataclass(frozen=True)
class DatasetTaskInfo:
    """The newest dataset-wide task of a type (RAPTOR…): its id and when it finished."""

    id: str
    finish_at: datetime | None


@dataclass(frozen=True)
class DatasetView:
    dataset: Dataset
    stats: DatasetStats
    tasks: Mapping[str, DatasetTaskInfo] = field(default_factory=dict)
    """By task type; filled where the API shows the dataset."""


def task_infos(session: Session, dataset_ids: list[str]) -> dict[str, dict[str, DatasetTaskInfo]]:
    infos: dict[str, dict[str, DatasetTaskInfo]] = {}
    for (dataset_id, task_type), task in dataset_tasks.latest_by_dataset(
        session, dataset_ids
    ).items():
        infos.setdefault(dataset_id, {})[task_type] = DatasetTaskInfo(task.id, task.finish_at)
    return infos


def visible_to(caller: Caller) -> ColumnElement[bool]:
    """The caller's own datasets, and `team` datasets of tenants the caller is a member of."""
    member_of = select(UserTenant.tenant_id).where(
        UserTenant.user_id == caller.user_id, UserTenant.role == TenantRole.NORMAL
    )
    return or_(
        Dataset.tenant_id == caller.tenant_id,
        Dataset.tenant_id.in_(member_of) & (Dataset.permission == Permission.TEAM),
    )


def visible_dataset_ids(session: Session, caller: Caller) -> list[str]:
    """The ids of every dataset the caller may see, newest first (the MCP retrieval tool's
    "all datasets")."""
    return list(
        session.scalars(
            select(Dataset.id)
            .where(visible_to(caller))
            .order_by(Dataset.create_time.desc(), Dataset.id.desc())
        )
    )


def get_visible(session: Session, caller: Caller, dataset_id: str) -> Dataset | None:
    return session.scalars(
        select(Dataset).where(Dataset.id == dataset_id, visible_to(caller))
    ).first()


def dataset_ids_by_name(session: Session, caller: Caller, ids_or_names: Sequence[str]) -> list[str]:
    """Each entry as a dataset id: an id of a dataset the caller sees stays, a name of one
    (ignoring case) becomes its id; anything else stays as given (and is refused later)."""
    wanted = list(dict.fromkeys(ids_or_names))
    if not wanted:
        return []
    rows = session.execute(
        select(Dataset.id, Dataset.name_key).where(
            visible_to(caller),
            or_(Dataset.id.in_(wanted), Dataset.name_key.in_([w.lower() for w in wanted])),
        )
    ).all()
    ids = {row.id for row in rows}
    by_name = {row.name_key: row.id for row in rows if row.id not in wanted}
    return [w if w in ids else by_name.get(w.lower(), w) for w in wanted]


def visible_dataset(session: Session, caller: Caller, dataset_id: str) -> Dataset:
    """The caller's dataset for its RAPTOR, graph and task routes; another tenant's and an
    unknown id look the same (109), as in RAGFlow, where the access check comes first."""
    dataset = get_visible(session, caller, dataset_id)
    if dataset is None:
        raise AuthenticationError(NO_AUTHORIZATION)
    return dataset


def stats_for(session: Session, dataset_ids: Sequence[str]) -> dict[str, DatasetStats]:
    rows = session.execute(
        select(
            Document.dataset_id,
            func.count(Document.id),
            func.coalesce(func.sum(Document.chunk_count), 0),
            func.coalesce(func.sum(Document.token_count), 0),
        )
        .where(Document.dataset_id.in_(dataset_ids))
        .group_by(Document.dataset_id)
    ).all()
    return {row[0]: DatasetStats(int(row[1]), int(row[2]), int(row[3])) for row in rows}


def view(session: Session, dataset: Dataset) -> DatasetView:
    stats = stats_for(session, [dataset.id]).get(dataset.id, DatasetStats())
    return DatasetView(dataset, stats, task_infos(session, [dataset.id]).get(dataset.id, {}))


def create_dataset(
    session: Session, caller: Caller, request: CreateDataset, *, settings: Settings
) -> DatasetView:
    """A new dataset; a name already taken (ignoring case) becomes ``name(1)``, ``name(2)``…"""
    tenant = owner_tenant(session, caller)
    name_bytes = len(request.name.encode())
    if name_bytes > MAX_NAME_BYTES:
        raise DataError(f"Dataset name length is {name_bytes} which is large than {MAX_NAME_BYTES}")
    embedding_model = request.embedding_model or tenant.embd_id
    check_embedding_model(session, settings, tenant.id, embedding_model)
    pipeline_mode = "chunk_method" not in request.model_fields_set and request.pipeline_id
    chunk_method = "naive" if pipeline_mode else request.chunk_method
    parser_config = parser_config_for_new_dataset(
        chunk_method, request.parser_config, tenant.llm_id
    )
    require_chat_model(session, settings, tenant.id, parser_config)
    for _ in range(NAME_ATTEMPTS):
        dataset = Dataset(
            tenant_id=tenant.id,
            name=_free_name(session, tenant.id, request.name),
            avatar=request.avatar,
            description=request.description,
            embedding_model=embedding_model,
            permission=request.permission,
            created_by=caller.user_id,
            chunk_method=chunk_method,
            pipeline_id=request.pipeline_id if pipeline_mode else None,
            parser_config=parser_config,
        )
        dataset.name_key = dataset.name.lower()
        try:
            with session.begin_nested():
                session.add(dataset)
        except IntegrityError:
            continue  # a concurrent request took the name first; pick the next free one
        return DatasetView(dataset, DatasetStats())
    raise DataError("Dataset created failed")


def _free_name(session: Session, tenant_id: str, name: str) -> str:
    prefix = shortest_stem(name, keep_extension=False, max_bytes=None).lower()
    taken = set(
        session.scalars(
            select(Dataset.name_key).where(
                Dataset.tenant_id == tenant_id, Dataset.name_key.startswith(prefix, autoescape=True)
            )
        )
    )
    return free_name(name, lambda candidate: candidate.lower() in taken)


def list_datasets(
    session: Session, caller: Caller, query: ListDatasets
) -> tuple[list[DatasetView], int]:
    """One page of the datasets the caller may see, and how many there are in all."""
    condition = visible_to(caller)
    # Each filter must name a visible dataset by itself; an id and a name of two different
    # datasets then match nothing (code 0 and no datasets, as in RAGFlow).
    filters = []
    if query.id is not None:
        filters.append((query.id, Dataset.id == query.id))
    if query.name is not None:
        filters.append((query.name, Dataset.name_key == query.name.lower()))
    for value, matches in filters:
        if session.scalars(select(Dataset.id).where(visible_to(caller), matches)).first() is None:
            raise _no_permission(caller, value, "dataset")
        condition = condition & matches
    total = session.scalar(select(func.count()).select_from(Dataset).where(condition)) or 0
    column = Dataset.create_time if query.orderby == "create_time" else Dataset.update_time
    order = (column.desc(), Dataset.id.desc()) if query.desc else (column.asc(), Dataset.id.asc())
    datasets = session.scalars(
        select(Dataset)
        .where(condition)
        .order_by(*order)
        .offset((query.page - 1) * query.page_size)
        .limit(query.page_size)
    ).all()
    ids = [dataset.id for dataset in datasets]
    stats, tasks = stats_for(session, ids), task_infos(session, ids)
    views = [DatasetView(d, stats.get(d.id, DatasetStats()), tasks.get(d.id, {})) for d in datasets]
    return views, total


def update_dataset(
    session: Session,
    caller: Caller,
    dataset_id: str,
    request: UpdateDataset,
    *,
    settings: Settings,
) -> DatasetView:
    given = request.model_fields_set
    if not given:
        raise ArgumentError("No properties were modified")
    dataset = get_owned(session, Dataset, dataset_id, caller)
    if dataset is None:
        raise _no_permission(caller, dataset_id, "dataset")
    current = view(session, dataset)
    if request.name is not None and request.name.lower() != dataset.name_key:
        _rename(session, dataset, request.name)
    elif request.name is not None:
        dataset.name = request.name
    if request.embedding_model and request.embedding_model != dataset.embedding_model:
        if current.stats.chunk_count > 0:
            raise DataError(
                f"When chunk_num ({current.stats.chunk_count}) > 0, "
                f"embedding_model must remain {dataset.embedding_model}"
            )
        check_embedding_model(session, settings, dataset.tenant_id, request.embedding_model)
        dataset.embedding_model = request.embedding_model
    new_method = request.chunk_method if "chunk_method" in given else None
    patch = (
        request.parser_config.model_dump(exclude_unset=True)
        if request.parser_config is not None
        else None
    )
    dataset.parser_config = parser_config_for_dataset_update(
        dataset.parser_config, dataset.chunk_method, new_method, patch
    )
    if patch:
        require_chat_model(session, settings, dataset.tenant_id, dataset.parser_config)
    if new_method is not None:
        dataset.chunk_method = new_method
    for name in ("avatar", "description", "permission", "pagerank", "pipeline_id"):
        if name in given:
            setattr(dataset, name, getattr(request, name))
    session.flush()
    return view(session, dataset)


def _rename(session: Session, dataset: Dataset, name: str) -> None:
    error = DataError(f"Dataset name '{name}' already exists")
    taken = session.scalars(
        select(Dataset.id).where(
            Dataset.tenant_id == dataset.tenant_id,
            Dataset.name_key == name.lower(),
            Dataset.id != dataset.id,
        )
    ).first()
    if taken is not None:
        raise error
    dataset.name, dataset.name_key = name, name.lower()
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise error from None
    file_tree.rename_dataset_folder(session, dataset.id, name)


def delete_datasets(runtime: Runtime, caller: Caller, ids: list[str] | None) -> int:
    """Delete the named datasets (``None``: all the caller owns) with their documents and
    files. Any id the caller does not own fails the whole request, and nothing is deleted."""
    with runtime.transaction() as session:
        owned = select(Dataset.id).where(owned_by(Dataset, caller))
        if ids is not None:
            owned = owned.where(Dataset.id.in_(ids))
        found = list(session.scalars(owned))
        missing = [i for i in ids or [] if i not in set(found)]
        if missing:
            raise PermissionDenied(
                f"User '{caller.tenant_id}' lacks permission for datasets: '{', '.join(missing)}'"
            )
        document_ids = list(
            session.scalars(select(Document.id).where(Document.dataset_id.in_(found)))
        )
        for document_id in document_ids:  # what repairs the chunk store if the deletes below fail
            store_sync.record(session, document_id, StoreSyncAction.PURGE)
        file_tree.forget_documents(session, document_ids)
        file_tree.forget_datasets(session, found)
        session.execute(delete(Document).where(Document.dataset_id.in_(found)))
        session.execute(delete(Dataset).where(Dataset.id.in_(found)))
    # Chunks and files go after the rows are gone: a failure leaves orphans, never lost rows.
    for dataset_id in found:
        runtime.chunks.delete_dataset(dataset_id)
        runtime.blobs.delete_prefix(f"{caller.tenant_id}/{dataset_id}")
    with runtime.transaction() as session:  # the datasets' chunks are gone: nothing is pending
        store_sync.forget(session, *document_ids)
    return len(found)


def _no_permission(caller: Caller, what: str | None, kind: str) -> PermissionDenied:
    return PermissionDenied(f"User '{caller.tenant_id}' lacks permission for {kind} '{what}'")


def public(view: DatasetView) -> DatasetPublic:
    """The dataset as RAGFlow shows it."""
    dataset, stats = view.dataset, view.stats
    return DatasetPublic(
        id=dataset.id,
        avatar=dataset.avatar,
        tenant_id=dataset.tenant_id,
        name=dataset.name,
        language=dataset.language,
        description=dataset.description,
        embedding_model=dataset.embedding_model,
        permission=dataset.permission,
        created_by=dataset.created_by,
        document_count=stats.document_count,
        token_num=stats.token_num,
        chunk_count=stats.chunk_count,
        similarity_threshold=dataset.similarity_threshold,
        vector_similarity_weight=dataset.vector_similarity_weight,
        chunk_method=dataset.chunk_method,
        pipeline_id=dataset.pipeline_id,
        parser_config=dataset.parser_config,
        pagerank=dataset.pagerank,
        graphrag_task_id=_task_id(view, "graphrag"),
        graphrag_task_finish_at=_task_finish(view, "graphrag"),
        raptor_task_id=_task_id(view, "raptor"),
        raptor_task_finish_at=_task_finish(view, "raptor"),
        mindmap_task_id=_task_id(view, "mindmap"),
        mindmap_task_finish_at=_task_finish(view, "mindmap"),
        status=Validity.VALID,
        create_time=dataset.create_time,
        create_date=rfc1123(dataset.create_date),
        update_time=dataset.update_time,
        update_date=rfc1123(dataset.update_date),
    )


def _task_id(view: DatasetView, task_type: str) -> str | None:
    task = view.tasks.get(task_type)
    return task.id if task else None


def _task_finish(view: DatasetView, task_type: str) -> str | None:
    task = view.tasks.get(task_type)
    return rfc1123(task.finish_at) if task else None
