"""Saved search apps, ``/v1/search/*`` (web login): create, update, detail, list, remove (see
``services/search_apps.py`` for who sees what)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import RuntimeDep, WebCaller
from ragserve.api.envelope import WebResult
from ragserve.schemas.search_apps import (
    CreatedSearchApp,
    CreateSearchApp,
    DetailQuery,
    ListBody,
    ListQuery,
    SearchAppDetail,
    SearchAppId,
    SearchAppPage,
    SearchAppPublic,
    UpdateSearchApp,
)
from ragserve.services import search_apps

router = APIRouter(prefix="/v1/search", tags=["search apps"], route_class=RagflowRoute)


@router.post("/create", summary="Create a search app")
def create(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[CreateSearchApp, Body()]
) -> WebResult[CreatedSearchApp]:
    """A new app of the caller's tenant with the default search config."""
    with runtime.transaction() as session:
        return WebResult(data=search_apps.create(session, caller, request))


@router.post("/update", summary="Update a search app")
def update(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[UpdateSearchApp, Body()]
) -> WebResult[SearchAppPublic]:
    """Rename the app and merge `search_config` into the saved config (its creator only)."""
    with runtime.transaction() as session:
        return WebResult(data=search_apps.update(session, caller, request))


@router.get("/detail", summary="Show a search app")
def detail(
    runtime: RuntimeDep, caller: WebCaller, query: Annotated[DetailQuery, Query()]
) -> WebResult[SearchAppDetail]:
    """An app of the caller's tenant or of a team it joined, with its whole config."""
    with runtime.read() as session:
        return WebResult(data=search_apps.detail(session, caller, query.search_id))


@router.post("/list", summary="List search apps")
def list_apps(
    runtime: RuntimeDep,
    caller: WebCaller,
    query: Annotated[ListQuery, Query()],
    body: Annotated[ListBody | None, Body()] = None,
) -> WebResult[SearchAppPage]:
    """The apps of the caller's tenant and its teams, filtered and paged by the query."""
    with runtime.read() as session:
        return WebResult(data=search_apps.list_apps(session, caller, query, body or ListBody()))


@router.post("/rm", summary="Remove a search app")
def remove(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[SearchAppId, Body()]
) -> WebResult[bool]:
    """Delete an app (its creator only)."""
    with runtime.transaction() as session:
        search_apps.remove(session, caller, request.search_id)
    return WebResult(data=True)
