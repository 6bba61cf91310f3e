"""Documents of a dataset: upload, list, update, download, delete.

Files go to the blob store, rows to the metadata store. An upload writes the files first and the
rows after, removing the files if the rows fail; a delete removes the rows first and the files
after. Either way a failure leaves at worst an orphan file, never a row without its file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ragserve.db.models import Dataset, Document
from ragserve.errors import ArgumentError, BatchError, DataError
from ragserve.rag.metadata_filter import filter_documents
from ragserve.runtime import Runtime
from ragserve.schemas.documents import ListDocuments
from ragserve.services.batch import BatchOutcome, unique_ids
from ragserve.services.datasets import get_visible
from ragserve.services.filetypes import FileType, detect
from ragserve.services.naming import free_name, shortest_stem
from ragserve.services.parser_config import (
    DOCUMENT_CHUNK_METHODS,
    chunk_method_for_upload,
    default_parser_config,
    parser_config_for_document_update,
)
from ragserve.services.tenancy import Caller, get_owned
from ragserve.store.base import ChunkStore
from ragserve.timeutil import new_id
from ragserve.tokenizer import tokenize_to_text

MAX_NAME_BYTES = 255
SNIFF_BYTES = 8192
NAME_ATTEMPTS = 20
READ_ONLY_FIELDS = ("chunk_count", "token_count", "progress")
PRESENTATION_SUFFIXES = frozenset({"ppt", "pptx", "pages"})


@dataclass(frozen=True)
class Upload:
    """One uploaded file: the name the client gave and a readable, seekable file."""

    filename: str
    file: BinaryIO


def visible_dataset(session: Session, caller: Caller, dataset_id: str, message: str) -> Dataset:
    dataset = get_visible(session, caller, dataset_id)
    if dataset is None:
        raise DataError(message)
    return dataset


def clean_filename(filename: str) -> str:
    """The last path component: clients may send ``dir/a.txt`` or ``..\\a.txt``."""
    return filename.replace("\\", "/").rsplit("/", 1)[-1].strip()


def upload_documents(
    runtime: Runtime, caller: Caller, dataset_id: str, uploads: Sequence[Upload]
) -> list[Document]:
    """Store every file and create its document, or store nothing if any file is refused."""
    with runtime.read() as session:
        dataset = visible_dataset(
            session, caller, dataset_id, f"Can't find the dataset with ID {dataset_id}!"
        )
        tenant_id, dataset_method = dataset.tenant_id, dataset.chunk_method
        parser_config, pipeline_id = dataset.parser_config, dataset.pipeline_id
    if not uploads:
        raise ArgumentError("No file part!")
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
            visible_dataset(
                session, caller, dataset_id, f"Can't find the dataset with ID {dataset_id}!"
            )
            for document in documents:
                _insert_with_free_name(session, document)
    except BaseException:
        for document in documents:
            runtime.blobs.delete(document.blob_key)
        raise
    return documents


def _prepare(upload: Upload) -> tuple[str, tuple[FileType, str] | None, str]:
    """(clean name, detected type and suffix, problem or "")."""
    name = clean_filename(upload.filename)
    if name in ("", ".", ".."):
        raise ArgumentError("No file selected!")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise ArgumentError("File name must be 255 bytes or less.")
    head = upload.file.read(SNIFF_BYTES)
    upload.file.seek(0)
    detected = detect(name, head)
    problem = "" if detected else "This type of file has not been supported yet!"
    return name, detected, problem


def _insert_with_free_name(session: Session, document: Document) -> None:
    wanted = document.name
    for _ in range(NAME_ATTEMPTS):
        document.name = _free_name(session, document.dataset_id, wanted)
        try:
            with session.begin_nested():
                session.add(document)
        except IntegrityError:
            continue  # a concurrent upload took the name; try the next one
        return
    raise DataError(f"Could not find a free name for {wanted}")


def _free_name(session: Session, dataset_id: str, name: str) -> str:
    prefix = shortest_stem(name, keep_extension=True, max_bytes=MAX_NAME_BYTES)
    taken = set(
        session.scalars(
            select(Document.name).where(
                Document.dataset_id == dataset_id, Document.name.startswith(prefix, autoescape=True)
            )
        )
    )
    return free_name(name, taken.__contains__, keep_extension=True, max_bytes=MAX_NAME_BYTES)


def list_documents(
    session: Session, caller: Caller, dataset_id: str, query: ListDocuments
) -> tuple[list[Document], int]:
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
        conditions.append(Document.run.in_(query.run))
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
    return list(documents), total


def update_document(
    session: Session,
    chunks: ChunkStore,
    caller: Caller,
    dataset_id: str,
    document_id: str,
    body: dict[str, Any],
) -> Document:
    """Apply RAGFlow's document update (spec 2.2) in its order of checks."""
    if get_owned(session, Dataset, dataset_id, caller) is None:
        raise DataError("You don't own the dataset.")
    document = _document_in(session, dataset_id, document_id)
    if document is None:
        raise DataError("The dataset doesn't own the document.")
    for field_name in READ_ONLY_FIELDS:
        if field_name in body and body[field_name] != getattr(document, field_name):
            raise DataError(f"Can't change `{field_name}`.")
    if "meta_fields" in body:
        if not isinstance(body["meta_fields"], dict):
            raise DataError("meta_fields must be a dictionary")
        document.meta_fields = body["meta_fields"]
    if "name" in body and body["name"] != document.name:
        _rename_document(session, document, body["name"])
        chunks.rename_document(document.id, document.name, tokenize_to_text(document.name))
    if "parser_config" in body:
        if not isinstance(body["parser_config"], dict):
            raise DataError("parser_config must be a dictionary")
        document.parser_config = parser_config_for_document_update(
            document.parser_config, body["parser_config"]
        )
    if "chunk_method" in body and _change_chunk_method(
        document, body["chunk_method"], "parser_config" in body
    ):
        chunks.delete_document(document.id)
    if "enabled" in body:
        enabled = body["enabled"]
        if not isinstance(enabled, bool | int):
            raise ArgumentError("`enabled` must be a boolean.")
        document.status = "1" if enabled else "0"
        chunks.set_available(document.id, bool(enabled))
    session.flush()
    return document


