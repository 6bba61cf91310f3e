"""RAGFlow's ``parser_config`` request model (spec §3.3): strict types, extra keys forbidden."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from ragserve.schemas.common import StrictModel

DatasetChunkMethod = Literal[
    "naive",
    "book",
    "email",
    "laws",
    "manual",
    "one",
    "paper",
    "picture",
    "presentation",
    "qa",
    "table",
    "tag",
]
"""The methods accepted at dataset create/update, in the order pydantic's error message lists."""

DEFAULT_RAPTOR_PROMPT = (
    "Please summarize the following paragraphs. Be careful with the numbers, do not make things"
    " up. Paragraphs as following:\n      {cluster_content}\n"
    "The above is the content you need to summarize."
)
DEFAULT_ENTITY_TYPES = ("organization", "person", "geo", "event", "category")


class RaptorConfig(StrictModel):
    use_raptor: bool = False
    prompt: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = (
        DEFAULT_RAPTOR_PROMPT
    )
    max_token: Annotated[int, Field(ge=1, le=2048)] = 256
    threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1
    max_cluster: Annotated[int, Field(ge=1, le=1024)] = 64
    random_seed: Annotated[int, Field(ge=0)] = 0
    auto_disable_for_structured_data: bool = True


class GraphragConfig(StrictModel):
    use_graphrag: bool = False
    entity_types: list[str] = Field(default_factory=lambda: list(DEFAULT_ENTITY_TYPES))
    method: Literal["light", "general"] = "light"
    community: bool = False
    resolution: bool = False


class ParserConfig(StrictModel):
    """RAGFlow's ``ParserConfig`` request model: strict types, extra keys forbidden.

    ``raptor`` and ``graphrag`` default to their sub-models' defaults (both switched off), as in
    RAGFlow, so a full dump always carries them; ``null`` is rejected for both.
    """

    auto_keywords: Annotated[int, Field(ge=0, le=32)] = 0
    auto_questions: Annotated[int, Field(ge=0, le=10)] = 0
    chunk_token_num: Annotated[int, Field(ge=1, le=2048)] = 512
    delimiter: Annotated[str, Field(min_length=1)] = "\\n"
    graphrag: GraphragConfig = Field(default_factory=GraphragConfig)
    html4excel: bool = False
    layout_recognize: str = "DeepDOC"
    raptor: RaptorConfig = Field(default_factory=RaptorConfig)
    tag_kb_ids: list[str] = Field(default_factory=list)
    topn_tags: Annotated[int, Field(ge=1, le=10)] = 1
    filename_embd_weight: Annotated[float | None, Field(ge=0.0, le=1.0)] = 0.1
    task_page_size: Annotated[int | None, Field(ge=1)] = None
    pages: list[list[int]] | None = None
    toc_extraction: bool | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Extract each document's table of contents with the chat model when it is "
        "parsed (used by chat assistants with `toc_enhance`). Only shown when set.",
    )
