"""Documents of a dataset: upload, list, update, download, delete.

Files go to the blob store, rows to the metadata store. An upload writes the files first and the
rows after, removing the files if the rows fail; a delete removes the rows first and the files
after. Either way a failure leaves at worst an orphan file, never a row without its file.

What the chunk store must do about a change (rename, enable or disable, a new chunk method, a
delete) is committed with the change and applied after the commit (``ingest.store_sync``): a
failure on either side never leaves the two stores disagreeing once the change is applied again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ragserve.blobs import BlobReader
from ragserve.db.models import Dataset, Document, StoreSyncAction
from ragserve.domain import RunState, Validity
from ragserve.errors import ArgumentError, BatchError, DataError
from ragserve.ingest import store_sync
from ragserve.rag.metadata_filter import filter_documents
from ragserve.runtime import Runtime
from ragserve.schemas.documents import (
    MAX_NAME_BYTES,
    READ_ONLY_FIELDS,
    RUN_NAMES,
    DocumentPage,
    DocumentPublic,
    ListDocuments,
    ListedDocument,
    UpdateDocument,
    UploadedDocument,
    clean_filename,
)
from ragserve.services import file_tree
from ragserve.services.auto_keywords import require_chat_model
from ragserve.services.batch import BatchOutcome, unique_ids
from ragserve.services.datasets import get_visible
from ragserve.services.filetypes import FileType, content_type_for, detect
from ragserve.services.naming import add_with_free_name, free_name_among
from ragserve.services.parser_config import (
    chunk_method_for_upload,
    default_parser_config,
    parser_config_for_document_update,
)
from ragserve.services.tenancy import Caller, get_owned
from ragserve.timeutil import new_id, rfc1123

SNIFF_BYTES = 8192
PRESENTATION_SUFFIXES = frozenset({"ppt", "pptx", "pages"})


class UploadedFile(Protocol):
    """One uploaded file: the name the client gave and a readable, seekable file."""

    @property
    def filename(self) -> str | None: ...

    @property
    def file(self) -> BinaryIO: ...


@dataclass(frozen=True)
class DocumentFile:
    """A document's stored bytes, with what a download needs to describe them."""

    name: str
    size: int
    media_type: str
    content: BlobReader


def visible_dataset(session: Session, caller: Caller, dataset_id: str, message: str) -> Dataset:
    dataset = get_visible(session, caller, dataset_id)
    if dataset is None:
        raise DataError(message)
    return dataset


# --------------------------------------------------------------------------------------------
# what the API shows


def public(document: Document, *, raw_unknown_run: bool = False) -> DocumentPublic:
    """The document as RAGFlow shows it; an unknown ``run`` is shown raw by the list only."""
    return DocumentPublic(**_public_fields(document, raw_unknown_run=raw_unknown_run))


def listed(document: Document) -> ListedDocument:
    """The document as the list shows it."""
    return ListedDocument(**_public_fields(document, raw_unknown_run=True), title=None)


def uploaded(document: Document) -> UploadedDocument:
    """The document as the upload answer shows it."""
    fields = _public_fields(document)
    return UploadedDocument(**{key: fields[key] for key in UploadedDocument.model_fields})


def _public_fields(document: Document, *, raw_unknown_run: bool = False) -> dict[str, object]:
    fallback = document.run if raw_unknown_run else None
    return {
        "id": document.id,
        "thumbnail": document.thumbnail,
        "dataset_id": document.dataset_id,
        "chunk_method": document.chunk_method,
        "pipeline_id": document.pipeline_id,
        "parser_config": document.parser_config,
        "source_type": document.source_type,
        "type": document.type,
        "created_by": document.created_by,
        "name": document.name,
        "location": document.name,
        "size": document.size,
        "token_count": document.token_count,
        "chunk_count": document.chunk_count,
        "progress": document.progress,
        "progress_msg": document.progress_msg,
        "process_begin_at": rfc1123(document.process_begin_at),
        "process_duration": document.process_duration,
        "meta_fields": document.meta_fields,
        "suffix": document.suffix,
        "run": RUN_NAMES.get(document.run, fallback),
        "status": document.status,
        "create_time": document.create_time,
        "create_date": rfc1123(document.create_date),
        "update_time": document.update_time,
        "update_date": rfc1123(document.update_date),
    }


# --------------------------------------------------------------------------------------------
# upload


