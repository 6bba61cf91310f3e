"""The early RAGFlow API (spec ragflow-more.md E) over today's services.

Nothing here decides anything of its own: names are resolved to ids among what the caller may
see (the caller's own datasets first), and the work is done by ``services.datasets``,
``documents``, ``parsing`` and ``chunks``, whose answers are renamed to the old fields.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from ragserve.db.models import Dataset, Document
from ragserve.errors import ArgumentError, DataError
from ragserve.runtime import Runtime
from ragserve.schemas.chunks import ListChunks
from ragserve.schemas.common import MAX_PAGE_SIZE
from ragserve.schemas.datasets import CreateDataset, DatasetPublic, ListDatasets
from ragserve.schemas.documents import ListDocuments, UpdateDocument
from ragserve.schemas.early import (
    EARLY_CHUNK_METHODS,
    EarlyChunk,
    EarlyDataset,
    EarlyDocument,
    KbDoc,
    KbDocPage,
    ListKbDocs,
)
from ragserve.services import chunks, datasets, documents, parsing
from ragserve.services.documents import DocumentFile, UploadedFile
from ragserve.services.tenancy import Caller
from ragserve.timeutil import rfc1123

NO_DATASET = "Can't find this knowledgebase!"
NO_DOCUMENT = "Can't find this document!"
CHUNKS_LISTED = 10_000
"""The early list of chunks had no paging; this many are listed at most."""


# --------------------------------------------------------------------------------------------
# datasets


def create_dataset(session: Session, caller: Caller, name: str, *, runtime: Runtime) -> str:
    """The new dataset's name (today's rule: a taken name gets ``(1)``, ``(2)``…)."""
    view = datasets.create_dataset(
        session, caller, CreateDataset(name=name), settings=runtime.settings
    )
    return view.dataset.name


def list_datasets(session: Session, caller: Caller) -> list[EarlyDataset]:
    """Every dataset the caller may see, newest first, with the old field names."""
    views, _ = datasets.list_datasets(session, caller, ListDatasets(page_size=MAX_PAGE_SIZE))
    return [_dataset(datasets.public(view)) for view in views]


def _dataset(public: DatasetPublic) -> EarlyDataset:
    return EarlyDataset(
        id=public.id,
        name=public.name,
        avatar=public.avatar,
        description=public.description,
        language=public.language,
        tenant_id=public.tenant_id,
        created_by=public.created_by,
        permission=public.permission,
        embd_id=public.embedding_model,
        parser_id=public.chunk_method,
        parser_config=dict(public.parser_config),
        doc_num=public.document_count,
        chunk_num=public.chunk_count,
        token_num=public.token_num,
        similarity_threshold=public.similarity_threshold,
        vector_similarity_weight=public.vector_similarity_weight,
        status=public.status,
        create_time=public.create_time,
        create_date=public.create_date,
        update_time=public.update_time,
        update_date=public.update_date,
    )


def delete_dataset(runtime: Runtime, caller: Caller, dataset_id: str) -> None:
    datasets.delete_datasets(runtime, caller, [dataset_id])


def dataset_named(session: Session, caller: Caller, name: str) -> Dataset:
    """The visible dataset with this name (ignoring case), the caller's own before a team's."""
    dataset = session.scalars(
        select(Dataset)
        .where(Dataset.name_key == name.strip().lower(), datasets.visible_to(caller))
        .order_by(case((Dataset.tenant_id == caller.tenant_id, 0), else_=1), Dataset.id)
    ).first()
    if dataset is None:
        raise DataError(NO_DATASET)
    return dataset


# --------------------------------------------------------------------------------------------
# documents


def find_document(
    session: Session, caller: Caller, *, doc_id: str | None = None, doc_name: str | None = None
) -> Document:
    """A document of a dataset the caller may see, by id or else by name (the newest of that
    name, in the caller's own datasets first)."""
    wanted = select(Document).join(Dataset, Dataset.id == Document.dataset_id)
    wanted = wanted.where(datasets.visible_to(caller))
    if doc_id:
        wanted = wanted.where(Document.id == doc_id)
    else:
        wanted = wanted.where(Document.name == doc_name)
    own_first = case((Dataset.tenant_id == caller.tenant_id, 0), else_=1)
    document = session.scalars(
        wanted.order_by(own_first, Document.create_time.desc(), Document.id)
    ).first()
    if document is None:
        raise DataError(NO_DOCUMENT)
    return document


def document_row(document: Document) -> EarlyDocument:
    """The document with the old field names."""
    return EarlyDocument(
        id=document.id,
        kb_id=document.dataset_id,
        name=document.name,
        location=document.name,
        size=document.size,
        type=document.type,
        thumbnail=document.thumbnail,
        source_type=document.source_type,
        created_by=document.created_by,
        parser_id=document.chunk_method,
        parser_config=dict(document.parser_config),
        chunk_num=document.chunk_count,
        token_num=document.token_count,
        progress=document.progress,
        progress_msg=document.progress_msg,
        process_begin_at=rfc1123(document.process_begin_at),
        process_duation=document.process_duration,
        run=document.run,
        status=document.status,
        create_time=document.create_time,
        create_date=rfc1123(document.create_date) or "",
        update_time=document.update_time,
        update_date=rfc1123(document.update_date) or "",
    )


def upload(
    runtime: Runtime,
    caller: Caller,
    upload_file: UploadedFile | None,
    *,
    kb_name: str | None,
    parser_id: str | None,
    run: str | None,
) -> EarlyDocument:
    """Upload one file to the named dataset, give it ``parser_id`` and parse it when ``run``
    is ``"1"``: today's upload, update and parse, one after the other."""
    if upload_file is None or not upload_file.filename:
        raise ArgumentError("No file part!")
    if kb_name is None or not kb_name.strip():
        raise ArgumentError("required argument are missing: kb_name; ")
    if parser_id is not None and parser_id not in EARLY_CHUNK_METHODS:
        raise ArgumentError(
            f"parser_id must be one of {', '.join(EARLY_CHUNK_METHODS)}, not '{parser_id}'"
        )
    with runtime.read() as session:
        dataset = dataset_named(session, caller, kb_name)
        dataset_id, owner = dataset.id, dataset.tenant_id
    if parser_id is not None and owner != caller.tenant_id:
        # today's document update is the owner's: refused before anything is stored
        raise DataError("You don't own the dataset.")
    (stored,) = documents.upload_documents(runtime, caller, dataset_id, [upload_file])
    if parser_id is not None:
        method = "naive" if parser_id == "general" else parser_id
        documents.update_document(
            runtime, caller, dataset_id, stored.id, UpdateDocument(chunk_method=method)
        )
    if run == "1":
        parsing.start_parsing(runtime, caller, dataset_id, [stored.id]).raise_if_all_failed()
    with runtime.read() as session:
        return document_row(find_document(session, caller, doc_id=stored.id))


def list_kb_documents(session: Session, caller: Caller, request: ListKbDocs) -> KbDocPage:
    dataset = dataset_named(session, caller, request.kb_name)
    query = ListDocuments(
        page=request.page,
        page_size=request.page_size,
        orderby=request.orderby,
        desc=request.desc,
        keywords=request.keywords or None,
    )
    page = documents.list_documents(session, caller, dataset.id, query)
    return KbDocPage(
        docs=[KbDoc(doc_id=doc.id, doc_name=doc.name) for doc in page.docs], total=page.total
    )


def delete_documents(
    runtime: Runtime, caller: Caller, *, doc_ids: list[str] | None, doc_names: list[str] | None
) -> None:
    """Delete each named document (ids win over names); one not found refuses them all."""
    by_dataset: dict[str, list[str]] = defaultdict(list)
    with runtime.read() as session:
        if doc_ids:
            found = [find_document(session, caller, doc_id=doc_id) for doc_id in doc_ids]
        else:
            found = [find_document(session, caller, doc_name=name) for name in doc_names or []]
        for document in found:
            by_dataset[document.dataset_id].append(document.id)
    for dataset_id, ids in by_dataset.items():
        documents.delete_documents(runtime, caller, dataset_id, ids)


def open_document(runtime: Runtime, caller: Caller, document_id: str) -> DocumentFile:
    with runtime.read() as session:
        dataset_id = find_document(session, caller, doc_id=document_id).dataset_id
    return documents.open_document(runtime, caller, dataset_id, document_id)


# --------------------------------------------------------------------------------------------
# chunks


def list_chunks(
    runtime: Runtime, caller: Caller, *, doc_id: str | None, doc_name: str | None
) -> list[EarlyChunk]:
    """The document's chunks in order: content, document name and image id."""
    with runtime.read() as session:
        document = find_document(session, caller, doc_id=doc_id, doc_name=doc_name)
        dataset_id, document_id = document.dataset_id, document.id
    page = chunks.list_chunks(
        runtime, caller, dataset_id, document_id, ListChunks(page_size=CHUNKS_LISTED)
    )
    return [
        EarlyChunk(content=chunk.content, doc_name=chunk.docnm_kwd, img_id=chunk.image_id or "")
        for chunk in page.chunks
    ]
