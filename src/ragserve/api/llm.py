"""``/v1/llm/*``: model providers (factories), their API keys and the tenant's models (spec 2.14).

A key or model is tested with one real call before it is stored; the call runs outside the
database transaction. Keys are stored encrypted and shown only masked (``include_details``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from ragserve.api.body import json_object, require, text
from ragserve.api.deps import RuntimeDep, WebCaller
from ragserve.api.envelope import web_result
from ragserve.errors import ArgumentError
from ragserve.models.registry import plain_name
from ragserve.services import models
from ragserve.services.secrets import SecretBox

router = APIRouter(prefix="/v1/llm", tags=["llm"])

JsonBody = Annotated[dict[str, Any], Depends(json_object)]


def factory_wire(factory: models.Factory) -> dict[str, Any]:
    return {
        "name": factory.name,
        "logo": "",
        "tags": factory.tags,
        "rank": 0,
        "status": models.VALID,
        "create_time": None,
        "create_date": None,
        "update_time": None,
        "update_date": None,
        "model_types": list(factory.model_types),
    }


def configured_wire(model: models.ConfiguredModel, include_details: bool) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "type": model.model_type,
        "name": model.name,
        "used_token": model.used_tokens,
        "status": model.status,
    }
    if include_details:
        wire["api_base"] = model.api_base
        wire["max_tokens"] = model.max_tokens
        if model.api_key_mask is not None:
            wire["api_key"] = model.api_key_mask
    return wire


def listed_wire(model: models.ListedModel) -> dict[str, Any]:
    return {
        "llm_name": model.name,
        "model_type": model.model_type,
        "fid": model.factory,
        "max_tokens": model.max_tokens,
        "tags": models.TAGS.get(model.model_type, ""),
        "is_tools": False,
        "status": model.status,
        "available": model.available,
    }


def _max_tokens(body: dict[str, Any]) -> int | None:
    value = body.get("max_tokens")
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ArgumentError("`max_tokens` must be a positive integer.")
    return value


@router.get("/factories")
def factories(caller: WebCaller) -> dict[str, Any]:
    return web_result([factory_wire(factory) for factory in models.list_factories()])


@router.post("/set_api_key")
def set_api_key(runtime: RuntimeDep, caller: WebCaller, body: JsonBody) -> dict[str, Any]:
    require(body, "llm_factory", "api_key")
    factory, api_key = text(body, "llm_factory"), text(body, "api_key")
    models.check_factory(factory)
    if not api_key.strip():
        raise ArgumentError("`api_key` can't be empty.")
    base_url = text(body, "base_url").strip()
    probe = models.key_probe(factory, text(body, "llm_name"), text(body, "model_type"))
    models.verify(runtime.settings, probe, api_key, base_url or None)
    box = SecretBox(runtime.settings.signing_key())
    with runtime.transaction() as session:
        models.save_factory_key(session, box, caller.tenant_id, probe, api_key, base_url)
    return web_result(True)


@router.post("/add_llm")
def add_llm(runtime: RuntimeDep, caller: WebCaller, body: JsonBody) -> dict[str, Any]:
    require(body, "llm_factory")
    require(body, "llm_name", "model_type")
    factory = text(body, "llm_factory")
    models.check_factory(factory)
    name = plain_name(text(body, "llm_name").strip())
    if not name:
        raise ArgumentError("`llm_name` can't be empty.")
    probe = models.Probe(factory, name, models.model_type_of(text(body, "model_type")))
    max_tokens = models.max_tokens_of(probe, _max_tokens(body))
    api_key: str | None = text(body, "api_key").strip() or None
    api_base = text(body, "api_base").strip()
    box = SecretBox(runtime.settings.signing_key())
    if api_key is None:  # a model of a factory whose key is already set
        with runtime.read() as session:
            found = models.factory_key(session, box, caller.tenant_id, factory)
        if found is not None:
            api_key, api_base = found[0], api_base or found[1]
    failure = "Fail to access model({factory}/{name})."
    models.verify(runtime.settings, probe, api_key, api_base or None, failure=failure)
    with runtime.transaction() as session:
        models.save_model(
            session,
            box,
            caller.tenant_id,
            probe,
            api_key=api_key,
            api_base=api_base,
            max_tokens=max_tokens,
        )
    return web_result(True)


@router.post("/delete_llm")
def delete_llm(runtime: RuntimeDep, caller: WebCaller, body: JsonBody) -> dict[str, Any]:
    require(body, "llm_factory", "llm_name")
    with runtime.transaction() as session:
        models.delete_model(
            session, caller.tenant_id, text(body, "llm_factory"), text(body, "llm_name")
        )
    return web_result(True)


@router.post("/delete_factory")
def delete_factory(runtime: RuntimeDep, caller: WebCaller, body: JsonBody) -> dict[str, Any]:
    require(body, "llm_factory")
    with runtime.transaction() as session:
        models.delete_factory(session, caller.tenant_id, text(body, "llm_factory"))
    return web_result(True)


@router.get("/my_llms")
def my_llms(
    runtime: RuntimeDep, caller: WebCaller, include_details: str = "false"
) -> dict[str, Any]:
    details = include_details.lower() == "true"
    box = SecretBox(runtime.settings.signing_key())
    with runtime.read() as session:
        configured = models.my_models(session, box, caller.tenant_id, include_details=details)
    result: dict[str, Any] = {}
    for model in configured:
        group = result.setdefault(
            model.factory, {"tags": models.factory_info(model.factory).tags, "llm": []}
        )
        group["llm"].append(configured_wire(model, details))
    return web_result(result)


@router.get("/list")
def list_models(runtime: RuntimeDep, caller: WebCaller, model_type: str = "") -> dict[str, Any]:
    with runtime.read() as session:
        listed = models.listed_models(session, caller.tenant_id, model_type)
    result: dict[str, list[dict[str, Any]]] = {}
    for model in listed:
        result.setdefault(model.factory, []).append(listed_wire(model))
    return web_result(result)
