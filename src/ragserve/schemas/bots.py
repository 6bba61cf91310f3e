"""The embedded widgets' routes (``/api/v1/chatbots|agentbots|searchbots``, spec ragflow-more
B.5, ragflow-api 1.7 and 4.5): requests and answers.

Bodies are read leniently, as RAGFlow's handlers read them: unknown keys are ignored (a chat
bot's become prompt variables), and the keys RAGFlow's ``validate_request`` wants answer its
101 ``required argument are missing: …; `` when absent.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, model_validator
from typing_extensions import TypedDict

from ragserve.errors import RetCode
from ragserve.schemas.common import fixed_message, required_arguments
from ragserve.schemas.completions import CompletionRequest, Switch

# --- chat bots -----------------------------------------------------------------------------------


class ChatbotCompletionRequest(CompletionRequest):
    """Body of ``POST /chatbots/{chat_id}/completions``: a chat completion's, but passages are
    cited only when ``quote`` is given true (RAGFlow's embedded chat default)."""

    quote: Switch = Field(False, description="Cite passages as `[ID:n]`.")


class ChatbotInfo(BaseModel):
    """What the chat widget shows before the first question."""

    title: str = Field(description="The chat's name.")
    avatar: str | None = Field(description="The chat's icon (base64 data or a URL).")
    prologue: str = Field(description="The chat's opener.")
    has_tavily_key: bool = Field(description="The chat searches the web (Tavily).")


# --- agent bots ----------------------------------------------------------------------------------


class AgentbotInputs(BaseModel):
    """What the agent widget shows before the first run."""

    title: str
    avatar: str | None
    inputs: dict[str, Any] = Field(description="The Begin component's input form.")
    prologue: str
    mode: str = Field(description="The Begin mode: `conversational`, `task` or `Webhook`.")


# --- search bots ---------------------------------------------------------------------------------


def _id_list(value: Any) -> list[str]:
    """A dataset id or a list of them (RAGFlow's ``kb_id``): always a list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise fixed_message(RetCode.ARGUMENT_ERROR, "Dataset ids must be a list of strings.")
    return [item for item in value if item]


def _text(value: Any) -> Any:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise fixed_message(RetCode.ARGUMENT_ERROR, "Expected a string.")
    return value


IdList = Annotated[list[str], BeforeValidator(_id_list)]
Text = Annotated[str, BeforeValidator(_text)]


class _SearchBotBody(BaseModel):
    """A search bot's body: the required keys checked as ``validate_request`` does."""

    @model_validator(mode="before")
    @classmethod
    def _present(cls, data: Any) -> Any:
        required_arguments(data, *cls._required_keys())
        return data

    @classmethod
    def _required_keys(cls) -> tuple[str, ...]:
        return ()


class SearchAskRequest(_SearchBotBody):
    """Body of ``POST /searchbots/ask`` and ``/searchbots/mindmap``."""

    question: Text = Field(description="What to ask.")
    kb_ids: IdList = Field(
        description="The datasets to search; a saved app's own `kb_ids` replace them."
    )
    search_id: Text = Field("", description="A saved search app whose config applies.")

    @classmethod
    def _required_keys(cls) -> tuple[str, ...]:
        return ("question", "kb_ids")


class SearchRelatedRequest(_SearchBotBody):
    """Body of ``POST /searchbots/related_questions``."""

    question: Text
    search_id: Text = Field("", description="A saved search app (its `chat_id` answers).")

    @classmethod
    def _required_keys(cls) -> tuple[str, ...]:
        return ("question",)


class SearchRetrievalRequest(_SearchBotBody):
    """Body of ``POST /searchbots/retrieval_test``: RAGFlow's ``/v1/chunk/retrieval_test``."""

    kb_id: IdList = Field(description="A dataset id or a list of them.")
    question: Text
    page: int = Field(1, ge=1, le=100_000)
    size: int = Field(30, ge=1, le=1024, description="Chunks per page.")
    doc_ids: IdList = Field(default_factory=list, description="Search only these documents.")
    similarity_threshold: float = Field(0.0, ge=0.0, le=1.0)
    vector_similarity_weight: float = Field(0.3, ge=0.0, le=1.0)
    top_k: int = Field(1024, ge=1, le=10_000)
    rerank_id: Text = ""
    keyword: Switch = False
    highlight: Switch = False
    cross_languages: list[str] = Field(default_factory=list)
    search_id: Text = ""

    @classmethod
    def _required_keys(cls) -> tuple[str, ...]:
        return ("kb_id", "question")


class SearchBotChunk(TypedDict):
    """A chunk as RAGFlow's retriever returns it (its internal field names)."""

    chunk_id: str
    content_ltks: str
    content_with_weight: str
    doc_id: str
    docnm_kwd: str
    kb_id: str
    important_kwd: list[str]
    image_id: str
    similarity: float
    vector_similarity: float
    term_similarity: float
    positions: list[list[int]]
    doc_type_kwd: str
    highlight: Annotated[str, Field(description="With `highlight`: the content, matches in <em>.")]


class SearchBotDocument(TypedDict):
    doc_name: str
    doc_id: str
    count: int


class SearchBotRetrieval(BaseModel):
    """One page of ``/searchbots/retrieval_test``."""

    total: int
    chunks: list[SearchBotChunk]
    doc_aggs: list[SearchBotDocument]
    labels: dict[str, Any] = Field(
        default_factory=dict, description="Tag-set labels of the question (always empty here)."
    )


class MindMapNode(BaseModel):
    """A node of a mind map: its text and its children (leaves have none)."""

    id: str
    children: list[MindMapNode] | None = Field(None, exclude_if=lambda value: value is None)
