"""The file manager's web twins, ``/v1/file/*`` and ``/v1/file2document/*`` (RAGFlow's
``file_app.py`` and ``file2document_app.py``): the routes of ``api/files.py`` for a web login,
with the same bodies and answers, plus ``file2document/rm``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Form, Path, Query
from fastapi.responses import StreamingResponse

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import RuntimeDep, WebCaller
from ragserve.api.envelope import WebResult, file_download
from ragserve.api.files import DOWNLOAD, MAX_FILES_PER_REQUEST, Files
from ragserve.schemas.files import (
    ConvertedFile,
    ConvertFiles,
    CreateFile,
    FileIdQuery,
    FilePage,
    FileRow,
    ListFiles,
    MoveFiles,
    ParentFolder,
    ParentFolders,
    RemoveFiles,
    RenameFile,
    RootFolder,
)
from ragserve.services import file_links, files

router = APIRouter(prefix="/v1/file", tags=["files (web)"], route_class=RagflowRoute)
links_router = APIRouter(prefix="/v1/file2document", tags=["files (web)"], route_class=RagflowRoute)


@router.post(
    "/upload",
    summary="Upload files",
    form_limits={"max_files": MAX_FILES_PER_REQUEST, "max_fields": MAX_FILES_PER_REQUEST + 10},
)
def upload(
    runtime: RuntimeDep,
    caller: WebCaller,
    file: Files,
    parent_id: Annotated[str | None, Form(description="The folder; the root if absent.")] = None,
) -> WebResult[list[FileRow]]:
    """`POST /api/v1/file/upload` for a web login."""
    return WebResult(data=files.upload(runtime, caller, parent_id or None, file))


@router.post("/create", summary="Create a folder or a virtual file")
def create(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[CreateFile, Body()]
) -> WebResult[FileRow]:
    with runtime.transaction() as session:
        made = files.create(session, caller, request.name, request.parent_id, request.type or "")
        return WebResult(data=files.row(made))


@router.get("/list", summary="List a folder")
def list_files(
    runtime: RuntimeDep, caller: WebCaller, query: Annotated[ListFiles, Query()]
) -> WebResult[FilePage]:
    with runtime.transaction() as session:
        return WebResult(data=files.list_files(session, caller, query))


@router.get("/root_folder", summary="The root folder")
def root_folder(runtime: RuntimeDep, caller: WebCaller) -> WebResult[RootFolder]:
    with runtime.transaction() as session:
        return WebResult(data=RootFolder(root_folder=files.row(files.root_folder(session, caller))))


@router.get("/parent_folder", summary="The folder of a file")
def parent_folder(
    runtime: RuntimeDep, caller: WebCaller, query: Annotated[FileIdQuery, Query()]
) -> WebResult[ParentFolder]:
    with runtime.read() as session:
        parent = files.parent_folder(session, caller, query.file_id)
        return WebResult(data=ParentFolder(parent_folder=files.row(parent)))


@router.get("/all_parent_folder", summary="A file and its ancestors")
def all_parent_folder(
    runtime: RuntimeDep, caller: WebCaller, query: Annotated[FileIdQuery, Query()]
) -> WebResult[ParentFolders]:
    with runtime.read() as session:
        chain = files.ancestors(session, caller, query.file_id)
        return WebResult(data=ParentFolders(parent_folders=[files.row(item) for item in chain]))


@router.post("/rm", summary="Delete files and folders")
def remove(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[RemoveFiles, Body()]
) -> WebResult[bool]:
    file_links.remove(runtime, caller, request.file_ids)
    return WebResult(data=True)


@router.post("/rename", summary="Rename a file or folder")
def rename(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[RenameFile, Body()]
) -> WebResult[bool]:
    files.rename(runtime, caller, request.file_id, request.name)
    return WebResult(data=True)


@router.get(
    "/get/{file_id}",
    summary="Download a file",
    response_class=StreamingResponse,
    responses=DOWNLOAD,
)
def get(
    runtime: RuntimeDep,
    caller: WebCaller,
    file_id: Annotated[str, Path(description="The file's id.")],
) -> StreamingResponse:
    return file_download(files.open_file(runtime, caller, file_id))


@router.post("/mv", summary="Move files and folders")
def move(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[MoveFiles, Body()]
) -> WebResult[bool]:
    with runtime.transaction() as session:
        files.move(session, caller, request.src_file_ids, request.dest_file_id)
    return WebResult(data=True)


@links_router.post("/convert", summary="Add files to datasets")
def convert(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[ConvertFiles, Body()]
) -> WebResult[list[ConvertedFile]]:
    """`POST /api/v1/file/convert` for a web login."""
    return WebResult(data=file_links.convert(runtime, caller, request.file_ids, request.kb_ids))


@links_router.post("/rm", summary="Delete the documents made from files")
def unlink(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[RemoveFiles, Body()]
) -> WebResult[bool]:
    """The dataset documents made from the files are deleted; the files stay."""
    file_links.unlink(runtime, caller, request.file_ids)
    return WebResult(data=True)
