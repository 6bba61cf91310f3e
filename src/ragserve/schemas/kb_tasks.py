"""The web twins of the dataset task routes (``/v1/kb/run_*``, ``trace_*``, ``unbind_task``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class KbBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kb_id: str = Field(description="The dataset's id.")


class KbQuery(BaseModel):
    kb_id: str = Field(description="The dataset's id.")


class UnbindQuery(BaseModel):
    kb_id: str = Field(description="The dataset's id.")
    pipeline_task_type: Literal["GraphRAG", "RAPTOR", "Mindmap"] = Field(
        description="Which task to cancel and whose output to delete."
    )


class MindmapTaskQueued(BaseModel):
    mindmap_task_id: str
