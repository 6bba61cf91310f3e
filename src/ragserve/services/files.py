"""The file manager's tree: the root folder, folders, uploads, list, rename, move, download.

Every tenant has one root folder, made the first time it is needed; its id is the tenant's id
(one root per tenant, whoever makes it first) and it is its own parent, named ``/``. A stored
file's bytes are a blob under ``<tenant>/files/<file id>`` (``location``); converting it into
datasets shares that blob (``services/file_links.py``). Uploads write the blobs first and the
rows after, removing the blobs if the rows fail.

Another tenant's ids behave exactly like ids that do not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ragserve.blobs import BlobNotFound, BlobReader
from ragserve.db.models import Dataset, Document, File, FileLink, StoreSyncAction
from ragserve.errors import InvalidRequest, RetCode
from ragserve.ingest import store_sync
from ragserve.runtime import Runtime
from ragserve.schemas.files import (
    FilePage,
    FileRow,
    KbInfo,
    ListedFile,
    ListFiles,
    file_name,
)
from ragserve.services import file_tree
from ragserve.services.documents import SNIFF_BYTES, DocumentFile
from ragserve.services.filetypes import FileType, content_type_for, detect
from ragserve.services.naming import split_extension
from ragserve.services.tenancy import Caller
from ragserve.timeutil import new_id, rfc1123

FILES_SEGMENT = "files"


class UploadedFile(Protocol):
    @property
    def filename(self) -> str | None: ...

    @property
    def file(self) -> BinaryIO: ...


def not_found(message: str) -> InvalidRequest:
    return InvalidRequest(message, RetCode.NOT_FOUND)


def blob_key(tenant_id: str, file_id: str) -> str:
    return f"{tenant_id}/{FILES_SEGMENT}/{file_id}"


# --------------------------------------------------------------------------------------------
# rows


def row(file: File) -> FileRow:
    return FileRow(**_fields(file))


def _fields(file: File) -> dict[str, object]:
    return {
        "id": file.id,
        "parent_id": file.parent_id,
        "tenant_id": file.tenant_id,
        "created_by": file.created_by,
        "name": file.name,
        "location": file.location,
        "size": file.size,
        "type": file.type,
        "source_type": file.source_type,
        "create_time": file.create_time,
        "create_date": rfc1123(file.create_date),
        "update_time": file.update_time,
        "update_date": rfc1123(file.update_date),
    }


def root_folder(session: Session, caller: Caller) -> File:
    """The caller's root folder, made now if it is not there yet."""
    return file_tree.root_folder(session, caller.tenant_id, caller.user_id)


def owned_file(session: Session, caller: Caller, file_id: str | None) -> File | None:
    if not file_id:
        return None
    file = session.get(File, file_id)
    return file if file is not None and file.tenant_id == caller.tenant_id else None


def folder(session: Session, caller: Caller, folder_id: str | None, message: str) -> File:
    """The named folder (absent: the root), or the 404 ``message``."""
    if folder_id is None:
        return root_folder(session, caller)
    found = owned_file(session, caller, folder_id)
    if found is None or found.type != FileType.FOLDER:
        if folder_id == caller.tenant_id:  # the root, not made yet
            return root_folder(session, caller)
        raise not_found(message)
    return found


def is_root(file: File) -> bool:
    return file.parent_id == file.id


def subtree(session: Session, top: File) -> list[File]:
    """``top`` and everything under it, parents before children."""
    found, level = [top], [top.id]
    while level:
        children = list(
            session.scalars(select(File).where(File.parent_id.in_(level), File.id.not_in(level)))
        )
        found.extend(children)
        level = [child.id for child in children if child.type == FileType.FOLDER]
    return found


# --------------------------------------------------------------------------------------------
# create, upload


def create(session: Session, caller: Caller, name: str, parent_id: str | None, kind: str) -> File:
    """A new folder (``kind == "folder"``, compared as RAGFlow does) or virtual file."""
    parent = owned_file(session, caller, parent_id) if parent_id else root_folder(session, caller)
    if parent is None and parent_id == caller.tenant_id:
        parent = root_folder(session, caller)
    if parent is None or parent.type != FileType.FOLDER:
        raise InvalidRequest("Parent Folder Doesn't Exist!", RetCode.BAD_REQUEST)
    conflict = InvalidRequest("Duplicated folder name in the same folder.", RetCode.CONFLICT)
    if file_tree.child(session, parent.id, name) is not None:
        raise conflict
    made = File(
        parent_id=parent.id,
        tenant_id=caller.tenant_id,
        created_by=caller.user_id,
        name=name,
        type=FileType.FOLDER if kind == FileType.FOLDER else FileType.VIRTUAL,
    )
    try:
        with session.begin_nested():
            session.add(made)
    except IntegrityError:
        raise conflict from None
    return made


