"""The file manager, ``/api/v1/file/*`` (spec 2.11, B.1): folders, uploads, list, rename,
move, delete, download, convert into datasets, and agent attachments. Answers are RAGFlow's
``get_json_result`` envelope (``code``, ``message``, ``data``).

``add_file_routes`` makes the routes for a caller dependency: ``/api/v1/file`` takes an API
key, its web twin ``/v1/file`` (``api/files_web.py``) a login; the bodies are the same."""

# No ``from __future__ import annotations``: the routes made in ``add_file_routes`` name its
# caller dependency in their annotations, which FastAPI could not resolve from strings.

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Form, Path, Query, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BeforeValidator
from starlette import datastructures

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import ApiCaller, RuntimeDep, api_caller
from ragserve.api.envelope import WebResult, file_download
from ragserve.errors import RetCode
from ragserve.schemas.common import fixed_message
from ragserve.schemas.files import (
    AttachmentQuery,
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
from ragserve.services.tenancy import Caller

MAX_FILES_PER_REQUEST = 10_000


def _file_parts(value: Any) -> list[datastructures.UploadFile]:
    items = value if isinstance(value, list) else [value]
    parts = [item for item in items if isinstance(item, datastructures.UploadFile)]
    if not parts:
        raise fixed_message(RetCode.BAD_REQUEST, "No file part!")
    return parts


Files = Annotated[
    list[UploadFile],  # FastAPI's, for the schema; Starlette's are what arrive
    BeforeValidator(_file_parts),
    File(
        default_factory=list,
        validate_default=True,  # no file part at all is RAGFlow's "No file part!"
        description=f"The files (repeat the part; up to {MAX_FILES_PER_REQUEST:,} per request). "
        "A `/` in a part's `filename` makes sub-folders (`a/b/c.txt`); each name is at most "
        "255 bytes.",
    ),
]
ParentId = Annotated[str | None, Form(description="The folder; the root if absent.")]
DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The stored bytes, with `Content-Disposition: attachment`; or an error "
        "envelope.",
        "content": {
            "*/*": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}},
        },
    }
}


