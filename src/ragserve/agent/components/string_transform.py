"""StringTransform (RAGFlow's ``string_transform.py``): ``method`` ``split`` cuts the text
``split_ref`` names at any of ``delimiters`` (the output ``result`` is the list of pieces);
``merge`` fills the references of ``script`` in (a list joined by the first delimiter, other
values as JSON) and outputs the text as ``result``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field

from ragserve.agent import variables
from ragserve.agent.components.base import Component, ComponentParams
from ragserve.agent.components.iteration import reference_of
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError


class StringTransformParams(ComponentParams):
    method: Literal["split", "merge"] = "split"
    script: str = ""
    split_ref: str = ""
    delimiters: list[str] = Field(default_factory=lambda: [","], min_length=1)


class StringTransform(Component):
    component_name = "StringTransform"
    Params = StringTransformParams

    @property
    def settings(self) -> StringTransformParams:
        assert isinstance(self.params, StringTransformParams)
        return self.params

    def referenced(self) -> Iterator[tuple[str, str]]:
        yield from super().referenced()
        if self.settings.method == "split" and self.settings.split_ref.strip():
            yield "split_ref", reference_of(self.settings.split_ref)

    def run(self, context: RunContext) -> dict[str, Any]:
        settings = self.settings
        if settings.method == "split":
            value = context.value(reference_of(settings.split_ref)) if settings.split_ref else ""
            value = variables.as_text(value) if hasattr(value, "text") else (value or "")
            if not isinstance(value, str):
                raise ComponentError(
                    f"StringTransform {self.id}: the input variable is not a string: "
                    f"{type(value).__name__}."
                )
            pattern = "|".join(re.escape(d) for d in settings.delimiters)
            return {"result": re.split(pattern, value, flags=re.DOTALL)}
        joiner = settings.delimiters[0]

        def text_of(name: str) -> str:
            value = context.value(name)
            if isinstance(value, list):
                return joiner.join(variables.as_text(item) for item in value)
            return variables.as_text(value)

        return {"result": variables.REFERENCE.sub(lambda m: text_of(m.group(1)), settings.script)}