@dataclass
class _Upload:
    folders: list[str]
    name: str
    source: BinaryIO
    file: File


def split_upload_name(filename: str) -> tuple[list[str], str]:
    """``a/b/c.txt`` → (["a", "b"], "c.txt"), each part a valid name (or 101 / 400)."""
    parts = [part.strip() for part in filename.replace("\\", "/").split("/")]
    parts = [part for part in parts if part and part != "."]
    if not parts:
        raise InvalidRequest("No selected file!", RetCode.BAD_REQUEST)
    if ".." in parts:
        raise InvalidRequest(f"Invalid file name: {filename!r}.", RetCode.ARGUMENT_ERROR)
    for part in parts:
        try:
            file_name(part)
        except ValueError as error:  # the PydanticCustomError's text
            raise InvalidRequest(str(error), RetCode.ARGUMENT_ERROR) from None
    return parts[:-1], parts[-1]


def upload(
    runtime: Runtime, caller: Caller, parent_id: str | None, uploads: Sequence[UploadedFile]
) -> list[FileRow]:
    """Store every file in the folder (sub-paths of the name make sub-folders); a name taken
    gets ``(1)``, ``(2)``…. Any refused name refuses the whole request."""
    if not uploads:
        raise InvalidRequest("No file part!", RetCode.BAD_REQUEST)
    with runtime.transaction() as session:
        folder(session, caller, parent_id, "Can't find this folder!")
    items: list[_Upload] = []
    for uploaded in uploads:
        folders, name = split_upload_name(uploaded.filename or "")
        file_id = new_id()
        head = uploaded.file.read(SNIFF_BYTES)
        uploaded.file.seek(0)
        detected = detect(name, head)
        items.append(
            _Upload(
                folders,
                name,
                uploaded.file,
                File(
                    id=file_id,
                    tenant_id=caller.tenant_id,
                    created_by=caller.user_id,
                    name=name,
                    location=blob_key(caller.tenant_id, file_id),
                    type=detected[0] if detected else FileType.OTHER,
                ),
            )
        )
    stored: list[str] = []
    try:
        for item in items:
            item.file.size = runtime.blobs.put(item.file.location, item.source)
            stored.append(item.file.location)
        with runtime.transaction() as session:
            top = folder(session, caller, parent_id, "Folder not found!")
            for item in items:
                parent = top
                for part in item.folders:
                    parent = file_tree.sub_folder(session, parent, part, caller.user_id)
                item.file.parent_id = parent.id
                file_tree.insert_with_free_name(session, item.file)
            rows = [row(item.file) for item in items]
    except BaseException:
        for key in stored:
            runtime.blobs.delete(key)
        raise
    return rows


# --------------------------------------------------------------------------------------------
# list, ancestors


def list_files(session: Session, caller: Caller, query: ListFiles) -> FilePage:
    parent = folder(session, caller, query.parent_id, "Folder not found!")
    conditions: list[ColumnElement[bool]] = [File.parent_id == parent.id, File.id != parent.id]
    if query.keywords:
        conditions.append(File.name_folded.contains(query.keywords.casefold(), autoescape=True))
    total = session.scalar(select(func.count()).select_from(File).where(*conditions)) or 0
    column = getattr(File, query.orderby)
    order = (column.desc(), File.id.desc()) if query.desc else (column.asc(), File.id.asc())
    files = list(
        session.scalars(
            select(File)
            .where(*conditions)
            .order_by(*order)
            .offset((query.page - 1) * query.page_size)
            .limit(query.page_size)
        )
    )
    infos = kbs_info(session, [file.id for file in files])
    listed = []
    for file in files:
        fields = _fields(file)
        has_child_folder = False
        if file.type == FileType.FOLDER:
            inside = subtree(session, file)
            fields["size"] = sum(item.size for item in inside)
            has_child_folder = any(
                item.parent_id == file.id and item.type == FileType.FOLDER for item in inside
            )
        listed.append(
            ListedFile(**fields, kbs_info=infos.get(file.id, []), has_child_folder=has_child_folder)
        )
    return FilePage(total=total, files=listed, parent_folder=row(parent))


def kbs_info(session: Session, file_ids: list[str]) -> dict[str, list[KbInfo]]:
    """For each file, the dataset documents made from it."""
    found: dict[str, list[KbInfo]] = {}
    if not file_ids:
        return found
    links = session.execute(
        select(FileLink.file_id, Document.id, Dataset.id, Dataset.name)
        .join(Document, Document.id == FileLink.document_id)
        .join(Dataset, Dataset.id == Document.dataset_id)
        .where(FileLink.file_id.in_(file_ids))
        .order_by(FileLink.create_time)
    ).all()
    for file_id, document_id, kb_id, kb_name in links:
        found.setdefault(file_id, []).append(
            KbInfo(kb_id=kb_id, kb_name=kb_name, document_id=document_id)
        )
    return found