def add_file_routes(
    router: APIRouter,
    caller_dependency: Callable[..., Caller],
    *,
    links_router: APIRouter | None = None,
) -> None:
    """Add the file manager's routes to `router` for the callers `caller_dependency` lets in;
    `convert` goes to `links_router` if given (the web's ``/v1/file2document``). The route
    names stay the same: the router's tag tells the operation ids apart."""
    CallerDep = Annotated[Caller, Depends(caller_dependency)]

    @router.post(
        "/upload",
        summary="Upload files",
        form_limits={"max_files": MAX_FILES_PER_REQUEST, "max_fields": MAX_FILES_PER_REQUEST + 10},
    )
    def upload(
        runtime: RuntimeDep,
        caller: CallerDep,
        file: Files,
        parent_id: ParentId = None,
    ) -> WebResult[list[FileRow]]:
        """Store the files in the folder, making the sub-folders their names ask for; a name
        taken gets `(1)`, `(2)`…. Any refused name refuses the whole request."""
        return WebResult(data=files.upload(runtime, caller, parent_id or None, file))

    @router.post("/create", summary="Create a folder or a virtual file")
    def create(
        runtime: RuntimeDep, caller: CallerDep, request: Annotated[CreateFile, Body()]
    ) -> WebResult[FileRow]:
        """A folder when `type` is `folder`; anything else makes an empty virtual file."""
        with runtime.transaction() as session:
            made = files.create(
                session, caller, request.name, request.parent_id, request.type or ""
            )
            return WebResult(data=files.row(made))

    @router.get("/list", summary="List a folder")
    def list_files(
        runtime: RuntimeDep, caller: CallerDep, query: Annotated[ListFiles, Query()]
    ) -> WebResult[FilePage]:
        """One page of the folder's files and folders, with the datasets each file is in."""
        with runtime.transaction() as session:  # the root folder may be made now
            return WebResult(data=files.list_files(session, caller, query))

    @router.get("/root_folder", summary="The root folder")
    def root_folder(runtime: RuntimeDep, caller: CallerDep) -> WebResult[RootFolder]:
        """The caller's root folder (made on first use)."""
        with runtime.transaction() as session:
            root = files.root_folder(session, caller)
            return WebResult(data=RootFolder(root_folder=files.row(root)))

    @router.get("/parent_folder", summary="The folder of a file")
    def parent_folder(
        runtime: RuntimeDep, caller: CallerDep, query: Annotated[FileIdQuery, Query()]
    ) -> WebResult[ParentFolder]:
        with runtime.read() as session:
            parent = files.parent_folder(session, caller, query.file_id)
            return WebResult(data=ParentFolder(parent_folder=files.row(parent)))

    @router.get("/all_parent_folder", summary="A file and its ancestors")
    def all_parent_folder(
        runtime: RuntimeDep, caller: CallerDep, query: Annotated[FileIdQuery, Query()]
    ) -> WebResult[ParentFolders]:
        """The file itself, its folder, and so on up to the root."""
        with runtime.read() as session:
            chain = files.ancestors(session, caller, query.file_id)
            return WebResult(data=ParentFolders(parent_folders=[files.row(item) for item in chain]))

    @router.post("/rm", summary="Delete files and folders")
    def remove(
        runtime: RuntimeDep, caller: CallerDep, request: Annotated[RemoveFiles, Body()]
    ) -> WebResult[bool]:
        """Delete them, everything under the folders, and the dataset documents made from
        them."""
        file_links.remove(runtime, caller, request.file_ids)
        return WebResult(data=True)

    @router.post("/rename", summary="Rename a file or folder")
    def rename(
        runtime: RuntimeDep, caller: CallerDep, request: Annotated[RenameFile, Body()]
    ) -> WebResult[bool]:
        """A file keeps its extension; the documents made from it are renamed too."""
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
        caller: CallerDep,
        file_id: Annotated[str, Path(description="The file's id.")],
    ) -> StreamingResponse:
        """The file's bytes as uploaded (a virtual file: none)."""
        return file_download(files.open_file(runtime, caller, file_id))

    @router.post("/mv", summary="Move files and folders")
    def move(
        runtime: RuntimeDep, caller: CallerDep, request: Annotated[MoveFiles, Body()]
    ) -> WebResult[bool]:
        """Into the destination folder; a folder cannot go into itself."""
        with runtime.transaction() as session:
            files.move(session, caller, request.src_file_ids, request.dest_file_id)
        return WebResult(data=True)

    @(links_router or router).post("/convert", summary="Add files to datasets")
    def convert(
        runtime: RuntimeDep, caller: CallerDep, request: Annotated[ConvertFiles, Body()]
    ) -> WebResult[list[ConvertedFile]]:
        """Each file (a folder: each file under it) becomes a document of each dataset,
        sharing the file's bytes; the documents made from it before are deleted."""
        links = file_links.convert(runtime, caller, request.file_ids, request.kb_ids)
        return WebResult(data=links)


router = APIRouter(prefix="/api/v1/file", tags=["files"], route_class=RagflowRoute)
add_file_routes(router, api_caller)


@router.get(
    "/download/{attachment_id}",
    summary="Download an agent attachment",
    response_class=StreamingResponse,
    responses=DOWNLOAD,
)
def download_attachment(
    runtime: RuntimeDep,
    caller: ApiCaller,
    attachment_id: Annotated[str, Path(description="The id an agent's Message gave.")],
    query: Annotated[AttachmentQuery, Query()],
) -> StreamingResponse:
    """A file an agent run of the caller's tenant made (Message `output_format`)."""
    return file_download(file_links.open_attachment(runtime, caller, attachment_id, query.ext))
