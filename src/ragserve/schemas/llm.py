"""``/v1/llm/*`` (spec 2.14): model providers (factories), their keys and the tenant's models.

Bodies are read as RAGFlow's web handlers read them: ``validate_request`` (101 "required
argument are missing: …"), strings with ``req.get(key, "")``; unknown keys are ignored.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from ragserve.domain import Validity
from ragserve.errors import RetCode
from ragserve.schemas.common import Text, fixed_message, required_arguments

FACTORY = "The provider (RAGFlow's factory): `OpenAI`, `VLLM`, `OpenAI-API-Compatible`…"
MODEL_TYPE = "`chat`, `embedding`, `rerank`, `tts` or `speech2text`."
WITHOUT_KEY = "Absent when ``include_details`` is off."


class ApiKeyRequest(BaseModel):
    """A provider's API key, tested with one call before it is stored (encrypted) for every
    catalogue model of the provider."""

    llm_factory: Text = Field(description=FACTORY)
    api_key: Text = Field(description="The key; never shown again, only masked.")
    base_url: Text = Field("", description="The provider's base URL; default: its own.")
    llm_name: Text = Field(
        "", description="The model to test the key with; default: the provider's first known."
    )
    model_type: Text = Field("", description=f"`llm_name`'s type: {MODEL_TYPE}")

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        required_arguments(data, "llm_factory", "api_key")
        return data


def _max_tokens(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise fixed_message(RetCode.ARGUMENT_ERROR, "`max_tokens` must be a positive integer.")
    return value


class AddModel(BaseModel):
    """One model of a provider, tested with one call before it is stored. Without `api_key`,
    the provider's key set by `set_api_key` is used (or none: a self-hosted model)."""

    llm_factory: Text = Field(description=FACTORY)
    llm_name: Text = Field(
        description="The model's name at the provider (RAGFlow's `___VLLM`-style suffixes "
        "are dropped)."
    )
    model_type: Text = Field(description=MODEL_TYPE)
    api_base: Text = Field("", description="The model server's base URL.")
    api_key: Text = Field("", description="The key; never shown again, only masked.")
    max_tokens: Annotated[int | None, BeforeValidator(_max_tokens)] = Field(
        None, description="The model's context size in tokens; default: the catalogue's, else 8192."
    )

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        required_arguments(data, "llm_factory")
        required_arguments(data, "llm_name", "model_type")
        return data


class DeleteModel(BaseModel):
    llm_factory: Text = Field(description=FACTORY)
    llm_name: Text

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        required_arguments(data, "llm_factory", "llm_name")
        return data


class DeleteFactory(BaseModel):
    llm_factory: Text = Field(description=FACTORY)

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        required_arguments(data, "llm_factory")
        return data


class MyModelsQuery(BaseModel):
    include_details: Annotated[
        bool, BeforeValidator(lambda value: str(value).lower() == "true")
    ] = Field(
        False,
        description="`true`: also list keyless rows, with base URL, context size and masked key.",
    )


class ListModelsQuery(BaseModel):
    model_type: str = Field("", description="Only models whose type contains this text.")


class FactoryPublic(BaseModel):
    """A provider ragserve can call."""

    name: str
    logo: str = ""
    tags: str = Field(description="What its models do, by commas: `LLM,TEXT EMBEDDING`…")
    rank: int = 0
    status: Validity = Validity.VALID
    create_time: int | None = None
    create_date: str | None = None
    update_time: int | None = None
    update_date: str | None = None
    model_types: list[str] = Field(description=f"Its models' types: {MODEL_TYPE}")


class ConfiguredModelPublic(BaseModel):
    """A model the tenant configured."""

    type: str = Field(description=MODEL_TYPE)
    name: str
    used_token: int
    status: str = Field(description='"1": usable.')
    api_base: str | None = Field(
        None, exclude_if=lambda value: value is None, description=WITHOUT_KEY
    )
    max_tokens: int | None = Field(
        None, exclude_if=lambda value: value is None, description=WITHOUT_KEY
    )
    api_key: str | None = Field(
        None,
        exclude_if=lambda value: value is None,
        description="The key masked (`sk-a…cdef`); absent without a key or details.",
    )


class FactoryModels(BaseModel):
    """A provider's models configured by the tenant."""

    tags: str = Field(description="What the provider's models do, by commas.")
    llm: list[ConfiguredModelPublic]


class ListedModelPublic(BaseModel):
    """A model the tenant may choose."""

    llm_name: str
    model_type: str = Field(description=MODEL_TYPE)
    fid: str = Field(description="Its provider.")
    max_tokens: int = Field(description="Its context size in tokens.")
    tags: str
    is_tools: bool = False
    status: str = Field(description='"1": usable.')
    available: bool = Field(
        description="Callable now: builtin, self-hosted, or its provider's key is set."
    )
