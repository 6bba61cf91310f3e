"""``POST /api/v1/retrieval`` (spec 5): the request, checked with RAGFlow's texts and codes, and
the answer.

RAGFlow checks this body by hand, in an order and with codes of its own: the 102 texts for the
dataset list, the document list and the question (checked first, in that order, by
``_ragflow_checks``), code 100 for numbers its ``int()``/``float()`` cannot read. Unknown keys
are ignored. ``metadata_condition`` is parsed here into a ``MetadataCondition``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticUseDefault

from ragserve.errors import RetCode
from ragserve.schemas.common import MAX_PAGE, MAX_PAGE_SIZE, fixed_message
from ragserve.schemas.metadata_condition import (
    MetadataCondition,
    MetadataConditionError,
    parse_metadata_condition,
)

MAX_TOP_K = 10_000

METADATA_CONDITION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Keep only the documents whose `meta_fields` pass: "
    '`{"logic": "and"|"or", "conditions": [{"name", "comparison_operator", "value"}]}`. '
    "Operators: is, not is, contains, not contains, in, not in, start with, end with, "
    "empty, not empty, =, ≠, >, <, ≥, ≤ (and Dify's spellings). Ignored when "
    "`document_ids` is given.",
    "properties": {
        "logic": {"type": "string", "enum": ["and", "or"], "default": "and"},
        "conditions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "A `meta_fields` key."},
                    "comparison_operator": {"type": "string"},
                    "value": {"description": "A string, number or boolean; `in` takes a list."},
                },
                "required": ["name", "comparison_operator"],
            },
        },
    },
}


def _metadata_condition(value: Any) -> MetadataCondition | None:
    try:
        return parse_metadata_condition(value or None)
    except MetadataConditionError as error:
        raise fixed_message(error.code, error.message) from None


MetadataConditionField = Annotated[
    MetadataCondition | None,
    PlainValidator(_metadata_condition),
    WithJsonSchema(METADATA_CONDITION_SCHEMA),
]
"""A ``metadata_condition`` (falsy: no filter), parsed; a malformed one is 101 naming the part
at fault."""


def _as_text(value: Any) -> Any:
    return value if isinstance(value, str) else str(value)


Id = Annotated[str, BeforeValidator(_as_text)]
"""An id as RAGFlow reads it: any JSON value, as text (an unknown id is the caller's 102)."""


def _number(kind: type[int] | type[float], low: float, high: float) -> Callable[..., Any]:
    """RAGFlow's ``int(req.get(name, default))``: null or "" takes the default, numbers and
    numeric strings are read, anything else (and a value out of range) is code 100."""
    noun = "an integer" if kind is int else "a number"

    def read(raw: Any, info: ValidationInfo) -> Any:
        if raw is None or raw == "":
            raise PydanticUseDefault()
        name = info.field_name
        try:
            if isinstance(raw, bool) or (
                kind is int and isinstance(raw, float) and not raw.is_integer()
            ):
                raise ValueError
            value = kind(raw)
        except (TypeError, ValueError, OverflowError):
            raise fixed_message(
                RetCode.EXCEPTION_ERROR, f"`{name}` must be {noun}, got {raw!r}."
            ) from None
        if not low <= value <= high:
            raise fixed_message(
                RetCode.EXCEPTION_ERROR, f"`{name}` must be between {low} and {high}, got {raw!r}."
            )
        return value

    return read


def _highlight(value: Any) -> bool:
    return value not in (False, "false", "False", 0, None)


def _cross_languages(value: Any) -> Any:
    value = value or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise fixed_message(
            RetCode.DATA_ERROR, "`cross_languages` should be a list of language names"
        )
    return value


def _rerank_id(value: Any) -> Any:
    if not value:
        return None
    if not isinstance(value, str):
        raise fixed_message(RetCode.DATA_ERROR, "`rerank_id` should be a model name")
    return value


class RetrievalRequest(BaseModel):
    """What to search and how to score it; RAGFlow's defaults."""

    dataset_ids: list[Id] = Field(
        description="The datasets to search (at least one); they must share one embedding model."
    )
    question: str = Field(
        description="What to search for. An empty or blank question finds nothing.",
    )
    document_ids: Annotated[list[Id], BeforeValidator(lambda value: value or [])] = Field(
        default_factory=list,
        description="Search only these documents (of the datasets); then "
        "`metadata_condition` is ignored.",
    )
    metadata_condition: MetadataConditionField = None
    page: Annotated[int, BeforeValidator(_number(int, 1, MAX_PAGE))] = Field(
        1, ge=1, le=MAX_PAGE, description="Page of the ranked chunks, from 1."
    )
    page_size: Annotated[int, BeforeValidator(_number(int, 1, MAX_PAGE_SIZE))] = Field(
        30, ge=1, le=MAX_PAGE_SIZE, description="Chunks per page."
    )
    similarity_threshold: Annotated[float, BeforeValidator(_number(float, 0.0, 1.0))] = Field(
        0.2, ge=0, le=1, description="Chunks whose `similarity` is lower are dropped."
    )
    vector_similarity_weight: Annotated[float, BeforeValidator(_number(float, 0.0, 1.0))] = Field(
        0.3,
        ge=0,
        le=1,
        description="w in `similarity = (1 - w) * term_similarity + w * vector_similarity`.",
    )
    top_k: Annotated[int, BeforeValidator(_number(int, 1, MAX_TOP_K))] = Field(
        1024,
        ge=1,
        le=MAX_TOP_K,
        description="Candidates taken from each of the full-text and the vector search.",
    )
    rerank_id: Annotated[str | None, BeforeValidator(_rerank_id)] = Field(
        None,
        description="A rerank model (`name@factory`); its score replaces `vector_similarity`.",
    )
    keyword: Annotated[bool, BeforeValidator(bool)] = Field(
        False, description="Add keywords that the tenant's chat model draws from the question."
    )
    use_kg: Annotated[bool, BeforeValidator(bool)] = Field(
        False,
        description="Put the datasets' knowledge graph's answer first: the entities nearest "
        "to the question, their relations and community report (one passage named "
        "`Related content in Knowledge Graph`; built by `run_graphrag`).",
    )
    cross_languages: Annotated[list[str], BeforeValidator(_cross_languages)] = Field(
        default_factory=list,
        description="Search the question's translations into these languages (by the tenant's "
        "chat model) instead; on a model error the question is kept.",
    )
    highlight: Annotated[bool, BeforeValidator(_highlight)] = Field(
        True,
        description='Mark the question\'s words in `highlight` with `<em>`; false, "false" or '
        '"False" turn it off.',
    )

    @model_validator(mode="before")
    @classmethod
    def _ragflow_checks(cls, data: Any) -> Any:
        """RAGFlow's own first checks, with its texts and code 102, in its order."""
        if not isinstance(data, dict):
            return data  # the model refuses it
        dataset_ids = data.get("dataset_ids")
        if not dataset_ids:
            raise fixed_message(RetCode.DATA_ERROR, "`dataset_ids` is required.")
        if not isinstance(dataset_ids, list):
            raise fixed_message(RetCode.DATA_ERROR, "`dataset_ids` should be a list")
        if not isinstance(data.get("document_ids") or [], list):
            raise fixed_message(RetCode.DATA_ERROR, "`documents` should be a list")
        if data.get("question") is None:
            raise fixed_message(RetCode.DATA_ERROR, "`question` is required.")
        return data


class RetrievedChunk(BaseModel):
    """A chunk found, with its scores."""

    id: str = Field(description="The chunk's id (16 hex digits).")
    content: str
    content_ltks: str = Field(description="The content's full-text tokens, space separated.")
    document_id: str
    document_keyword: str = Field(description="The document's name.")
    dataset_id: str
    important_keywords: list[str]
    questions: list[str]
    image_id: str = Field(description='An image of the chunk, or "".')
    similarity: float = Field(
        description="`(1 - w) * term_similarity + w * vector_similarity`, "
        "w = `vector_similarity_weight`."
    )
    vector_similarity: float = Field(
        description="Cosine of the question's and the chunk's embeddings, or the rerank "
        "model's score when `rerank_id` is given."
    )
    term_similarity: float = Field(description="Full-text (BM25) score scaled to [0, 1].")
    positions: list[list[int]] = Field(
        description="`[page, x0, x1, top, bottom]` boxes of the chunk in its document."
    )
    doc_type_kwd: str = ""
    mom_id: str = ""
    highlight: str | None = Field(
        None,
        exclude_if=lambda value: value is None,
        description="The content with the question's words in `<em>`; absent when "
        "`highlight` is off.",
    )


class DocumentAggregate(BaseModel):
    """How many of the chunks found are of one document."""

    doc_name: str
    doc_id: str
    count: int


class RetrievalData(BaseModel):
    """One page of the chunks found, best first."""

    total: int = Field(
        description="Chunks reaching `similarity_threshold` among the candidates (`top_k` "
        "caps them), over all pages."
    )
    chunks: list[RetrievedChunk]
    doc_aggs: list[DocumentAggregate] | dict[str, Any] = Field(
        description="Chunks per document over all `total` chunks, most first. `{}` (as in "
        "RAGFlow) when the question is blank or `metadata_condition` matched no document."
    )
