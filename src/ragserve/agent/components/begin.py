"""Begin: the entry of every run. Its ``inputs`` form (name -> ``{name, type, optional,
options, value}``) becomes its outputs, ``{begin@<name>}``: the value given with the call, else
the one stored from an earlier call, else the form's default. Started by a webhook, a
Webhook-mode Begin also outputs the request's ``query``, ``headers`` and ``body``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ragserve.agent.components.base import Component, ComponentParams
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError

DEFAULT_PROLOGUE = "Hi! I'm your smart assistant. What can I do for you?"


class FormField(BaseModel):
    """One field of a Begin or UserFillUp form."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    type: str = "line"
    optional: bool = True
    options: list[Any] | None = None
    value: Any = None


class BeginParams(ComponentParams):
    mode: Literal["conversational", "task", "Webhook"] = "conversational"
    prologue: str = DEFAULT_PROLOGUE
    inputs: dict[str, FormField] = Field(default_factory=dict)
    enable_tips: bool = False
    tips: str = ""


def given_value(given: Any) -> Any:
    """A value given for a form field: ``{"value": …, "type": …}`` as RAGFlow sends it, or the
    bare value."""
    if isinstance(given, dict) and "value" in given:
        return given["value"]
    return given


def fill_form(form: dict[str, FormField], given: dict[str, Any], owner: str) -> dict[str, Any]:
    """The form's values: given, else stored, else none; a required field without a value is
    an error naming it."""
    values: dict[str, Any] = {}
    for key, field in form.items():
        value = given_value(given[key]) if key in given else field.value
        if value in (None, "") and not field.optional:
            label = field.name or key
            raise ComponentError(f"{owner}: the input `{key}` ({label}) is required.")
        values[key] = value
    return values


class Begin(Component):
    component_name = "Begin"
    Params = BeginParams

    def run(self, context: RunContext) -> dict[str, Any]:
        params = self.params
        assert isinstance(params, BeginParams)
        values = fill_form(params.inputs, context.inputs, "Begin")
        if params.mode == "Webhook" and context.webhook is not None:
            # the request's parts the webhook's schema keeps: {begin@body.<field>}, …
            values.update(context.webhook)
        return values
