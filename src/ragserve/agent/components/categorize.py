"""Categorize: a chat model sorts the question into one of ``category_description``'s
categories (``{name: {description, examples, to}}``) and the run goes on with that category's
``to``. Outputs ``category_name`` and ``_next``. An answer naming no category picks the last
one, which is where RAGFlow's templates put their catch-all."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ragserve.agent import variables
from ragserve.agent.components.base import Component, ComponentParams, id_list
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError

PROMPT = (
    "You sort a user's message into exactly one category. The categories:\n\n{categories}\n\n"
    "Answer with the name of the category only."
)


class Category(BaseModel):
    model_config = ConfigDict(extra="allow")

    description: str = ""
    examples: list[str] = Field(default_factory=list)
    to: list[str] = Field(default_factory=list)

    @field_validator("examples", mode="before")
    @classmethod
    def _examples(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [line for line in value.splitlines() if line.strip()]
        return value

    @field_validator("to", mode="before")
    @classmethod
    def _targets(cls, value: Any) -> Any:
        return id_list(value)


class CategorizeParams(ComponentParams):
    llm_id: str = ""
    query: str = "{sys.query}"
    category_description: dict[str, Category] = Field(min_length=1)
    message_history_window_size: int = Field(1, ge=0, le=1000)
    temperature: float | None = Field(None, ge=0, le=2)


def chosen(answer: str, names: list[str]) -> str:
    """The category the answer names (the earliest named; the longest name at one place)."""
    folded = answer.casefold()
    found = [(folded.find(name.casefold()), -len(name), name) for name in names]
    named = sorted(item for item in found if item[0] >= 0)
    return named[0][2] if named else names[-1]


class Categorize(Component):
    component_name = "Categorize"
    Params = CategorizeParams
    routes = True

    @property
    def settings(self) -> CategorizeParams:
        assert isinstance(self.params, CategorizeParams)
        return self.params

    def targets(self) -> list[str]:
        routed = [target for c in self.settings.category_description.values() for target in c.to]
        return [*super().targets(), *routed]

    def question(self, context: RunContext) -> str:
        reference = variables.bare_reference(self.settings.query)
        if reference and "{" not in self.settings.query:
            return variables.as_text(context.value(reference))
        return context.render(self.settings.query)

    def run(self, context: RunContext) -> dict[str, Any]:
        params = self.settings
        blocks = []
        for name, category in params.category_description.items():
            lines = [f"Category: {name}"]
            if category.description:
                lines.append(f"Description: {category.description}")
            lines += [f"Example: {example}" for example in category.examples]
            blocks.append("\n".join(lines))
        messages = [{"role": "system", "content": PROMPT.format(categories="\n\n".join(blocks))}]
        history = context.messages_of_history(params.message_history_window_size)
        if history:
            conversation = "\n".join(f"{m['role']}: {m['content']}" for m in history)
            messages.append(
                {"role": "user", "content": f"The conversation so far:\n{conversation}"}
            )
        messages.append({"role": "user", "content": self.question(context)})
        chat = context.environment.chat_model(params.llm_id)
        options = {"temperature": params.temperature if params.temperature is not None else 0.1}
        answer = "".join(delta.text for delta in chat.stream(messages, options))
        names = list(params.category_description)
        name = chosen(answer, names)
        targets = params.category_description[name].to
        if not targets:
            raise ComponentError(f"Categorize {self.id}: the category `{name}` leads nowhere.")
        return {"category_name": name, "_next": targets}
