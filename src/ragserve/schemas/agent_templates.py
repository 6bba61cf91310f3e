"""The agent templates ragserve ships, as ``GET /v1/canvas/templates`` lists them (RAGFlow's
``canvas_template`` rows)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class AgentTemplate(BaseModel):
    id: str = Field(description="The template's name, for `agent create --template`.")
    title: dict[str, str] = Field(description="The title per language code.")
    description: dict[str, str] = Field(description="The description per language code.")
    canvas_type: str = Field(description="The template's group (Recommended, Agent, …).")
    canvas_category: str = "agent_canvas"
    avatar: str = ""
    dsl: dict[str, Any] = Field(description="The DSL to create an agent with.")