def upload_documents(
    runtime: Runtime, caller: Caller, dataset_id: str, uploads: Sequence[UploadedFile]
) -> list[UploadedDocument]:
    """Store every file and create its document, or store nothing if any file is refused.
    The request model has checked that there are files and that their names are usable
    (``schemas.documents.uploaded_files``)."""
    with runtime.read() as session:
        dataset = visible_dataset(
            session, caller, dataset_id, f"Can't find the dataset with ID {dataset_id}!"
        )
        tenant_id, dataset_method = dataset.tenant_id, dataset.chunk_method
        parser_config, pipeline_id = dataset.parser_config, dataset.pipeline_id
    prepared = [_prepare(upload) for upload in uploads]
    refused = [f"{name}: {problem}" for name, _, problem in prepared if problem]
    if refused:
        raise BatchError("\n".join(refused))
    documents: list[Document] = []
    try:
        for (name, detected, _), upload in zip(prepared, uploads, strict=True):
            assert detected is not None
            file_type, suffix = detected
            document = Document(
                id=new_id(),
                dataset_id=dataset_id,
                tenant_id=tenant_id,
                name=name,
                suffix=suffix,
                type=file_type,
                created_by=caller.user_id,
                chunk_method=chunk_method_for_upload(dataset_method, file_type, suffix),
                pipeline_id=pipeline_id,
                parser_config=dict(parser_config),
            )
            document.size = runtime.blobs.put(document.blob_key, upload.file)
            documents.append(document)
        with runtime.transaction() as session:
            target = visible_dataset(
                session, caller, dataset_id, f"Can't find the dataset with ID {dataset_id}!"
            )
            for document in documents:
                insert_with_free_name(session, document)
            file_tree.add_documents(session, target, documents, caller.user_id)
    except BaseException:
        for document in documents:
            runtime.blobs.delete(document.blob_key)
        raise
    return [uploaded(document) for document in documents]


def _prepare(upload: UploadedFile) -> tuple[str, tuple[FileType, str] | None, str]:
    """(clean name, detected type and suffix, problem or "")."""
    name = clean_filename(upload.filename or "")
    head = upload.file.read(SNIFF_BYTES)
    upload.file.seek(0)
    detected = detect(name, head)
    problem = "" if detected else "This type of file has not been supported yet!"
    return name, detected, problem


def insert_with_free_name(session: Session, document: Document) -> None:
    """Add the document under its name, or the first free ``name(n).ext`` of its dataset."""
    in_dataset = Document.dataset_id == document.dataset_id
    add_with_free_name(
        session,
        document,
        lambda name: free_name_among(session, Document.name, in_dataset, name, MAX_NAME_BYTES),
        lambda wanted: DataError(f"Could not find a free name for {wanted}"),
    )


# --------------------------------------------------------------------------------------------
# list


def list_documents(
    session: Session, caller: Caller, dataset_id: str, query: ListDocuments
) -> DocumentPage:
    """One page of the dataset's documents that pass the query's filters."""
    visible_dataset(session, caller, dataset_id, f"You don't own the dataset {dataset_id}. ")
    conditions: list[ColumnElement[bool]] = [Document.dataset_id == dataset_id]
    for column, wanted in ((Document.id, query.id), (Document.name, query.name)):
        if wanted is None:
            continue
        conditions.append(column == wanted)
        if session.scalar(select(Document.id).where(conditions[0], column == wanted)) is None:
            raise DataError(f"You don't own the document {wanted}.")
    if query.keywords:
        conditions.append(Document.name_folded.contains(query.keywords.casefold(), autoescape=True))
    if query.suffix:
        conditions.append(Document.suffix.in_([suffix.lower() for suffix in query.suffix]))
    if query.run:
        conditions.append(Document.run.in_([state.value for state in query.run]))
    if query.create_time_from:
        conditions.append(Document.create_time >= query.create_time_from)
    if query.create_time_to:
        conditions.append(Document.create_time <= query.create_time_to)
    if query.metadata_condition is not None and query.metadata_condition.conditions:
        all_meta = session.execute(
            select(Document.id, Document.meta_fields).where(Document.dataset_id == dataset_id)
        ).all()
        matching = filter_documents(query.metadata_condition, [(i, m or {}) for i, m in all_meta])
        conditions.append(Document.id.in_(matching))
    total = session.scalar(select(func.count()).select_from(Document).where(*conditions)) or 0
    column = getattr(Document, query.orderby)
    order = (column.desc(), Document.id.desc()) if query.desc else (column.asc(), Document.id.asc())
    documents = session.scalars(
        select(Document)
        .where(*conditions)
        .order_by(*order)
        .offset((query.page - 1) * query.page_size)
        .limit(query.page_size)
    ).all()
    return DocumentPage(total=total, docs=[listed(document) for document in documents])


# --------------------------------------------------------------------------------------------
# update


def update_document(
    runtime: Runtime,
    caller: Caller,
    dataset_id: str,
    document_id: str,
    request: UpdateDocument,
) -> DocumentPublic:
    """Apply RAGFlow's document update (spec 2.2) in its order of checks; the chunk store
    follows after the commit."""
    with runtime.transaction() as session:
        if get_owned(session, Dataset, dataset_id, caller) is None:
            raise DataError("You don't own the dataset.")
        document = document_in(session, dataset_id, document_id)
        if document is None:
            raise DataError("The dataset doesn't own the document.")
        actions = _update(session, document, request)
        if request.parser_config is not None:
            require_chat_model(
                session, runtime.settings, document.tenant_id, document.parser_config
            )
        store_sync.record(session, document.id, *actions)
        pending = store_sync.is_pending(session, document.id)
        session.flush()
        result = public(document)
    if pending:
        store_sync.apply(runtime.sessions, runtime.chunks, document_id)
    return result


