"""The closed sets of RAGFlow's vocabulary, defined once; every layer imports them from here.

Their values are what RAGFlow stores and sends (``run`` codes are digit strings, ``status`` is
``"1"``/``"0"``), so they go to the database and the wire unchanged.
"""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    """A document's parsing state (RAGFlow's ``TaskStatus``): the code is stored, the name is
    what the API shows."""

    UNSTART = "0"
    RUNNING = "1"
    CANCEL = "2"
    DONE = "3"
    FAIL = "4"
    SCHEDULE = "5"


class Validity(StrEnum):
    """RAGFlow's ``StatusEnum``: a row's ``status``; an invalid row is kept but not used."""

    VALID = "1"
    INVALID = "0"


class Permission(StrEnum):
    """Who may see a dataset: only its owner, or the members of the owner's team."""

    ME = "me"
    TEAM = "team"


class ChunkMethod(StrEnum):
    """RAGFlow's ``ParserType`` values (stored as a dataset's or document's ``chunk_method``)."""

    PRESENTATION = "presentation"
    LAWS = "laws"
    MANUAL = "manual"
    PAPER = "paper"
    RESUME = "resume"
    BOOK = "book"
    QA = "qa"
    TABLE = "table"
    NAIVE = "naive"
    PICTURE = "picture"
    ONE = "one"
    AUDIO = "audio"
    EMAIL = "email"
    KNOWLEDGE_GRAPH = "knowledge_graph"
    TAG = "tag"
