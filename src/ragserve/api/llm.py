"""``/v1/llm/*``: model providers (factories), their API keys and the tenant's models (spec 2.14).

A key or model is tested with one real call before it is stored; the call runs outside the
database transaction. Keys are stored encrypted and shown only masked (``include_details``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import RuntimeDep, WebCaller
from ragserve.api.envelope import WebResult
from ragserve.schemas.llm import (
    AddModel,
    ApiKeyRequest,
    DeleteFactory,
    DeleteModel,
    FactoryModels,
    FactoryPublic,
    ListedModelPublic,
    ListModelsQuery,
    MyModelsQuery,
)
from ragserve.services import model_views, models
from ragserve.services.secrets import SecretBox

router = APIRouter(prefix="/v1/llm", tags=["llm"], route_class=RagflowRoute)


@router.get("/factories", summary="List model providers")
def factories(caller: WebCaller) -> WebResult[list[FactoryPublic]]:
    """The providers (factories) whose models ragserve can call, with their model types."""
    return WebResult(data=model_views.factories_public())


@router.post("/set_api_key", summary="Set a provider's API key")
def set_api_key(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[ApiKeyRequest, Body()]
) -> WebResult[bool]:
    """Test the key with one call to a model of the provider (`llm_name`, else its first
    known model), then store it, encrypted, for each of the provider's catalogue models. A
    rejected key is 102 with the provider's reason (never the key)."""
    models.set_api_key(runtime, caller.tenant_id, request)
    return WebResult(data=True)


@router.post("/add_llm", summary="Add a model")
def add_llm(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[AddModel, Body()]
) -> WebResult[bool]:
    """Test one model with one call, then store it for the tenant (with its key, encrypted).
    A failing call is 102 "Fail to access model(<factory>/<name>)." with the reason."""
    models.add_model(runtime, caller.tenant_id, request)
    return WebResult(data=True)


@router.post("/delete_llm", summary="Delete a model")
def delete_llm(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[DeleteModel, Body()]
) -> WebResult[bool]:
    """Forget one of the tenant's models (and its key)."""
    with runtime.transaction() as session:
        models.delete_model(session, caller.tenant_id, request.llm_factory, request.llm_name)
    return WebResult(data=True)


@router.post("/delete_factory", summary="Delete a provider's models")
def delete_factory(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[DeleteFactory, Body()]
) -> WebResult[bool]:
    """Forget all the tenant's models of a provider, and their keys."""
    with runtime.transaction() as session:
        models.delete_factory(session, caller.tenant_id, request.llm_factory)
    return WebResult(data=True)


@router.get("/my_llms", summary="The tenant's models")
def my_llms(
    runtime: RuntimeDep, caller: WebCaller, query: Annotated[MyModelsQuery, Query()]
) -> WebResult[dict[str, FactoryModels]]:
    """The models the tenant configured, by provider: those with a key or a base URL, or
    all of them with their base URL, context size and masked key (`include_details=true`)."""
    box = SecretBox(runtime.settings.signing_key())
    with runtime.read() as session:
        configured = model_views.my_models_public(
            session, box, caller.tenant_id, include_details=query.include_details
        )
    return WebResult(data=configured)


@router.get("/list", summary="Models the tenant may choose")
def list_models(
    runtime: RuntimeDep, caller: WebCaller, query: Annotated[ListModelsQuery, Query()]
) -> WebResult[dict[str, list[ListedModelPublic]]]:
    """Builtin and configured catalogue models and the tenant's own, by provider, each
    marked `available` when it can be called now."""
    with runtime.read() as session:
        return WebResult(
            data=model_views.listed_public(session, caller.tenant_id, query.model_type)
        )
