"""Tenant models as the API shows them: ``/v1/llm/factories``, ``/v1/llm/my_llms`` and
``/v1/llm/list`` rows, grouped by factory."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ragserve.schemas.llm import (
    ConfiguredModelPublic,
    FactoryModels,
    FactoryPublic,
    ListedModelPublic,
)
from ragserve.services.models import TAGS, factory_info, list_factories, listed_models, my_models
from ragserve.services.secrets import SecretBox


def factories_public() -> list[FactoryPublic]:
    """The factories offered, as RAGFlow's ``/v1/llm/factories`` rows."""
    return [
        FactoryPublic(name=factory.name, tags=factory.tags, model_types=list(factory.model_types))
        for factory in list_factories()
    ]


def my_models_public(
    session: Session, box: SecretBox, tenant_id: str, *, include_details: bool
) -> dict[str, FactoryModels]:
    """``my_models`` grouped by factory, as ``/v1/llm/my_llms`` shows them."""
    result: dict[str, FactoryModels] = {}
    for model in my_models(session, box, tenant_id, include_details=include_details):
        group = result.get(model.factory)
        if group is None:
            group = FactoryModels(tags=factory_info(model.factory).tags, llm=[])
            result[model.factory] = group
        group.llm.append(
            ConfiguredModelPublic(
                type=model.model_type,
                name=model.name,
                used_token=model.used_tokens,
                status=model.status,
                api_base=model.api_base if include_details else None,
                max_tokens=model.max_tokens if include_details else None,
                api_key=model.api_key_mask if include_details else None,
            )
        )
    return result


def listed_public(
    session: Session, tenant_id: str, model_type: str = ""
) -> dict[str, list[ListedModelPublic]]:
    """``listed_models`` grouped by factory, as ``/v1/llm/list`` shows them."""
    result: dict[str, list[ListedModelPublic]] = {}
    for model in listed_models(session, tenant_id, model_type):
        result.setdefault(model.factory, []).append(
            ListedModelPublic(
                llm_name=model.name,
                model_type=model.model_type,
                fid=model.factory,
                max_tokens=model.max_tokens,
                tags=TAGS.get(model.model_type, ""),
                status=model.status,
                available=model.available,
            )
        )
    return result
