"""The file manager's folders, as every service that adds or removes files needs them; and
the ``.knowledgebase`` folders where documents uploaded to datasets appear, as in RAGFlow.

Every tenant has one root folder, made the first time it is needed; its id is the tenant's id
(one root per tenant, whoever makes it first) and it is its own parent, named ``/``. A document
uploaded to a dataset appears as a file (``source_type`` ``knowledgebase``, sharing the
document's blob, linked to it) in ``/.knowledgebase/<dataset name>``, a folder whose id is the
dataset's id. Those files go with their documents; the file manager does not delete them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ragserve.db.models import Dataset, Document, File, FileLink
from ragserve.errors import InvalidRequest, RetCode
from ragserve.schemas.files import MAX_NAME_BYTES
from ragserve.services.filetypes import FileType
from ragserve.services.naming import add_with_free_name, free_name_among, truncate_utf8

ROOT_NAME = "/"
KNOWLEDGEBASE_FOLDER = ".knowledgebase"
KNOWLEDGEBASE = "knowledgebase"


def root_folder(session: Session, tenant_id: str, user_id: str) -> File:
    """The tenant's root folder, made now if it is not there yet."""
    root = session.get(File, tenant_id)
    if root is not None:
        return root
    root = File(
        id=tenant_id,
        parent_id=tenant_id,
        tenant_id=tenant_id,
        created_by=user_id,
        name=ROOT_NAME,
        type=FileType.FOLDER,
    )
    try:
        with session.begin_nested():
            session.add(root)
    except IntegrityError:  # made meanwhile by a concurrent request
        found = session.get(File, tenant_id)
        assert found is not None
        return found
    _show_earlier_documents(session, tenant_id)
    return root


def child(session: Session, parent_id: str, name: str) -> File | None:
    return session.scalars(
        select(File).where(File.parent_id == parent_id, File.name == name, File.id != parent_id)
    ).first()


def _free_name(session: Session, parent_id: str, name: str) -> str:
    return free_name_among(session, File.name, File.parent_id == parent_id, name, MAX_NAME_BYTES)


def insert_with_free_name(session: Session, file: File) -> None:
    """Add the file under its name, or the first free ``name(n).ext`` of its folder."""
    add_with_free_name(
        session,
        file,
        lambda name: _free_name(session, file.parent_id, name),
        lambda wanted: InvalidRequest(f"Could not find a free name for {wanted}", RetCode.CONFLICT),
    )


def sub_folder(
    session: Session,
    parent: File,
    name: str,
    user_id: str,
    *,
    folder_id: str | None = None,
    source_type: str = "",
) -> File:
    """The folder ``name`` (or the one with ``folder_id``) in ``parent``, made if missing."""
    existing = session.get(File, folder_id) if folder_id else child(session, parent.id, name)
    if existing is not None:
        if existing.type != FileType.FOLDER:
            raise InvalidRequest(
                f"{name} is a file, not a folder, in {parent.name}.", RetCode.CONFLICT
            )
        return existing
    made = File(
        parent_id=parent.id,
        tenant_id=parent.tenant_id,
        created_by=user_id,
        name=name,
        type=FileType.FOLDER,
        source_type=source_type,
    )
    if folder_id:
        made.id = folder_id
        try:
            insert_with_free_name(session, made)
        except InvalidRequest:  # a concurrent request made it (its id is taken)
            found = session.get(File, folder_id)
            if found is None:
                raise
            return found
        return made
    try:
        with session.begin_nested():
            session.add(made)
    except IntegrityError:  # made meanwhile
        return sub_folder(session, parent, name, user_id, source_type=source_type)
    return made


# --------------------------------------------------------------------------------------------
# dataset documents in the file manager


def dataset_folder(session: Session, dataset: Dataset, user_id: str) -> File:
    """``/.knowledgebase/<dataset name>`` of the dataset's tenant, made if missing."""
    root = root_folder(session, dataset.tenant_id, dataset.tenant_id)
    top = sub_folder(session, root, KNOWLEDGEBASE_FOLDER, user_id, source_type=KNOWLEDGEBASE)
    name = truncate_utf8(dataset.name, MAX_NAME_BYTES) or dataset.id
    return sub_folder(session, top, name, user_id, folder_id=dataset.id, source_type=KNOWLEDGEBASE)


def _show_earlier_documents(session: Session, tenant_id: str) -> None:
    """A new root folder: show the documents the tenant's datasets already hold (uploaded
    before the file manager existed, or before the tenant's root was made), as RAGFlow fills
    ``.knowledgebase`` the first time. Documents made from files are not shown there."""
    for dataset in session.scalars(
        select(Dataset).where(Dataset.tenant_id == tenant_id).order_by(Dataset.create_time)
    ):
        documents = list(
            session.scalars(
                select(Document)
                .where(Document.dataset_id == dataset.id, Document.location.is_(None))
                .order_by(Document.create_time, Document.id)
            )
        )
        add_documents(session, dataset, documents, dataset.created_by)


def add_documents(
    session: Session, dataset: Dataset, documents: Sequence[Document], user_id: str
) -> None:
    """Show newly uploaded documents of the dataset in its ``.knowledgebase`` folder (those
    already shown are skipped)."""
    if not documents:
        return
    folder = dataset_folder(session, dataset, user_id)
    shown = set(
        session.scalars(
            select(FileLink.document_id)
            .join(File, File.id == FileLink.file_id)
            .where(
                FileLink.document_id.in_([document.id for document in documents]),
                File.source_type == KNOWLEDGEBASE,
            )
        )
    )
    for document in documents:
        if document.id in shown:
            continue
        file = File(
            parent_id=folder.id,
            tenant_id=dataset.tenant_id,
            created_by=user_id,
            name=document.name,
            location=document.blob_key,
            size=document.size,
            type=document.type,
            source_type=KNOWLEDGEBASE,
        )
        insert_with_free_name(session, file)
        session.add(FileLink(file_id=file.id, document_id=document.id))


def forget_documents(session: Session, document_ids: Sequence[str]) -> None:
    """Delete the ``.knowledgebase`` files of documents about to be deleted."""
    if not document_ids:
        return
    doomed = select(FileLink.file_id).where(FileLink.document_id.in_(document_ids))
    session.execute(
        delete(File)
        .where(File.id.in_(doomed), File.source_type == KNOWLEDGEBASE)
        .execution_options(synchronize_session=False)
    )


def forget_datasets(session: Session, dataset_ids: Sequence[str]) -> None:
    """Delete the ``.knowledgebase`` folders of datasets about to be deleted (call
    ``forget_documents`` for their documents first)."""
    if dataset_ids:
        session.execute(
            delete(File)
            .where(File.id.in_(dataset_ids), File.source_type == KNOWLEDGEBASE)
            .execution_options(synchronize_session=False)
        )


def rename_dataset_folder(session: Session, dataset_id: str, name: str) -> None:
    """A dataset was renamed: so is its ``.knowledgebase`` folder (numbered if the name is
    taken there)."""
    folder = session.get(File, dataset_id)
    wanted = truncate_utf8(name, MAX_NAME_BYTES) or dataset_id
    if folder is not None and folder.name != wanted:
        folder.name = _free_name(session, folder.parent_id, wanted)


def rename_documents(session: Session, document_id: str, name: str) -> None:
    """A dataset document was renamed: so is its ``.knowledgebase`` file."""
    for file in session.scalars(
        select(File)
        .join(FileLink, FileLink.file_id == File.id)
        .where(FileLink.document_id == document_id, File.source_type == KNOWLEDGEBASE)
    ):
        if file.name != name:
            file.name = _free_name(session, file.parent_id, name)
