"""The agent templates ragserve ships (``ragserve.agent.templates``), for
``GET /v1/canvas/templates`` and the client's ``agent create --template``."""

from __future__ import annotations

from ragserve.agent import templates
from ragserve.schemas.agent_templates import AgentTemplate


def list_templates() -> list[AgentTemplate]:
    return [AgentTemplate.model_validate(template) for template in templates.templates()]
