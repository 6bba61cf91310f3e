"""UserFillUp: pauses the run and asks the user to fill in a form (a ``user_inputs`` event with
the form and the tips). The next call of the conversation resumes the run here: the values it
gives in ``inputs`` are this component's outputs, then the run goes on downstream."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ragserve.agent.components.base import Component, ComponentParams
from ragserve.agent.components.begin import FormField, fill_form
from ragserve.agent.context import RunContext


class UserFillUpParams(ComponentParams):
    inputs: dict[str, FormField] = Field(default_factory=dict)
    enable_tips: bool = True
    tips: str = "Please fill up the form"


class UserFillUp(Component):
    component_name = "UserFillUp"
    Params = UserFillUpParams
    pauses = True

    @property
    def form(self) -> UserFillUpParams:
        assert isinstance(self.params, UserFillUpParams)
        return self.params

    def prompt(self, context: RunContext) -> dict[str, Any]:
        """The ``user_inputs`` event's data: the form and the tips, references filled in."""
        tips = context.render(self.form.tips) if self.form.enable_tips else ""
        inputs = {key: field.model_dump() for key, field in self.form.inputs.items()}
        return {"inputs": inputs, "tips": tips}

    def run(self, context: RunContext) -> dict[str, Any]:
        """The form's values given with the resuming call."""
        return fill_form(self.form.inputs, context.inputs, f"UserFillUp {self.id}")