def parent_folder(session: Session, caller: Caller, file_id: str) -> File:
    file = owned_file(session, caller, file_id)
    if file is None:
        raise not_found("Folder not found!")
    parent = session.get(File, file.parent_id)
    if parent is None:
        raise not_found("Folder not found!")
    return parent


def ancestors(session: Session, caller: Caller, file_id: str) -> list[File]:
    """The file itself, then its parent, up to the root (RAGFlow's order)."""
    file = owned_file(session, caller, file_id)
    if file is None:
        raise not_found("Folder not found!")
    chain = [file]
    while not is_root(chain[-1]):
        parent = session.get(File, chain[-1].parent_id)
        if parent is None or parent in chain:
            break
        chain.append(parent)
    return chain


# --------------------------------------------------------------------------------------------
# rename, move


def rename(runtime: Runtime, caller: Caller, file_id: str, name: str) -> None:
    """Rename the file and the documents made from it (their chunks follow after the commit)."""
    with runtime.transaction() as session:
        renamed = _rename(session, caller, file_id, name)
        for document_id in renamed:
            store_sync.record(session, document_id, StoreSyncAction.NAME)
    if renamed:
        store_sync.apply(runtime.sessions, runtime.chunks, *renamed)


def _rename(session: Session, caller: Caller, file_id: str, name: str) -> list[str]:
    file = owned_file(session, caller, file_id)
    if file is None:
        raise not_found("File not found!")
    if is_root(file):
        raise InvalidRequest("The root folder can't be renamed.", RetCode.BAD_REQUEST)
    if file.type != FileType.FOLDER and (
        split_extension(name)[1].lower() != split_extension(file.name)[1].lower()
    ):
        raise InvalidRequest("The extension of file can't be changed", RetCode.BAD_REQUEST)
    conflict = InvalidRequest("Duplicated file name in the same folder.", RetCode.CONFLICT)
    taken = file_tree.child(session, file.parent_id, name)
    if taken is not None and taken.id != file.id:
        raise conflict
    file.name = name
    documents = list(
        session.scalars(
            select(Document)
            .join(FileLink, FileLink.document_id == Document.id)
            .where(FileLink.file_id == file.id)
        )
    )
    for document in documents:
        document.name = name
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        if documents:
            raise InvalidRequest(
                "Duplicated document name in the same dataset.", RetCode.CONFLICT
            ) from None
        raise conflict from None
    return [document.id for document in documents]


def move(session: Session, caller: Caller, source_ids: list[str], destination_id: str) -> None:
    destination = owned_file(session, caller, destination_id)
    if destination is None and destination_id == caller.tenant_id:
        destination = root_folder(session, caller)
    if destination is None or destination.type != FileType.FOLDER:
        raise not_found("Parent Folder not found!")
    above = {item.id for item in ancestors(session, caller, destination.id)}
    conflict = InvalidRequest("Duplicated file name in the same folder.", RetCode.CONFLICT)
    for source_id in source_ids:
        source = owned_file(session, caller, source_id)
        if source is None:
            raise not_found("File or Folder not found!")
        if source.source_type == file_tree.KNOWLEDGEBASE:
            raise InvalidRequest(
                "Dataset documents stay in their .knowledgebase folder.", RetCode.BAD_REQUEST
            )
        if is_root(source) or source.id in above:
            raise InvalidRequest(
                "A folder can't be moved into itself or its sub-folders.", RetCode.BAD_REQUEST
            )
        if source.parent_id == destination.id:
            continue
        if file_tree.child(session, destination.id, source.name) is not None:
            raise conflict
        source.parent_id = destination.id
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:
            raise conflict from None


# --------------------------------------------------------------------------------------------
# download


def open_file(runtime: Runtime, caller: Caller, file_id: str) -> DocumentFile:
    with runtime.read() as session:
        file = owned_file(session, caller, file_id)
        if file is None or file.type == FileType.FOLDER:
            raise not_found("Document not found!")
        name, location, size = file.name, file.location, file.size
    if not location:  # a virtual file has no bytes
        location, size = "", 0
    try:
        content = runtime.blobs.open(location) if location else _empty()
    except BlobNotFound:
        raise not_found("Document not found!") from None
    return DocumentFile(name=name, size=size, media_type=content_type_for(name), content=content)


def _empty() -> BlobReader:
    return BlobReader(lambda _size: b"", lambda: None)