def _update(session: Session, document: Document, request: UpdateDocument) -> list[StoreSyncAction]:
    """Change the document's row; what its chunks must follow."""
    actions: list[StoreSyncAction] = []
    given = request.model_fields_set
    for field_name in READ_ONLY_FIELDS:
        if field_name in given and getattr(request, field_name) != getattr(document, field_name):
            raise DataError(f"Can't change `{field_name}`.")
    if request.meta_fields is not None:
        document.meta_fields = request.meta_fields
    if request.name is not None and request.name != document.name:
        _rename(session, document, request.name)
        actions.append(StoreSyncAction.NAME)
    if request.parser_config is not None:
        document.parser_config = parser_config_for_document_update(
            document.parser_config, request.parser_config
        )
    if request.chunk_method is not None and _change_chunk_method(
        document, request.chunk_method, config_sent=request.parser_config is not None
    ):
        actions.append(StoreSyncAction.PURGE)
    if request.enabled is not None:
        document.status = Validity.VALID if request.enabled else Validity.INVALID
        actions.append(StoreSyncAction.AVAILABILITY)
    return actions


def document_in(session: Session, dataset_id: str, document_id: str) -> Document | None:
    return session.scalars(
        select(Document).where(Document.id == document_id, Document.dataset_id == dataset_id)
    ).first()


def _rename(session: Session, document: Document, name: str) -> None:
    old_extension = document.name.rpartition(".")[2].lower() if "." in document.name else ""
    new_extension = name.rpartition(".")[2].lower() if "." in name else ""
    if not name or new_extension != old_extension:
        raise ArgumentError("The extension of file can't be changed")
    error = DataError("Duplicated document name in the same dataset.")
    taken = session.scalars(
        select(Document.id).where(
            Document.dataset_id == document.dataset_id,
            Document.name == name,
            Document.id != document.id,
        )
    ).first()
    if taken is not None:
        raise error
    document.name = name
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise error from None
    file_tree.rename_documents(session, document.id, name)


def _change_chunk_method(document: Document, method: str, *, config_sent: bool) -> bool:
    """Switch the method; ``True`` when it changed (the old chunks are then stale)."""
    if document.type == FileType.VISUAL or document.suffix in PRESENTATION_SUFFIXES:
        raise DataError("Not supported yet!")
    if method == document.chunk_method:
        return False
    document.chunk_method = method
    document.progress, document.progress_msg, document.run = 0.0, "", RunState.UNSTART
    document.chunk_count, document.token_count = 0, 0
    if not config_sent:
        document.parser_config = parser_config_for_document_update(
            document.parser_config, default_parser_config(method)
        )
    return True


# --------------------------------------------------------------------------------------------
# download


def open_document(
    runtime: Runtime, caller: Caller, dataset_id: str, document_id: str
) -> DocumentFile:
    """The document's bytes as a stream, with its name, size and media type."""
    with runtime.read() as session:
        visible_dataset(session, caller, dataset_id, f"You do not own the dataset {dataset_id}.")
        document = document_in(session, dataset_id, document_id)
        if document is None:
            raise DataError(f"The dataset not own the document {document_id}.")
    return DocumentFile(
        name=document.name,
        size=document.size,
        media_type=content_type_for(document.name),
        content=runtime.blobs.open(document.blob_key),
    )


# --------------------------------------------------------------------------------------------
# delete


def delete_documents(
    runtime: Runtime, caller: Caller, dataset_id: str, ids: list[str] | None
) -> BatchOutcome:
    """Delete the named documents (``None`` or ``[]``: all) of the dataset, their chunks and
    their files. The rows go first with the promise to purge their chunks; the chunks and the
    files after the commit."""
    outcome = BatchOutcome()
    with runtime.transaction() as session:
        visible_dataset(session, caller, dataset_id, f"You don't own the dataset {dataset_id}. ")
        wanted = select(Document).where(Document.dataset_id == dataset_id)
        requested = unique_ids(ids or [], "document", outcome)
        if requested:
            wanted = wanted.where(Document.id.in_(requested))
        documents = list(session.scalars(wanted))
        found = {document.id for document in documents}
        file_tree.forget_documents(session, list(found))
        session.execute(delete(Document).where(Document.id.in_(found)))
        for document in documents:
            store_sync.record(session, document.id, StoreSyncAction.PURGE)
        outcome.succeeded = len(found)
    try:
        store_sync.apply(runtime.sessions, runtime.chunks, *found)
    finally:  # a failed purge stays pending for the repair; the files go anyway
        for document in documents:
            if document.owns_blob:  # a converted file's bytes stay with the file
                runtime.blobs.delete(document.blob_key)
    missing = [i for i in requested if i not in found]
    if missing:
        raise DataError(f"Documents not found: {missing}")
    outcome.raise_if_all_failed()
    return outcome
