"""Which models a tenant may use, and with which credentials.

A tenant may use a builtin model, the server's default chat model, and any model it configured
(RAGFlow's ``tenant_llm`` rows, here ``tenant_model``): setting a factory's API key adds a row
for each catalogue model of that factory; adding a model by name adds one row.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ragserve.db.models import TenantModel
from ragserve.models.registry import BUILTIN_FACTORY, CATALOGUE, ModelType, split_model_id
from ragserve.settings import Settings


def model_exists(
    session: Session,
    settings: Settings,
    tenant_id: str,
    model_id: str,
    model_type: ModelType,
) -> bool:
    """Whether the tenant may use ``model_id`` (``name@factory``) as a model of this type."""
    if model_type == ModelType.CHAT and model_id == settings.default_chat_model:
        return True
    name, factory = split_model_id(model_id)
    if factory == BUILTIN_FACTORY:
        return any(
            spec.name == name and spec.factory == factory and spec.model_type == model_type
            for spec in CATALOGUE
        )
    query = select(TenantModel.id).where(
        TenantModel.tenant_id == tenant_id,
        TenantModel.name == name,
        TenantModel.model_type == model_type,
        TenantModel.status == "1",
    )
    if factory is not None:
        query = query.where(TenantModel.factory == factory)
    return session.scalars(query.limit(1)).first() is not None
