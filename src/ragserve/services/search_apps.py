"""Saved search apps (RAGFlow's ``search`` table and ``/v1/search/*``): a tenant's named search
config, for the shareable search page.

Who sees what, as RAGFlow: the caller lists and reads the apps of its own tenant and of the
teams it joined; only the app's creator updates or removes it. An app that does not exist and
an app the caller may not touch answer the same error, so ids of other tenants stay hidden.
Datasets named in ``kb_ids`` must be visible to the caller (ragserve's check; RAGFlow stores any
id), so a search app never reaches another tenant's data.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ragserve.db.models import Dataset, SearchApp, User
from ragserve.errors import AuthenticationError, DataError, OperatingError
from ragserve.schemas.search_apps import (
    DEFAULT_SEARCH_CONFIG,
    CreatedSearchApp,
    CreateSearchApp,
    ListBody,
    ListQuery,
    SearchAppDetail,
    SearchAppListed,
    SearchAppPage,
    SearchAppPublic,
    UpdateSearchApp,
)
from ragserve.services.datasets import visible_to
from ragserve.services.listing import named_page
from ragserve.services.naming import free_name
from ragserve.services.tenancy import Caller, member_tenant_ids
from ragserve.timeutil import rfc1123

NO_AUTHORIZATION = "No authorization."
NO_PERMISSION = "Has no permission for this operation."


def _config(saved: dict[str, Any]) -> dict[str, Any]:
    return {**DEFAULT_SEARCH_CONFIG, **saved}


def _name_taken(session: Session, tenant_id: str, name: str, *, other_than: str = "") -> bool:
    return (
        session.scalars(
            select(SearchApp.id).where(
                SearchApp.tenant_id == tenant_id,
                func.lower(SearchApp.name) == name.lower(),
                SearchApp.id != other_than,
            )
        ).first()
        is not None
    )


def _check_datasets(session: Session, caller: Caller, config: dict[str, Any]) -> None:
    wanted = list(dict.fromkeys(config.get("kb_ids", [])))
    if not wanted:
        return
    visible = set(
        session.scalars(select(Dataset.id).where(Dataset.id.in_(wanted), visible_to(caller)))
    )
    for dataset_id in wanted:
        if dataset_id not in visible:
            raise DataError(f"You don't own the dataset {dataset_id}.")


def create(session: Session, caller: Caller, request: CreateSearchApp) -> CreatedSearchApp:
    """A new app of the caller's tenant with the default config; a taken name gets ``(1)``."""
    name = free_name(
        request.name, lambda candidate: _name_taken(session, caller.tenant_id, candidate)
    )
    app = SearchApp(
        tenant_id=caller.tenant_id,
        name=name,
        description=request.description,
        created_by=caller.user_id,
        search_config=dict(DEFAULT_SEARCH_CONFIG),
    )
    session.add(app)
    session.flush()
    return CreatedSearchApp(search_id=app.id)


def _editable(session: Session, caller: Caller, search_id: str) -> SearchApp:
    """The app if the caller created it, in a tenant it still belongs to; else 109."""
    app = session.get(SearchApp, search_id)
    if (
        app is None
        or app.created_by != caller.user_id
        or app.tenant_id not in member_tenant_ids(session, caller)
    ):
        raise AuthenticationError(NO_AUTHORIZATION, data=False)
    return app


def update(session: Session, caller: Caller, request: UpdateSearchApp) -> SearchAppPublic:
    """Rename the app and merge ``search_config`` into the saved one, key by key."""
    if request.tenant_id not in member_tenant_ids(session, caller):
        raise AuthenticationError(NO_AUTHORIZATION, data=False)
    app = _editable(session, caller, request.search_id)
    if app.tenant_id != request.tenant_id:
        raise DataError(f"Cannot find search {request.search_id}", data=False)
    if _name_taken(session, app.tenant_id, request.name, other_than=app.id):
        raise DataError("Duplicated search name.")
    config = {**(app.search_config or {}), **request.search_config}
    _check_datasets(session, caller, config)
    app.name = request.name
    app.search_config = config
    if request.description is not None:
        app.description = request.description
    if request.avatar is not None:
        app.avatar = request.avatar
    session.flush()
    return SearchAppPublic(
        id=app.id,
        tenant_id=app.tenant_id,
        name=app.name,
        description=app.description,
        avatar=app.avatar,
        created_by=app.created_by,
        search_config=_config(app.search_config),
        create_time=app.create_time,
        create_date=rfc1123(app.create_date) or "",
        update_time=app.update_time,
        update_date=rfc1123(app.update_date) or "",
    )


def detail(session: Session, caller: Caller, search_id: str) -> SearchAppDetail:
    """An app of the caller's tenant or of a team it joined; else 103."""
    row = session.execute(
        select(SearchApp, User)
        .join(User, User.id == SearchApp.tenant_id)
        .where(SearchApp.id == search_id)
    ).first()
    if row is None or row[0].tenant_id not in member_tenant_ids(session, caller):
        raise OperatingError(NO_PERMISSION, data=False)
    app, owner = row
    return SearchAppDetail(
        id=app.id,
        tenant_id=app.tenant_id,
        name=app.name,
        description=app.description,
        avatar=app.avatar,
        created_by=app.created_by,
        search_config=_config(app.search_config),
        update_time=app.update_time,
        nickname=owner.nickname,
        tenant_avatar=owner.avatar,
    )


def list_apps(session: Session, caller: Caller, query: ListQuery, body: ListBody) -> SearchAppPage:
    """The apps of the caller's tenant and its teams (or of ``owner_ids`` among them), with
    ``keywords`` in the name, sorted, one page (all when ``page`` or ``page_size`` is 0)."""
    tenants = member_tenant_ids(session, caller)
    if body.owner_ids:
        tenants = [tenant for tenant in tenants if tenant in body.owner_ids]
    statement = (
        select(SearchApp, User)
        .join(User, User.id == SearchApp.tenant_id)
        .where(SearchApp.tenant_id.in_(tenants))
    )
    statement, total = named_page(session, statement, SearchApp, query)
    return SearchAppPage(
        search_apps=[
            SearchAppListed(
                id=app.id,
                tenant_id=app.tenant_id,
                name=app.name,
                description=app.description,
                avatar=app.avatar,
                created_by=app.created_by,
                create_time=app.create_time,
                update_time=app.update_time,
                nickname=owner.nickname,
                tenant_avatar=owner.avatar,
            )
            for app, owner in session.execute(statement).all()
        ],
        total=total,
    )


def remove(session: Session, caller: Caller, search_id: str) -> None:
    """Delete an app the caller created; else 109."""
    session.delete(_editable(session, caller, search_id))
    session.flush()
