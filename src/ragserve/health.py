"""Health probes of the components a process depends on."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import Engine, text

Probe = Callable[[], None]


@dataclass(frozen=True)
class Component:
    """A part the process depends on: what backend it is, and how to check it is up."""

    kind: str
    probe: Probe


@dataclass(frozen=True)
class ProbeResult:
    kind: str
    ok: bool
    elapsed_ms: float
    error: str | None = None


def run_probes(components: Mapping[str, Component]) -> dict[str, ProbeResult]:
    """Run each probe; a probe fails by raising, and its message is reported."""
    results = {}
    for name, component in components.items():
        started = time.perf_counter()
        try:
            component.probe()
        except Exception as error:  # a probe reports any failure; none may escape
            message = str(error) or type(error).__name__
            results[name] = ProbeResult(component.kind, False, _ms_since(started), message)
        else:
            results[name] = ProbeResult(component.kind, True, _ms_since(started))
    return results


def database_probe(engine: Engine) -> Probe:
    def probe() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    return probe


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
