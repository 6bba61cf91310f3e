"""Files and datasets: convert files into documents, delete files with their documents, and
serve agent attachments.

A converted document shares its file's blob (``Document.location``): no bytes are copied, and
deleting the document leaves them to the file. Deleting a file deletes the documents made from
it (as RAGFlow does): their rows go with the files' in one transaction, with the promise to
purge their chunks (``ingest.store_sync``); chunks and blobs go after the commit, so a failure
leaves at worst orphan bytes, never a row without its bytes.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ragserve.blobs import BlobNotFound
from ragserve.blobs.attachments import attachment_key
from ragserve.db.models import Dataset, Document, File, FileLink, StoreSyncAction
from ragserve.errors import InvalidRequest, RetCode
from ragserve.ingest import store_sync
from ragserve.runtime import Runtime
from ragserve.schemas.files import ConvertedFile
from ragserve.services import file_tree
from ragserve.services.documents import SNIFF_BYTES, DocumentFile, insert_with_free_name
from ragserve.services.file_tree import KNOWLEDGEBASE
from ragserve.services.files import is_root, not_found, owned_file, subtree
from ragserve.services.filetypes import FileType, content_type_for, detect
from ragserve.services.parser_config import chunk_method_for_upload
from ragserve.services.tenancy import Caller, get_owned
from ragserve.timeutil import rfc1123

# ``ext`` of an attachment download → Content-Type (else ``application/<ext>``, as RAGFlow)
ATTACHMENT_TYPES = {
    "markdown": "text/markdown",
    "md": "text/markdown",
    "html": "text/html",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "txt": "text/plain",
    "csv": "text/csv",
    "json": "application/json",
}


# --------------------------------------------------------------------------------------------
# convert


def convert(
    runtime: Runtime, caller: Caller, file_ids: list[str], dataset_ids: list[str]
) -> list[ConvertedFile]:
    """Make each file (a folder: every file under it) a document of each dataset, after
    deleting the documents made from it before. The datasets must be the caller's own."""
    with runtime.transaction() as session:
        datasets = []
        for dataset_id in dict.fromkeys(dataset_ids):
            dataset = get_owned(session, Dataset, dataset_id, caller)
            if dataset is None:
                raise not_found("Can't find this dataset!")
            datasets.append(dataset)
        files = _files_to_convert(session, caller, file_ids)
        heads = {file.id: _head(runtime, file) for file in files}
        old = _linked_documents(session, [file.id for file in files])
        _delete_documents(session, old)
        links = []
        for file in files:
            detected = detect(file.name, heads[file.id])
            file_type, suffix = detected if detected else (FileType.OTHER, "")
            for dataset in datasets:
                document = Document(
                    dataset_id=dataset.id,
                    tenant_id=dataset.tenant_id,
                    name=file.name,
                    suffix=suffix,
                    type=file_type,
                    size=file.size,
                    location=file.location,
                    created_by=caller.user_id,
                    chunk_method=chunk_method_for_upload(dataset.chunk_method, file_type, suffix),
                    pipeline_id=dataset.pipeline_id,
                    parser_config=dict(dataset.parser_config),
                )
                insert_with_free_name(session, document)
                link = FileLink(file_id=file.id, document_id=document.id)
                session.add(link)
                links.append(link)
        session.flush()
        result = [_converted(link) for link in links]
    _purge_after_commit(runtime, old)
    return result


def _files_to_convert(session: Session, caller: Caller, file_ids: list[str]) -> list[File]:
    """The named files and the files under the named folders. A named file that cannot be a
    document is refused; one inside a named folder is skipped."""
    found: dict[str, File] = {}
    for file_id in dict.fromkeys(file_ids):
        file = owned_file(session, caller, file_id)
        if file is None:
            raise not_found("Can't find this file!")
        if file.type == FileType.FOLDER:
            for inner in subtree(session, file):
                if _convertible(inner):
                    found.setdefault(inner.id, inner)
        elif _convertible(file):
            found.setdefault(file.id, file)
        elif file.source_type == KNOWLEDGEBASE:
            raise InvalidRequest(
                f"{file.name}: a dataset's document already; convert the file it was made from.",
                RetCode.ARGUMENT_ERROR,
            )
        else:
            raise InvalidRequest(
                f"{file.name}: This type of file has not been supported yet!",
                RetCode.ARGUMENT_ERROR,
            )
    return list(found.values())


def _convertible(file: File) -> bool:
    return (
        bool(file.location)
        and file.type not in (FileType.FOLDER, FileType.OTHER)
        and file.source_type != KNOWLEDGEBASE
    )


