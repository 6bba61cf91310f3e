"""The tools: components that run as canvas nodes and as an Agent's tools (one module each, or
one module per family of similar web APIs). ``TOOLS`` maps ``component_name`` to the class."""

from __future__ import annotations

from ragserve.agent.tools.base import Tool
from ragserve.agent.tools.exesql import ExeSQL

TOOLS: dict[str, type[Tool]] = {cls.component_name: cls for cls in (ExeSQL,)}

__all__ = ["TOOLS", "Tool"]
