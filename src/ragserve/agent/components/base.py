"""The component contract and the parameters every component has (``ComponentParamBase`` in
RAGFlow's terms: ``inputs``, ``outputs``, ``description``, the exception handling and the
history window).

A component is built once per run from its node: ``Params`` checks and completes the node's
``params`` (unknown keys are kept, as RAGFlow's UI writes many), ``run`` computes the outputs
from a ``RunContext``. Components that route (Categorize, Switch) put the ids to go on with in
the ``_next`` output; Message streams (``stream``); UserFillUp pauses the run (``pauses``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ragserve.agent import variables
from ragserve.agent.context import RunContext
from ragserve.agent.errors import DslError
from ragserve.agent.streaming import Piece
from ragserve.schemas.agent_dsl import ComponentNode


def id_list(value: Any) -> Any:
    """RAGFlow writes a single target as a string and no target as null or ""."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return value


class ComponentParams(BaseModel):
    """Parameters every component takes."""

    model_config = ConfigDict(extra="allow")

    inputs: Any = None
    outputs: dict[str, Any] = Field(default_factory=dict)
    description: str | None = ""
    max_retries: int = Field(0, ge=0, le=10, description="Runs again after an error.")
    delay_after_error: float = Field(2.0, ge=0, le=60, description="Seconds between retries.")
    exception_method: Literal["goto", "comment"] | None = Field(
        None,
        description="After the last failure: `goto` goes on with `exception_goto`, `comment` "
        "goes on downstream with `exception_default_value` as the output; none fails the run.",
    )
    exception_goto: list[str] = Field(default_factory=list)
    exception_default_value: Any = None
    message_history_window_size: int = Field(12, ge=0, le=1000)

    @field_validator("exception_method", mode="before")
    @classmethod
    def _none_when_empty(cls, value: Any) -> Any:
        return None if value in ("", "none", "None") else value

    @field_validator("exception_goto", mode="before")
    @classmethod
    def _a_list(cls, value: Any) -> Any:
        return id_list(value)


def text_params(value: Any) -> Iterator[str]:
    """Every string inside a parameter value (for finding references)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from text_params(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from text_params(item)


class Component:
    component_name: ClassVar[str]
    Params: ClassVar[type[ComponentParams]] = ComponentParams
    pauses: ClassVar[bool] = False
    streams: ClassVar[bool] = False
    routes: ClassVar[bool] = False
    """The ``_next`` output chooses where the run goes on (Categorize, Switch)."""
    finishes_later: ClassVar[bool] = False
    """Its ``node_finished`` comes when its children are done (Iteration, Loop)."""

    def __init__(self, component_id: str, params: ComponentParams, node: ComponentNode) -> None:
        self.id = component_id
        self.params = params
        self.node = node
        self.parent: Component | None = None
        """The Iteration or Loop this component is a child of (``parent_id``), set on load."""
        self.children: list[Component] = []

    def check_children(self) -> None:
        """Raise ``DslError`` when the children (``parent_id``) do not fit this component."""
        if self.children:
            raise DslError(
                f"Component `{self.children[0].id}`: its parent `{self.id}` is a "
                f"{self.component_name}, not an Iteration or a Loop."
            )

    def loop_start(self) -> str | None:
        """The child a pass of this Iteration or Loop starts with (None for the others)."""
        return None

    def next_ids(self, context: RunContext, outputs: dict[str, Any]) -> list[str] | None:
        """Where the run goes on when the component decides it (Iteration, Loop, their items,
        ExitLoop); None: the runner's rule (``_next``, else ``downstream``; a child without
        ``downstream`` goes back to its parent's start)."""
        return None

    def ends_parent(self, context: RunContext) -> bool:
        """Whether this run finished its parent Iteration or Loop."""
        return False

    def targets(self) -> list[str]:
        """Every id this component may go on with (checked to exist when the DSL loads)."""
        return [*self.node.downstream, *self.params.exception_goto]

    def referenced(self) -> Iterator[tuple[str, str]]:
        """``(parameter, reference)`` for each reference in the parameters."""
        for name, value in self.params.model_dump().items():
            if name in ("outputs", "inputs"):
                continue
            for text in text_params(value):
                for reference in variables.references(text):
                    yield name, reference

    def run(self, context: RunContext) -> dict[str, Any]:
        """The outputs. Raise ``ComponentError`` (or any ``RagserveError``) on failure."""
        raise NotImplementedError

    def stream(self, context: RunContext) -> Iterator[Piece]:
        """Message text as it comes (only for ``streams`` components)."""
        raise NotImplementedError

    def default_outputs(self) -> dict[str, Any]:
        """Outputs after a failure handled by ``exception_method: comment``."""
        value = self.params.exception_default_value
        outputs = {"content": value, "result": value}
        outputs.update({name: value for name in self.params.outputs})
        return outputs
