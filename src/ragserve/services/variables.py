"""System variables: settings an administrator changes at run time (RAGFlow's
``system_settings``), kept in the database so every server process applies a change at its
next use, without a restart.

Each variable has the setting of the same meaning as its default; ``set`` stores a value that
wins over it. The set is deliberately small: only what the code reads per use can change
without a restart (see docs/admin.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ragserve.db.models import SystemVariable
from ragserve.errors import ArgumentError, DataError
from ragserve.runtime import TenantDefaults
from ragserve.schemas.admin import VariablePublic
from ragserve.settings import Settings

Value = str | bool | int

REGISTER_ENABLED = "register_enabled"
NEW_TENANT_CHAT_MODEL = "new_tenant_chat_model"
NEW_TENANT_EMBEDDING_MODEL = "new_tenant_embedding_model"

TRUE_WORDS = {"true", "on", "1", "yes"}
FALSE_WORDS = {"false", "off", "0", "no"}


@dataclass(frozen=True)
class Variable:
    name: str
    data_type: type[bool] | type[str]
    description: str
    default: Callable[[Settings], Value]


VARIABLES = {
    variable.name: variable
    for variable in (
        Variable(
            REGISTER_ENABLED,
            bool,
            "Whether `/v1/user/register` accepts new accounts (setting `register_enabled`).",
            lambda settings: settings.register_enabled,
        ),
        Variable(
            NEW_TENANT_CHAT_MODEL,
            str,
            "Chat model new tenants start with (setting `default_chat_model`).",
            lambda settings: settings.default_chat_model,
        ),
        Variable(
            NEW_TENANT_EMBEDDING_MODEL,
            str,
            "Embedding model new tenants start with (setting `default_embedding_model`).",
            lambda settings: settings.default_embedding_model,
        ),
    )
}


def _variable(name: str) -> Variable:
    variable = VARIABLES.get(name)
    if variable is None:
        raise DataError(f"Unknown variable: {name}. Known: {', '.join(sorted(VARIABLES))}.")
    return variable


def _converted(variable: Variable, value: Value) -> Value:
    if variable.data_type is bool:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ArgumentError(f"`{variable.name}` takes true or false, not {value!r}.")
    if isinstance(value, bool) or not isinstance(value, str):
        raise ArgumentError(f"`{variable.name}` takes a string.")
    if variable.name == NEW_TENANT_EMBEDDING_MODEL and not value.strip():
        raise ArgumentError(f"`{variable.name}` may not be empty.")
    return value.strip()


def value(session: Session, settings: Settings, name: str) -> Value:
    """The variable's value now: the stored one, else its setting's."""
    variable = _variable(name)
    stored = session.scalars(select(SystemVariable).where(SystemVariable.name == name)).first()
    if stored is None:
        return variable.default(settings)
    decoded: Value = json.loads(stored.value)
    return decoded


def register_enabled(session: Session, settings: Settings) -> bool:
    return bool(value(session, settings, REGISTER_ENABLED))


def tenant_defaults(session: Session, settings: Settings) -> TenantDefaults:
    """The models a tenant made now starts with."""
    return TenantDefaults(
        llm_id=str(value(session, settings, NEW_TENANT_CHAT_MODEL)),
        embd_id=str(value(session, settings, NEW_TENANT_EMBEDDING_MODEL)),
    )


def set_variable(
    session: Session, settings: Settings, name: str, given: Value, *, by: str
) -> VariablePublic:
    variable = _variable(name)
    converted = _converted(variable, given)
    stored = session.scalars(select(SystemVariable).where(SystemVariable.name == name)).first()
    if stored is None:
        stored = SystemVariable(name=name, value="")
        session.add(stored)
    stored.value = json.dumps(converted)
    stored.updated_by = by
    session.flush()
    return show(session, settings, name)


def show(session: Session, settings: Settings, name: str) -> VariablePublic:
    variable = _variable(name)
    stored = session.scalars(select(SystemVariable).where(SystemVariable.name == name)).first()
    return VariablePublic(
        name=name,
        value=value(session, settings, name),
        data_type=variable.data_type.__name__,
        source="database" if stored else "settings",
        description=variable.description,
        updated_by=stored.updated_by if stored else "",
        update_time=stored.update_time if stored else None,
    )


def list_variables(session: Session, settings: Settings) -> list[VariablePublic]:
    return [show(session, settings, name) for name in sorted(VARIABLES)]