def _head(runtime: Runtime, file: File) -> bytes:
    try:
        with runtime.blobs.open(file.location) as chunks:
            return next(chunks, b"")[:SNIFF_BYTES]
    except BlobNotFound:
        raise not_found("Can't find this file!") from None


def _converted(link: FileLink) -> ConvertedFile:
    return ConvertedFile(
        id=link.id,
        file_id=link.file_id,
        document_id=link.document_id,
        create_time=link.create_time,
        create_date=rfc1123(link.create_date),
        update_time=link.update_time,
        update_date=rfc1123(link.update_date),
    )


# --------------------------------------------------------------------------------------------
# documents made from files


def _linked_documents(session: Session, file_ids: list[str]) -> list[Document]:
    if not file_ids:
        return []
    return list(
        session.scalars(
            select(Document)
            .join(FileLink, FileLink.document_id == Document.id)
            .where(FileLink.file_id.in_(file_ids))
        ).unique()
    )


def _delete_documents(session: Session, documents: list[Document]) -> None:
    """Delete the rows (their links go with them) with the promise to purge their chunks."""
    ids = [document.id for document in documents]
    if not ids:
        return
    file_tree.forget_documents(session, ids)
    session.execute(delete(FileLink).where(FileLink.document_id.in_(ids)))
    session.execute(delete(Document).where(Document.id.in_(ids)))
    for document_id in ids:
        store_sync.record(session, document_id, StoreSyncAction.PURGE)


def _purge_after_commit(runtime: Runtime, documents: list[Document]) -> None:
    try:
        store_sync.apply(runtime.sessions, runtime.chunks, *(d.id for d in documents))
    finally:  # a failed purge stays pending for the repair; the owned files go anyway
        for document in documents:
            if document.owns_blob:
                runtime.blobs.delete(document.blob_key)


# --------------------------------------------------------------------------------------------
# remove


def remove(runtime: Runtime, caller: Caller, file_ids: list[str]) -> None:
    """Delete the files and folders (with everything under them) and the documents made from
    them. An unknown id refuses the request before anything is deleted."""
    with runtime.transaction() as session:
        doomed: dict[str, File] = {}
        for file_id in dict.fromkeys(file_ids):
            file = owned_file(session, caller, file_id)
            if file is None:
                raise not_found("File or Folder not found!")
            if is_root(file):
                raise InvalidRequest("The root folder can't be removed.", RetCode.BAD_REQUEST)
            for inner in subtree(session, file):
                if inner.source_type != KNOWLEDGEBASE:  # they go with their documents
                    doomed.setdefault(inner.id, inner)
        documents = _linked_documents(session, list(doomed))
        _delete_documents(session, documents)
        locations = [file.location for file in doomed.values() if file.location]
        session.execute(delete(File).where(File.id.in_(list(doomed))))
    try:
        _purge_after_commit(runtime, documents)
    finally:
        for location in locations:
            runtime.blobs.delete(location)


def unlink(runtime: Runtime, caller: Caller, file_ids: list[str]) -> None:
    """Delete the documents made from the files (the files stay): RAGFlow's
    ``/v1/file2document/rm``. A file without documents refuses the request."""
    if not file_ids:
        raise InvalidRequest('Lack of "Files ID"', RetCode.ARGUMENT_ERROR, data=False)
    with runtime.transaction() as session:
        documents: list[Document] = []
        for file_id in dict.fromkeys(file_ids):
            file = owned_file(session, caller, file_id)
            linked = _linked_documents(session, [file.id]) if file is not None else []
            if not linked:
                raise InvalidRequest("Inform not found!", RetCode.DATA_ERROR)
            documents += linked
        _delete_documents(session, documents)
    _purge_after_commit(runtime, documents)


# --------------------------------------------------------------------------------------------
# agent attachments


def open_attachment(runtime: Runtime, caller: Caller, attachment_id: str, ext: str) -> DocumentFile:
    """An attachment an agent run of the caller's tenant stored (``blobs.attachments``)."""
    key = attachment_key(caller.tenant_id, attachment_id)
    missing = not_found("Attachment not found!")
    if key is None:
        raise missing
    try:
        size = runtime.blobs.size(key)
        content = runtime.blobs.open(key)
    except BlobNotFound:
        raise missing from None
    extension = ext.strip().lower().lstrip(".") or "markdown"
    media_type = ATTACHMENT_TYPES.get(extension) or content_type_for(f"a.{extension}")
    name = f"{attachment_id}.{'md' if extension == 'markdown' else extension}"
    return DocumentFile(name=name, size=size, media_type=media_type, content=content)
