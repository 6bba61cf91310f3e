"""Variable references in component parameters (spec ragflow-more A.2).

A reference is written in braces inside text: ``{sys.query}``, ``{sys.user_id}``,
``{sys.conversation_turns}``, ``{sys.files}``, ``{env.<name>}`` (a conversation variable), or
``{<component id>@<output>[.path]}`` (``{begin@<input>}`` for the Begin form's inputs). A
dotted path indexes into dicts, lists (by position) and JSON text. Parameters that hold only a
reference (Switch's ``cpn_id``, Retrieval's ``kb_vars``) name it without braces.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_NAME = r"[^{}\s@\"']+(?: [^{}\s@\"']+)*"
REFERENCE = re.compile(r"\{\s*((?:sys|env)\.[A-Za-z0-9_.\-]+|[A-Za-z0-9_:\-]+@" + _NAME + r")\s*\}")
"""A reference in text, the name in group 1."""
_BARE = re.compile(r"^\s*((?:sys|env)\.[A-Za-z0-9_.\-]+|[A-Za-z0-9_:\-]+@" + _NAME + r")\s*$")


def references(text: str) -> list[str]:
    """The names referenced in ``text``, in order."""
    return [match.group(1) for match in REFERENCE.finditer(text)]


def bare_reference(text: str) -> str | None:
    """``text`` when it is one reference without braces (or with them), else None."""
    match = _BARE.match(text) or REFERENCE.fullmatch(text.strip())
    return match.group(1) if match else None


def component_of(name: str) -> str | None:
    """The component id a reference reads from (``None`` for ``sys.``/``env.`` names)."""
    if name.startswith(("sys.", "env.")):
        return None
    return name.split("@", 1)[0]


def split(name: str) -> tuple[str, list[str]]:
    """``"Agent:X@content.a.0"`` -> ``("Agent:X@content", ["a", "0"])``; ``sys``/``env`` names
    keep their first dot: ``"env.items.0"`` -> ``("env.items", ["0"])``."""
    if name.startswith(("sys.", "env.")):
        head, _, rest = name.partition(".")
        key, _, path = rest.partition(".")
        return f"{head}.{key}", path.split(".") if path else []
    component, _, output = name.partition("@")
    key, _, path = output.partition(".")
    return f"{component}@{key}", path.split(".") if path else []


def walk(value: Any, path: list[str]) -> Any:
    """``value`` indexed by ``path``; None where a step does not exist."""
    for step in path:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return None
        if isinstance(value, dict):
            value = value.get(step)
        elif isinstance(value, list | tuple) and step.lstrip("-").isdigit():
            index = int(step)
            value = value[index] if -len(value) <= index < len(value) else None
        else:
            return None
    return value


def as_text(value: Any) -> str:
    """A value as it appears in text: strings as they are, None as nothing, the rest as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    text = getattr(value, "text", None)
    if callable(text):  # a streamed output, read whole
        return str(text())
    return json.dumps(value, ensure_ascii=False, default=str)


def render(text: str, lookup: Callable[[str], Any]) -> str:
    """``text`` with each reference replaced by its value as text."""
    return REFERENCE.sub(lambda match: as_text(lookup(match.group(1))), text)
