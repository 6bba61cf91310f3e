"""The file manager's web twins, ``/v1/file/*`` and ``/v1/file2document/*`` (RAGFlow's
``file_app.py`` and ``file2document_app.py``): the routes of ``api/files.py`` for a web login,
with the same bodies and answers, plus ``file2document/rm``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import RuntimeDep, WebCaller, web_caller
from ragserve.api.envelope import WebResult
from ragserve.api.files import add_file_routes
from ragserve.schemas.files import RemoveFiles
from ragserve.services import file_links

router = APIRouter(prefix="/v1/file", tags=["files (web)"], route_class=RagflowRoute)
links_router = APIRouter(prefix="/v1/file2document", tags=["files (web)"], route_class=RagflowRoute)
add_file_routes(router, web_caller, links_router=links_router)


@links_router.post("/rm", summary="Delete the documents made from files")
def unlink(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[RemoveFiles, Body()]
) -> WebResult[bool]:
    """The dataset documents made from the files are deleted; the files stay."""
    file_links.unlink(runtime, caller, request.file_ids)
    return WebResult(data=True)
