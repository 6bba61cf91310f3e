"""Errors of agents: a DSL that cannot run, and a component that failed while running."""

from __future__ import annotations

from ragserve.errors import ArgumentError, RagserveError


class DslError(ArgumentError):
    """The DSL cannot run: its shape, an unknown component, or a parameter (the message names
    the component and the parameter)."""


class ComponentError(RagserveError):
    """A component failed while running; the message is shown to the client."""


class RunStopped(RagserveError):
    """The run stops before its end: it is not a component's failure (no retry, no handler)."""


class RunTimeout(RunStopped):
    """The run went past its time limit."""


class RunCancelled(RunStopped):
    """The run was cancelled (``PUT /v1/canvas/cancel/{agent id}``)."""
