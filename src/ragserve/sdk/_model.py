"""Server objects as Python attributes, the way ragflow-sdk shows them.

A resource class declares its attributes with their defaults in the class body; each one the
server sends replaces the default. Nested JSON objects become objects too (``parser_config``,
``llm``), lists stay lists of dicts.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

__all__ = ["Base", "default"]


def default(value: Any) -> Any:
    """A mutable default of a field, as ``name: list[str] = default([])``: each object gets a
    copy, and a dict becomes the field's nested object."""
    return value


class _Object:
    """Attributes from a JSON object. ``to_json()`` gives them back as a dict.

    ``_keep_unknown``: keys the class does not declare are kept (``Chat``, ``Session``) or
    dropped (``DataSet``, ``Document``, ``Chunk``), as in ragflow-sdk.
    """

    _fields: ClassVar[dict[str, Any]] = {}
    _nested: ClassVar[Mapping[str, type[_Object]]] = {}
    _keep_unknown: ClassVar[bool] = True

    rag: Any

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Collects the annotated class attributes, with their defaults, as the fields."""
        super().__init_subclass__(**kwargs)
        fields = dict(cls._fields)
        for name in inspect.get_annotations(cls):
            if not name.startswith("_") and name != "rag":
                fields[name] = cls.__dict__.get(name)
        cls._fields = fields

    def __init__(self, rag: Any, res_dict: Mapping[str, Any]) -> None:
        self.rag = rag
        self._merge({name: copy.deepcopy(value) for name, value in self._fields.items()})
        self._merge(res_dict)

    def _merge(self, values: Mapping[str, Any]) -> None:
        """Sets the attributes from ``values`` (a server answer), nested objects as objects."""
        for name, value in values.items():
            if not self._keep_unknown and name not in self._fields:
                continue
            if isinstance(value, Mapping):
                value = self._nested.get(name, Base)(self.rag, value)
            setattr(self, name, value)

    def to_json(self) -> dict[str, Any]:
        """The attributes as a JSON-ready dict (nested objects as dicts)."""
        return {
            name: value.to_json() if isinstance(value, _Object) else value
            for name, value in vars(self).items()
            if name != "rag" and not name.startswith("_")
        }

    def __str__(self) -> str:
        return str(self.to_json())

    def __repr__(self) -> str:
        shown = {key: getattr(self, key) for key in ("id", "name") if key in vars(self)}
        fields = shown or self.to_json()
        inner = ", ".join(f"{key}={value!r}" for key, value in fields.items())
        return f"{type(self).__name__}({inner})"


class Base(_Object):
    """A JSON object whose keys are not all known in advance: the server's nested objects
    (``parser_config.raptor``), and the resources that keep every key the server sends."""

    if TYPE_CHECKING:  # for type checkers: any key the server sent is an attribute

        def __getattr__(self, name: str) -> Any: ...