def _document_in(session: Session, dataset_id: str, document_id: str) -> Document | None:
    return session.scalars(
        select(Document).where(Document.id == document_id, Document.dataset_id == dataset_id)
    ).first()


def _rename_document(session: Session, document: Document, name: object) -> None:
    if not isinstance(name, str):
        raise ArgumentError("`name` must be a string.")
    if clean_filename(name) != name:
        raise ArgumentError("File name can't contain '/' or '\\' or surrounding spaces.")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise ArgumentError("File name must be 255 bytes or less.")
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


def _change_chunk_method(document: Document, method: object, config_sent: bool) -> bool:
    """Switch the method; ``True`` when it changed (the old chunks are then stale)."""
    if not isinstance(method, str) or method not in DOCUMENT_CHUNK_METHODS:
        raise DataError(f"`chunk_method` {method} doesn't exist")
    if document.type == FileType.VISUAL or document.suffix in PRESENTATION_SUFFIXES:
        raise DataError("Not supported yet!")
    if method == document.chunk_method:
        return False
    document.chunk_method = method
    document.progress, document.progress_msg, document.run = 0.0, "", "0"
    document.chunk_count, document.token_count = 0, 0
    if not config_sent:
        document.parser_config = parser_config_for_document_update(
            document.parser_config, default_parser_config(method)
        )
    return True


def open_document(
    runtime: Runtime, caller: Caller, dataset_id: str, document_id: str
) -> tuple[Document, Iterator[bytes]]:
    """The document and a stream of its bytes."""
    with runtime.read() as session:
        visible_dataset(session, caller, dataset_id, f"You do not own the dataset {dataset_id}.")
        document = _document_in(session, dataset_id, document_id)
        if document is None:
            raise DataError(f"The dataset not own the document {document_id}.")
    return document, runtime.blobs.open(document.blob_key)


def delete_documents(
    runtime: Runtime, caller: Caller, dataset_id: str, ids: list[str] | None
) -> BatchOutcome:
    """Delete the named documents (``None`` or ``[]``: all) of the dataset, and their files."""
    outcome = BatchOutcome()
    with runtime.transaction() as session:
        visible_dataset(session, caller, dataset_id, f"You don't own the dataset {dataset_id}. ")
        wanted = select(Document).where(Document.dataset_id == dataset_id)
        requested = unique_ids(ids or [], "document", outcome)
        if requested:
            wanted = wanted.where(Document.id.in_(requested))
        documents = list(session.scalars(wanted))
        found = {document.id for document in documents}
        session.execute(delete(Document).where(Document.id.in_(found)))
        outcome.succeeded = len(found)
    for document in documents:
        runtime.chunks.delete_document(document.id)
        runtime.blobs.delete(document.blob_key)
    missing = [i for i in requested if i not in found]
    if missing:
        raise DataError(f"Documents not found: {missing}")
    outcome.raise_if_all_failed()
    return outcome
