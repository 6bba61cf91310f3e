"""Requests and responses of the document routes (spec 2.2), with RAGFlow's names and texts.

The list query keeps RAGFlow's lenient parsing; the update body checks what RAGFlow checks
without the stored document (types, names), in RAGFlow's order; what needs the document (the
read-only counters, the extension, a taken name) is checked by the service.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    WithJsonSchema,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError
from starlette.datastructures import UploadFile

from ragserve.domain import RunState
from ragserve.errors import RagserveError, RetCode
from ragserve.schemas.common import ListPage, ListPageSize, fixed_message
from ragserve.schemas.metadata_condition import MetadataCondition, parse_metadata_condition

RUN_NAMES = {state.value: state.name for state in RunState if state is not RunState.SCHEDULE}
"""What the API shows for each stored ``run`` code (RAGFlow has no name for SCHEDULE)."""
RUN_CODES = {name: code for code, name in RUN_NAMES.items()}
SORTABLE_COLUMNS = (
    "create_time",
    "update_time",
    "name",
    "size",
    "type",
    "suffix",
    "run",
    "status",
    "progress",
    "chunk_count",
    "token_count",
)
MAX_NAME_BYTES = 255
MAX_TIME_MS = 2**53

DocumentChunkMethod = Literal[
    "naive",
    "manual",
    "qa",
    "table",
    "paper",
    "book",
    "laws",
    "presentation",
    "picture",
    "one",
    "knowledge_graph",
    "email",
    "tag",
]
"""The methods a document may be switched to (RAGFlow's list; not ``resume`` nor ``audio``)."""
DOCUMENT_CHUNK_METHODS: frozenset[str] = frozenset(get_args(DocumentChunkMethod))


def as_fixed(error: RagserveError) -> PydanticCustomError:
    """A domain parser's error (its text and code) as a model's validation failure."""
    return fixed_message(error.code, error.message)


def clean_filename(filename: str) -> str:
    """The last path component: clients may send ``dir/a.txt`` or ``..\\a.txt``."""
    return filename.replace("\\", "/").rsplit("/", 1)[-1].strip()


# --------------------------------------------------------------------------------------------
# upload


def uploaded_files(value: Any) -> list[UploadFile]:
    """The ``file`` parts of an upload (text fields of that name do not count), each with a
    usable name, in RAGFlow's order of checks."""
    items = value if isinstance(value, list) else [value]
    files = [item for item in items if isinstance(item, UploadFile)]
    if not files:
        raise fixed_message(RetCode.ARGUMENT_ERROR, "No file part!")
    for file in files:
        name = clean_filename(file.filename or "")
        if name in ("", ".", ".."):
            raise fixed_message(RetCode.ARGUMENT_ERROR, "No file selected!")
        if len(name.encode()) > MAX_NAME_BYTES:
            raise fixed_message(RetCode.ARGUMENT_ERROR, "File name must be 255 bytes or less.")
    return files


# --------------------------------------------------------------------------------------------
# list


def _false_only_when_false(value: Any) -> bool:
    """RAGFlow's ``desc``: false only for the string ``false`` (any case)."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() != "false"


def _run_state(value: Any) -> RunState:
    text = str(value).strip().upper()
    if text in RUN_CODES:
        return RunState(RUN_CODES[text])
    if text in RUN_NAMES or text == RunState.SCHEDULE:
        return RunState(text)
    raise ValueError(f"run must be one of {', '.join(RUN_NAMES.values())} or 0-5")


def _empty_is_none(value: Any) -> Any:
    """An empty query value (``?id=``) means the filter is not set, as in RAGFlow."""
    return None if value == "" else value


OptionalText = Annotated[str | None, BeforeValidator(_empty_is_none)]
RunFilter = Annotated[
    RunState,
    BeforeValidator(_run_state),
    WithJsonSchema({"type": "string", "enum": [*RUN_CODES, *(state.value for state in RunState)]}),
]
TimeMs = Annotated[int, Field(ge=0, le=MAX_TIME_MS)]


class ListDocuments(BaseModel):
    """Query string of ``GET …/documents``: strings are coerced, unknown keys ignored."""

    model_config = ConfigDict(extra="ignore")

    page: ListPage = 1
    page_size: ListPageSize = 30
    orderby: str = Field(
        "create_time",
        description=f"A column to sort by: {', '.join(SORTABLE_COLUMNS)} "
        "(`chunk_num` and `token_num` are accepted for the counts).",
    )
    desc: Annotated[bool, BeforeValidator(_false_only_when_false)] = Field(
        True, description="Newest first; false only for the text `false`."
    )
    keywords: OptionalText = Field(None, description="A case-insensitive part of the name.")
    id: OptionalText = Field(None, description="Only this document (an unknown id is an error).")
    name: OptionalText = Field(None, description="Only the document with exactly this name.")
    suffix: list[str] = Field([], description="File extensions, repeatable: `?suffix=pdf`.")
    run: list[RunFilter] = Field(
        [],
        description="Parse states, repeatable: UNSTART, RUNNING, CANCEL, DONE, FAIL or 0-5.",
    )
    create_time_from: TimeMs = Field(
        0, description="Created at or after, in epoch milliseconds; 0: no bound."
    )
    create_time_to: TimeMs = Field(
        0, description="Created at or before, in epoch milliseconds; 0: no bound."
    )
    metadata_condition: Annotated[
        MetadataCondition | None,
        WithJsonSchema(
            {
                "type": "string",
                "description": 'JSON text: `{"logic": "and"|"or", "conditions": [{"name", '
                '"comparison_operator", "value"}]}`, tested against `meta_fields`.',
            }
        ),
    ] = None

    @field_validator("orderby")
    @classmethod
    def _known_column(cls, value: str) -> str:
        aliases = {"chunk_num": "chunk_count", "token_num": "token_count"}
        value = aliases.get(value, value)
        if value not in SORTABLE_COLUMNS:
            raise ValueError(f"orderby must be one of {', '.join(SORTABLE_COLUMNS)}")
        return value

    @field_validator("metadata_condition", mode="before")
    @classmethod
    def _condition_json(cls, value: Any) -> Any:
        if value is None or value == "" or isinstance(value, MetadataCondition):
            return None if value == "" else value
        try:
            raw = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError:
            raise fixed_message(
                RetCode.DATA_ERROR, "metadata_condition must be valid JSON."
            ) from None
        if not isinstance(raw, dict):
            raise fixed_message(RetCode.DATA_ERROR, "metadata_condition must be an object.")
        try:
            return parse_metadata_condition(raw)
        except RagserveError as error:
            raise as_fixed(error) from None


# --------------------------------------------------------------------------------------------
# update


def _required_type(kind: type | tuple[type, ...], code: RetCode, message: str) -> BeforeValidator:
    def check(value: Any) -> Any:
        if not isinstance(value, kind):
            raise fixed_message(code, message)
        return value

    return BeforeValidator(check)


def _new_name(value: Any) -> str:
    if not isinstance(value, str):
        raise fixed_message(RetCode.ARGUMENT_ERROR, "`name` must be a string.")
    if clean_filename(value) != value:
        raise fixed_message(
            RetCode.ARGUMENT_ERROR, "File name can't contain '/' or '\\' or surrounding spaces."
        )
    if len(value.encode()) > MAX_NAME_BYTES:
        raise fixed_message(RetCode.ARGUMENT_ERROR, "File name must be 255 bytes or less.")
    return value


def _document_method(value: Any) -> Any:
    if not isinstance(value, str) or value not in DOCUMENT_CHUNK_METHODS:
        raise fixed_message(RetCode.DATA_ERROR, f"`chunk_method` {value} doesn't exist")
    return value


def _enabled(value: Any) -> bool:
    if not isinstance(value, bool | int):
        raise fixed_message(RetCode.ARGUMENT_ERROR, "`enabled` must be a boolean.")
    return bool(value)


NotNull = SkipJsonSchema[None]
"""In an optional field that refuses an explicit null: ``None`` only means "not given"."""
READ_ONLY_FIELDS = ("chunk_count", "token_count", "progress")
_READ_ONLY = "Read-only: accepted only when equal to the current value."


class UpdateDocument(BaseModel):
    """Body of ``PUT …/documents/{id}``: every key is optional, unknown keys are ignored.
    Fields are checked in RAGFlow's order; the first failure is the answer."""

    model_config = ConfigDict(extra="ignore")

    chunk_count: JsonValue = Field(None, description=_READ_ONLY)
    token_count: JsonValue = Field(None, description=_READ_ONLY)
    progress: JsonValue = Field(None, description=_READ_ONLY)
    meta_fields: Annotated[
        dict[str, Any] | NotNull,
        _required_type(dict, RetCode.DATA_ERROR, "meta_fields must be a dictionary"),
    ] = Field(None, description="Replaces the whole `meta_fields` object.")
    name: Annotated[str | NotNull, BeforeValidator(_new_name)] = Field(
        None,
        description="A new name of at most 255 bytes, with the same extension (ignoring case), "
        "not taken in the dataset.",
    )
    parser_config: Annotated[
        dict[str, Any] | NotNull,
        _required_type(dict, RetCode.DATA_ERROR, "parser_config must be a dictionary"),
    ] = Field(None, description="Deep-merged into the document's `parser_config`.")
    chunk_method: Annotated[DocumentChunkMethod | None, BeforeValidator(_document_method)] = Field(
        None,
        description="A new method drops the chunks and resets the parse state; without "
        "`parser_config` the method's defaults are merged in.",
    )
    enabled: Annotated[bool | NotNull, BeforeValidator(_enabled)] = Field(
        None, description="Enable (true or 1) or disable the document and its chunks."
    )

    def given(self, field_name: str) -> bool:
        return field_name in self.model_fields_set


# --------------------------------------------------------------------------------------------
# delete


class DeleteDocuments(BaseModel):
    """Body of ``DELETE …/documents``."""

    model_config = ConfigDict(extra="ignore")

    ids: list[str] | None = Field(
        None, description="The documents to delete; missing, null or empty: all of them."
    )


# --------------------------------------------------------------------------------------------
# responses


class UploadedDocument(BaseModel):
    """A document just uploaded, as RAGFlow shows it (no counts or times)."""

    id: str
    name: str = Field(description="The file name; `(1)`, `(2)`… added when taken.")
    dataset_id: str
    chunk_method: str
    pipeline_id: str | None
    parser_config: dict[str, Any] = Field(description="Copied from the dataset.")
    created_by: str
    type: str = Field(description="pdf, doc, visual, aural, virtual, folder or other.")
    source_type: str
    suffix: str
    location: str = Field(description="The name again.")
    size: int = Field(description="Bytes.")
    thumbnail: str
    run: str | None = Field(description="Parse state: UNSTART until parsed.")


class DocumentPublic(BaseModel):
    """A document as RAGFlow shows it."""

    id: str
    thumbnail: str
    dataset_id: str
    chunk_method: str
    pipeline_id: str | None
    parser_config: dict[str, Any]
    source_type: str
    type: str = Field(description="pdf, doc, visual, aural, virtual, folder or other.")
    created_by: str
    name: str
    location: str = Field(description="The name again.")
    size: int = Field(description="Bytes.")
    token_count: int
    chunk_count: int
    progress: float = Field(description="0 to 1 while parsing; -1 when the parse failed.")
    progress_msg: str = Field(description="The parse's log, one line per step.")
    process_begin_at: str | None = Field(description="RFC 1123, GMT; null before a parse.")
    process_duration: float = Field(description="Seconds.")
    meta_fields: dict[str, Any]
    suffix: str
    run: str | None = Field(
        description="UNSTART, RUNNING, CANCEL, DONE or FAIL; another stored state is null here "
        "and shown raw by the list."
    )
    status: str = Field(description='"1": enabled, "0": disabled.')
    create_time: int = Field(description="Milliseconds since the epoch.")
    create_date: str | None = Field(description="RFC 1123, GMT.")
    update_time: int = Field(description="Milliseconds since the epoch.")
    update_date: str | None = Field(description="RFC 1123, GMT.")


class ListedDocument(DocumentPublic):
    """A document in a listing: also its ingestion pipeline's title (always null here)."""

    title: str | None = None


class DocumentPage(BaseModel):
    """One page of a dataset's documents, and how many match in all."""

    total: int
    docs: list[ListedDocument]
