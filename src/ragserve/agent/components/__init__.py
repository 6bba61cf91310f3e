"""The components an agent may use, by ``component_name``. One module per component."""

from __future__ import annotations

from ragserve.agent.components.agent import Agent
from ragserve.agent.components.base import Component
from ragserve.agent.components.begin import Begin
from ragserve.agent.components.categorize import Categorize
from ragserve.agent.components.data_operations import DataOperations
from ragserve.agent.components.excel_processor import ExcelProcessor
from ragserve.agent.components.fillup import UserFillUp
from ragserve.agent.components.invoke import Invoke
from ragserve.agent.components.iteration import Iteration, IterationItem
from ragserve.agent.components.list_operations import ListOperations
from ragserve.agent.components.llm import LLM
from ragserve.agent.components.loop import ExitLoop, Loop, LoopItem
from ragserve.agent.components.message import Message
from ragserve.agent.components.pdf_generator import PDFGenerator
from ragserve.agent.components.retrieval import Retrieval
from ragserve.agent.components.string_transform import StringTransform
from ragserve.agent.components.switch import Switch
from ragserve.agent.components.tools import TOOLS
from ragserve.agent.components.variable_aggregator import VariableAggregator
from ragserve.agent.components.variable_assigner import VariableAssigner

COMPONENTS: dict[str, type[Component]] = {
    cls.component_name: cls
    for cls in (
        Begin,
        UserFillUp,
        Message,
        LLM,
        Agent,
        Retrieval,
        Categorize,
        Switch,
        VariableAssigner,
        Iteration,
        IterationItem,
        Loop,
        LoopItem,
        ExitLoop,
        VariableAggregator,
        DataOperations,
        ListOperations,
        StringTransform,
        Invoke,
        PDFGenerator,
        ExcelProcessor,
    )
}
COMPONENTS.update(TOOLS)  # the tools are components too (nodes and Agent tools)

NOT_YET_SUPPORTED = frozenset(
    {
        "AkShare", "WenCai",
    }
)  # fmt: skip
"""RAGFlow's other component names: a DSL using one is refused with a message saying that
ragserve does not run it yet, rather than that it does not exist."""

__all__ = ["COMPONENTS", "NOT_YET_SUPPORTED", "Component"]
