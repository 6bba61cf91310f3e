"""Document metadata of a dataset: the key/value summary and batch updates (spec 2.2, 7)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ragserve.db.models import Document
from ragserve.errors import DataError
from ragserve.rag.metadata_ops import (
    apply_metadata_changes,
    select_documents,
    summarize_metadata,
    unknown_document_ids,
)
from ragserve.schemas.metadata import MetadataSummary, MetadataUpdated
from ragserve.schemas.metadata_update import MetadataUpdateRequest
from ragserve.services.documents import visible_dataset
from ragserve.services.tenancy import Caller


def metadata_summary(
    session: Session, caller: Caller, dataset_id: str, document_ids: Sequence[str] | None
) -> MetadataSummary:
    """Per key of the documents' ``meta_fields``: its main type and its values with counts."""
    visible_dataset(session, caller, dataset_id, f"You don't own the dataset {dataset_id}. ")
    query = select(Document.meta_fields).where(Document.dataset_id == dataset_id)
    if document_ids:
        query = query.where(Document.id.in_(document_ids))
    summary = summarize_metadata(meta or {} for meta in session.scalars(query))
    return MetadataSummary.model_validate({"summary": summary})


def update_metadata(
    session: Session, caller: Caller, dataset_id: str, request: MetadataUpdateRequest
) -> MetadataUpdated:
    """Patch the ``meta_fields`` of the selected documents; each changed row is written once."""
    visible_dataset(session, caller, dataset_id, f"You don't own the dataset {dataset_id}. ")
    documents = [
        (document_id, meta or {})
        for document_id, meta in session.execute(
            select(Document.id, Document.meta_fields).where(Document.dataset_id == dataset_id)
        )
    ]
    unknown = unknown_document_ids(request, {document_id for document_id, _ in documents})
    if unknown:
        raise DataError(
            f"These documents do not belong to dataset {dataset_id}: {', '.join(unknown)}"
        )
    targets = set(select_documents(request, documents))
    updated = 0
    for document_id, meta in documents:
        if document_id not in targets:
            continue
        changed = apply_metadata_changes(meta, request.updates, request.deletes)
        if changed is not None:
            session.execute(
                update(Document).where(Document.id == document_id).values(meta_fields=changed)
            )
            updated += 1
    return MetadataUpdated(updated=updated, matched_docs=len(targets))
