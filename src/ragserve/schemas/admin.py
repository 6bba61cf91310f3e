"""``/api/v1/admin`` (spec C.1): requests and answers of the admin API."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator

from ragserve.schemas.common import Page, PageSize, StrictModel, required_arguments


class SystemRole(StrEnum):
    """A user's role on the whole system (per-tenant roles are ``TenantRole``)."""

    ADMIN = "admin"
    """A superuser: may use the admin API, and nothing more on other tenants' data through
    the user API."""
    USER = "user"
    """Everyone else: the user API, on the tenants they own or belong to."""


class AdminLogin(StrictModel):
    email: str = Field(description="The administrator's e-mail.")
    password: str = Field(description="Plain text, or RSA-encrypted as RAGFlow's clients send.")

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        required_arguments(data, "email", "password")
        return data


class CreateUser(StrictModel):
    username: str = Field(description="The new user's e-mail, the login name.")
    password: str = Field(description="Plain text, or RSA-encrypted.")
    role: SystemRole = Field(
        SystemRole.USER, strict=False, description="`admin` makes a superuser."
    )
    nickname: str | None = Field(None, description="Display name; default: the e-mail's user.")

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        required_arguments(data, "username", "password")
        return data


class SetPassword(StrictModel):
    new_password: str = Field(description="Plain text, or RSA-encrypted.", min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        required_arguments(data, "new_password")
        return data


class SetActive(StrictModel):
    activate_status: Annotated[str, Field(pattern="^(on|off)$")] = Field(
        description="`on` lets the user log in, `off` stops the user and their API keys."
    )

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        required_arguments(data, "activate_status")
        return data


class SetRole(StrictModel):
    role_name: SystemRole = Field(strict=False, description="`admin` or `user`.")

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        required_arguments(data, "role_name")
        return data


class SetVariable(StrictModel):
    var_name: str
    var_value: str | bool | int = Field(
        description="Booleans also as `true`/`false`/`on`/`off`/`1`/`0`."
    )

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        required_arguments(data, "var_name", "var_value")
        return data


class VariableQuery(BaseModel):
    var_name: str | None = Field(None, description="One variable; absent: all of them.")


class AuditQuery(BaseModel):
    page: Page = 1
    page_size: PageSize = 50
    action: str | None = Field(None, description="Only this action, e.g. `user.delete`.")
    actor: str | None = Field(None, description="Only actions of this administrator (e-mail).")


class AdminUser(BaseModel):
    """A user as the admin API shows it."""

    id: str
    email: str
    nickname: str
    role: SystemRole
    is_superuser: bool
    is_active: bool
    create_time: int
    create_date: str | None
    last_login_time: str | None
    dataset_count: int = 0
    api_key_count: int = 0


class AdminDataset(BaseModel):
    id: str
    name: str
    permission: str
    chunk_method: str
    embedding_model: str
    document_count: int
    chunk_count: int
    create_time: int
    create_date: str | None


class AdminAgent(BaseModel):
    id: str
    title: str
    create_time: int


class AdminKey(BaseModel):
    """An API key of a user's tenant: the whole key only when made, else its first 16
    characters (which also delete it)."""

    token: str
    tenant_id: str
    create_time: int
    create_date: str | None


class ServicePublic(BaseModel):
    """A component ragserve runs or connects to, checked now."""

    id: int = Field(description="Position in the list; `SHOW SERVICE <id>` takes it.")
    name: str
    service_type: str = Field(
        description="`api_server`, `task_executor`, `database`, `blob_store`, `chunk_store`, "
        "`queue` or `model_provider`."
    )
    backend: str = Field(description="What implements it: `sqlite`, `postgresql`, `s3`, …")
    host: str = ""
    port: int | None = None
    status: str = Field(description="`alive`, `down`, or `unchecked` (not probed).")
    version: str = ""
    latency_ms: float | None = None
    error: str | None = None


class ServiceDetail(ServicePublic):
    detail: dict[str, Any] = Field(default_factory=dict)


class VariablePublic(BaseModel):
    name: str
    value: str | bool | int
    data_type: str
    source: str = Field(description="`database` (set at run time) or `settings` (the default).")
    description: str
    updated_by: str = ""
    update_time: int | None = None


class ConfigEntry(BaseModel):
    name: str
    value: Any
    description: str


class EnvironmentEntry(BaseModel):
    name: str
    value: str


class VersionPublic(BaseModel):
    version: str


class RolePublic(BaseModel):
    role_name: SystemRole = Field(strict=False, description="`admin` or `user`.")
    description: str
    permissions: list[str]


class UserPermissions(BaseModel):
    email: str
    role: SystemRole
    permissions: list[str]
    tenants: list[dict[str, str]] = Field(
        description="The tenants the user belongs to and the role in each "
        "(`owner`, `normal`, `invite`)."
    )


class AuditEntryPublic(BaseModel):
    id: str
    actor_email: str
    action: str
    target: str
    detail: str
    outcome: str = Field(description="`ok`, `failed` or `refused`.")
    client_address: str
    create_time: int
    create_date: str | None


class AuditPage(BaseModel):
    total: int
    entries: list[AuditEntryPublic]
