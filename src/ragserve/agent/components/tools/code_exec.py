"""CodeExec: runs a Python script's ``main(**arguments)`` in a sandbox (``sandbox.py``).

Off unless the setting ``agent_code_exec_enabled`` is true (a node then fails saying so).
Parameters (RAGFlow's): ``lang`` (python; nodejs is refused), ``script`` (defining
``main``), ``arguments`` (``{name: reference or value}``), ``outputs`` (``{name: {type}}``:
the one output besides RAGFlow's system names receives ``main``'s value). Outputs: that
output (whose declared ``type`` the value must have), ``content`` (the value as text: JSON
for objects and lists), ``actual_type``
(String, Number, Boolean, Object, Array<…>, Null) and ``stdout`` (what the script printed).
As an Agent tool the model may give the ``script`` (and ``lang``); the node's arguments are
passed to its ``main``.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, field_validator

from ragserve.agent import variables
from ragserve.agent.components.base import ComponentParams
from ragserve.agent.components.tools.base import Tool, ToolArgument, names_a_variable
from ragserve.agent.components.tools.sandbox import run_python
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError

SYSTEM_OUTPUTS = frozenset(
    {"content", "actual_type", "attachments", "_ERROR", "_ARTIFACTS", "_ATTACHMENT_CONTENT",
     "raw_result", "_created_time", "_elapsed_time", "stdout"}
)  # fmt: skip


class CodeExecParams(ComponentParams):
    lang: str = "python"
    script: str = 'def main(arg1: str, arg2: str) -> dict:\n    return {"result": arg1 + arg2}'
    arguments: dict[str, Any] = Field(default_factory=dict)

    @field_validator("lang")
    @classmethod
    def _python_only(cls, value: str) -> str:
        if value.lower() in ("python", "python3"):
            return "python"
        if value.lower() in ("nodejs", "javascript"):
            raise ValueError("only Python runs in ragserve's sandbox (not JavaScript)")
        raise ValueError(f"unsupported language `{value}`")


def actual_type(value: Any) -> str:
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        return "Number"
    if isinstance(value, str):
        return "String"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        inner = {actual_type(item) for item in value}
        return f"Array<{inner.pop()}>" if len(inner) == 1 else "Array<Any>"
    return "Any"


def _matches(expected: str, value: Any) -> bool:
    low = expected.lower()
    if low in ("", "any"):
        return True
    if low.startswith("array<") and low.endswith(">"):
        inner = expected[6:-1].strip()
        return isinstance(value, list) and all(_matches(inner, item) for item in value)
    simple = {"string": "String", "number": "Number", "boolean": "Boolean", "object": "Object",
              "null": "Null"}  # fmt: skip
    return low not in simple or actual_type(value) == simple[low]


def as_content(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
    return str(value)


class CodeExec(Tool):
    component_name = "CodeExec"
    Params = CodeExecParams
    function_description = (
        "Runs Python code in a sandbox (no network, standard library only) and returns what "
        "its `main` function returns. The script MUST define `main`, for example:\n"
        'def main() -> dict:\n    return {"result": sum(range(10))}'
    )
    arguments = (
        ToolArgument("script", "Python code defining a `main` function.", required=True,
                     default=""),
    )  # fmt: skip

    @property
    def settings_of_code(self) -> CodeExecParams:
        assert isinstance(self.params, CodeExecParams)
        return self.params

    def business_output(self) -> str:
        names = [name for name in self.params.outputs if name not in SYSTEM_OUTPUTS]
        return names[0] if len(names) == 1 else "result"

    def arguments_for(
        self, context: RunContext, given: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The model's script, else the node's (never rendered: braces are Python's)."""
        return {"script": (given or {}).get("script") or self.settings_of_code.script}

    def call(self, context: RunContext, arguments: dict[str, Any]) -> dict[str, Any]:
        settings = self.settings(context)
        if not settings.agent_code_exec_enabled:
            raise ComponentError(
                "CodeExec is off on this server (setting `agent_code_exec_enabled`)."
            )
        script = str(arguments.get("script") or self.settings_of_code.script)
        given = {
            name: self._value(context, value)
            for name, value in self.settings_of_code.arguments.items()
        }
        outcome = run_python(
            script,
            given,
            timeout=settings.agent_code_exec_timeout,
            memory_mb=settings.agent_code_exec_memory_mb,
        )
        value = outcome.result
        self._check_type(value)
        return {
            self.business_output(): value,
            "content": as_content(value),
            "actual_type": actual_type(value),
            "stdout": outcome.printed,
        }

    def _check_type(self, value: Any) -> None:
        """The value must have the type its output declares (``String``, ``Number``,
        ``Boolean``, ``Object``, ``Null``, ``Array<…>``; ``Any`` or none: anything)."""
        declared = self.params.outputs.get(self.business_output())
        expected = str(declared.get("type") or "") if isinstance(declared, dict) else ""
        if not _matches(expected.strip(), value):
            raise ComponentError(
                f"CodeExec: `{self.business_output()}` should be {expected}, "
                f"not {actual_type(value)}."
            )

    @staticmethod
    def _value(context: RunContext, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        reference = variables.bare_reference(value)
        if reference and "{" not in value and names_a_variable(reference):
            return context.value(reference)
        return context.render(value)
