from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from helpers.spec_values import BASE_PARSER_CONFIG, NAIVE_PARSER_CONFIG, RAPTOR_PROMPT
from ragserve.domain import ChunkMethod
from ragserve.schemas.parser_config import DatasetChunkMethod, ParserConfig
from ragserve.services.parser_config import (
    DATASET_CHUNK_METHODS,
    DOCUMENT_CHUNK_METHODS,
    chunk_method_for_upload,
    deep_merge,
    default_parser_config,
    parser_config_for_dataset_update,
    parser_config_for_document_update,
    parser_config_for_new_dataset,
)

MODEL_DEFAULT_DUMP: dict[str, Any] = {
    "auto_keywords": 0,
    "auto_questions": 0,
    "chunk_token_num": 512,
    "delimiter": "\\n",
    "graphrag": {
        "use_graphrag": False,
        "entity_types": ["organization", "person", "geo", "event", "category"],
        "method": "light",
        "community": False,
        "resolution": False,
    },
    "html4excel": False,
    "layout_recognize": "DeepDOC",
    "raptor": {
        "use_raptor": False,
        "prompt": RAPTOR_PROMPT,
        "max_token": 256,
        "threshold": 0.1,
        "max_cluster": 64,
        "random_seed": 0,
        "auto_disable_for_structured_data": True,
    },
    "tag_kb_ids": [],
    "topn_tags": 1,
    "filename_embd_weight": 0.1,
    "task_page_size": None,
    "pages": None,
}


def validate(payload: dict[str, Any]) -> ParserConfig:
    return ParserConfig.model_validate(payload, strict=True)


def errors_of(payload: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        validate(payload)
    return [(error["loc"], error["msg"]) for error in caught.value.errors()]


def test_chunk_method_values() -> None:
    assert {method.value for method in ChunkMethod} == {
        "presentation",
        "laws",
        "manual",
        "paper",
        "resume",
        "book",
        "qa",
        "table",
        "naive",
        "picture",
        "one",
        "audio",
        "email",
        "knowledge_graph",
        "tag",
    }
    assert ChunkMethod("knowledge_graph") is ChunkMethod.KNOWLEDGE_GRAPH


def test_dataset_chunk_methods_order() -> None:
    assert DATASET_CHUNK_METHODS == (
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
    )


@pytest.mark.parametrize("value", ["resume", "", None, ["naive"], "Naive"])
def test_dataset_chunk_method_literal_message(value: object) -> None:
    class Request(BaseModel):
        model_config = ConfigDict(strict=True)
        chunk_method: DatasetChunkMethod = "naive"

    with pytest.raises(ValidationError) as caught:
        Request.model_validate({"chunk_method": value})
    assert caught.value.errors()[0]["msg"] == (
        "Input should be 'naive', 'book', 'email', 'laws', 'manual', 'one', 'paper', 'picture', "
        "'presentation', 'qa', 'table' or 'tag'"
    )


def test_document_chunk_methods() -> None:
    assert {
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
    } == DOCUMENT_CHUNK_METHODS
    assert "audio" not in DOCUMENT_CHUNK_METHODS
    assert "resume" not in DOCUMENT_CHUNK_METHODS


def test_naive_default_exact() -> None:
    config = default_parser_config("naive")
    assert config == NAIVE_PARSER_CONFIG
    assert config["delimiter"] == "\n"
    assert "\n      {cluster_content}\n" in config["raptor"]["prompt"]


@pytest.mark.parametrize("method", ["qa", "manual", "paper", "book", "laws", "presentation"])
def test_raptor_and_graphrag_off_defaults(method: str) -> None:
    assert default_parser_config(method) == {
        **BASE_PARSER_CONFIG,
        "raptor": {"use_raptor": False},
        "graphrag": {"use_graphrag": False},
    }


def test_knowledge_graph_default() -> None:
    config = default_parser_config(ChunkMethod.KNOWLEDGE_GRAPH)
    assert config == {
        **BASE_PARSER_CONFIG,
        "chunk_token_num": 8192,
        "delimiter": "\\n",
        "entity_types": ["organization", "person", "location", "event", "time"],
        "raptor": {"use_raptor": False},
        "graphrag": {"use_graphrag": False},
    }
    assert len(config["delimiter"]) == 2


@pytest.mark.parametrize("method", ["tag", "resume", "table", "one", "email", "picture", "audio"])
def test_base_only_defaults(method: str) -> None:
    assert default_parser_config(method) == BASE_PARSER_CONFIG


def test_defaults_are_fresh_copies() -> None:
    first = default_parser_config("naive")
    first["raptor"]["use_raptor"] = False
    first["graphrag"]["entity_types"].append("x")
    first["table_context_size"] = 9
    assert default_parser_config("naive") == NAIVE_PARSER_CONFIG
    second = default_parser_config("qa")
    second["raptor"]["use_raptor"] = True
    assert default_parser_config("manual")["raptor"] == {"use_raptor": False}


def test_model_defaults() -> None:
    assert validate({}).model_dump() == MODEL_DEFAULT_DUMP
    assert ParserConfig().model_dump() == MODEL_DEFAULT_DUMP


@pytest.mark.parametrize(
    ("payload", "loc", "message"),
    [
        ({"auto_keywords": -1}, ("auto_keywords",), "Input should be greater than or equal to 0"),
        ({"auto_keywords": 33}, ("auto_keywords",), "Input should be less than or equal to 32"),
        ({"auto_questions": -1}, ("auto_questions",), "Input should be greater than or equal to 0"),
        ({"auto_questions": 11}, ("auto_questions",), "Input should be less than or equal to 10"),
        (
            {"chunk_token_num": 0},
            ("chunk_token_num",),
            "Input should be greater than or equal to 1",
        ),
        (
            {"chunk_token_num": 2049},
            ("chunk_token_num",),
            "Input should be less than or equal to 2048",
        ),
        ({"chunk_token_num": "512"}, ("chunk_token_num",), "Input should be a valid integer"),
        ({"chunk_token_num": True}, ("chunk_token_num",), "Input should be a valid integer"),
        ({"chunk_token_num": 512.0}, ("chunk_token_num",), "Input should be a valid integer"),
        ({"delimiter": ""}, ("delimiter",), "String should have at least 1 character"),
        ({"delimiter": 1}, ("delimiter",), "Input should be a valid string"),
        ({"html4excel": 1}, ("html4excel",), "Input should be a valid boolean"),
        ({"html4excel": "true"}, ("html4excel",), "Input should be a valid boolean"),
        ({"layout_recognize": None}, ("layout_recognize",), "Input should be a valid string"),
        ({"tag_kb_ids": "kb"}, ("tag_kb_ids",), "Input should be a valid list"),
        ({"tag_kb_ids": [1]}, ("tag_kb_ids", 0), "Input should be a valid string"),
        ({"topn_tags": 0}, ("topn_tags",), "Input should be greater than or equal to 1"),
        ({"topn_tags": 11}, ("topn_tags",), "Input should be less than or equal to 10"),
        (
            {"filename_embd_weight": -0.1},
            ("filename_embd_weight",),
            "Input should be greater than or equal to 0",
        ),
        (
            {"filename_embd_weight": 1.5},
            ("filename_embd_weight",),
            "Input should be less than or equal to 1",
        ),
        (
            {"filename_embd_weight": "0.5"},
            ("filename_embd_weight",),
            "Input should be a valid number",
        ),
        (
            {"filename_embd_weight": True},
            ("filename_embd_weight",),
            "Input should be a valid number",
        ),
        ({"task_page_size": 0}, ("task_page_size",), "Input should be greater than or equal to 1"),
        ({"task_page_size": "12"}, ("task_page_size",), "Input should be a valid integer"),
        ({"pages": [1]}, ("pages", 0), "Input should be a valid list"),
        ({"pages": [[1, "2"]]}, ("pages", 0, 1), "Input should be a valid integer"),
        (
            {"raptor": None},
            ("raptor",),
            "Input should be a valid dictionary or instance of RaptorConfig",
        ),
        (
            {"raptor": {"use_raptor": "yes"}},
            ("raptor", "use_raptor"),
            "Input should be a valid boolean",
        ),
        (
            {"raptor": {"prompt": "   "}},
            ("raptor", "prompt"),
            "String should have at least 1 character",
        ),
        (
            {"raptor": {"max_token": 0}},
            ("raptor", "max_token"),
            "Input should be greater than or equal to 1",
        ),
        (
            {"raptor": {"max_token": 2049}},
            ("raptor", "max_token"),
            "Input should be less than or equal to 2048",
        ),
        (
            {"raptor": {"threshold": -0.01}},
            ("raptor", "threshold"),
            "Input should be greater than or equal to 0",
        ),
        (
            {"raptor": {"threshold": 1.01}},
            ("raptor", "threshold"),
            "Input should be less than or equal to 1",
        ),
        (
            {"raptor": {"max_cluster": 0}},
            ("raptor", "max_cluster"),
            "Input should be greater than or equal to 1",
        ),
        (
            {"raptor": {"max_cluster": 1025}},
            ("raptor", "max_cluster"),
            "Input should be less than or equal to 1024",
        ),
        (
            {"raptor": {"random_seed": -1}},
            ("raptor", "random_seed"),
            "Input should be greater than or equal to 0",
        ),
        (
            {"raptor": {"auto_disable_for_structured_data": 0}},
            ("raptor", "auto_disable_for_structured_data"),
            "Input should be a valid boolean",
        ),
        (
            {"graphrag": None},
            ("graphrag",),
            "Input should be a valid dictionary or instance of GraphragConfig",
        ),
        (
            {"graphrag": {"use_graphrag": 1}},
            ("graphrag", "use_graphrag"),
            "Input should be a valid boolean",
        ),
        (
            {"graphrag": {"entity_types": "person"}},
            ("graphrag", "entity_types"),
            "Input should be a valid list",
        ),
        (
            {"graphrag": {"method": "heavy"}},
            ("graphrag", "method"),
            "Input should be 'light' or 'general'",
        ),
        (
            {"graphrag": {"community": "false"}},
            ("graphrag", "community"),
            "Input should be a valid boolean",
        ),
        (
            {"graphrag": {"resolution": None}},
            ("graphrag", "resolution"),
            "Input should be a valid boolean",
        ),
    ],
)
def test_strict_validation_errors(
    payload: dict[str, Any], loc: tuple[str | int, ...], message: str
) -> None:
    assert errors_of(payload) == [(loc, message)]


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"enable_metadata": True}, ("enable_metadata",)),
        ({"raptor": {"scope": "file"}}, ("raptor", "scope")),
        ({"graphrag": {"extra": 1}}, ("graphrag", "extra")),
    ],
)
def test_extra_keys_rejected(payload: dict[str, Any], loc: tuple[str, ...]) -> None:
    assert errors_of(payload) == [(loc, "Extra inputs are not permitted")]


def test_bounds_accepted() -> None:
    config = validate(
        {
            "auto_keywords": 32,
            "auto_questions": 10,
            "chunk_token_num": 2048,
            "topn_tags": 10,
            "filename_embd_weight": None,
            "task_page_size": 1,
            "pages": [[1, 10], [20, 30]],
            "layout_recognize": "Plain Text",
            "raptor": {"max_token": 1, "max_cluster": 1024, "random_seed": 7},
            "graphrag": {"method": "general", "entity_types": []},
        }
    )
    assert config.chunk_token_num == 2048
    assert config.filename_embd_weight is None
    assert config.pages == [[1, 10], [20, 30]]
    assert config.raptor.max_cluster == 1024
    assert config.graphrag.method == "general"


def test_float_fields_accept_json_ints() -> None:
    config = ParserConfig.model_validate_json(
        '{"filename_embd_weight": 1, "raptor": {"threshold": 0}}', strict=True
    )
    assert config.filename_embd_weight == 1.0
    assert isinstance(config.filename_embd_weight, float)
    assert validate({"raptor": {"threshold": 1}}).raptor.threshold == 1.0


def test_raptor_prompt_is_stripped() -> None:
    assert validate({"raptor": {"prompt": "  sum {cluster_content}\n"}}).raptor.prompt == (
        "sum {cluster_content}"
    )


def test_exclude_unset_keeps_only_sent_keys() -> None:
    config = validate({"chunk_token_num": 256, "raptor": {"use_raptor": True}})
    assert config.model_dump(exclude_unset=True) == {
        "chunk_token_num": 256,
        "raptor": {"use_raptor": True},
    }


def test_new_dataset_without_config() -> None:
    assert parser_config_for_new_dataset("naive", None, "qwen@Tongyi") == {
        **NAIVE_PARSER_CONFIG,
        "llm_id": "qwen@Tongyi",
    }
    assert parser_config_for_new_dataset("tag", None, "m@f") == {
        **BASE_PARSER_CONFIG,
        "llm_id": "m@f",
    }


def test_new_dataset_spec_example() -> None:
    provided = validate({"chunk_token_num": 1024})
    assert parser_config_for_new_dataset("naive", provided, "qwen@Tongyi") == {
        **BASE_PARSER_CONFIG,
        **MODEL_DEFAULT_DUMP,
        "chunk_token_num": 1024,
        "llm_id": "qwen@Tongyi",
    }


def test_new_dataset_model_defaults_win_over_method_defaults() -> None:
    config = parser_config_for_new_dataset("naive", validate({"topn_tags": 5}), "m@f")
    assert config["raptor"]["use_raptor"] is False
    assert config["graphrag"]["use_graphrag"] is False
    assert config["delimiter"] == "\\n"
    assert config["topn_tags"] == 5
    assert config["raptor"]["auto_disable_for_structured_data"] is True
    assert config["graphrag"]["community"] is False


def test_new_dataset_knowledge_graph_keeps_method_only_keys() -> None:
    config = parser_config_for_new_dataset(
        "knowledge_graph", validate({"raptor": {"use_raptor": True}}), "m@f"
    )
    assert config["entity_types"] == ["organization", "person", "location", "event", "time"]
    assert config["chunk_token_num"] == 512
    assert config["raptor"]["use_raptor"] is True


def test_dataset_update_merges_only_sent_keys() -> None:
    current = {**NAIVE_PARSER_CONFIG, "llm_id": "m@f"}
    patch = validate({"raptor": {"max_token": 128}, "topn_tags": 7}).model_dump(exclude_unset=True)
    updated = parser_config_for_dataset_update(current, "naive", None, patch)
    expected = copy.deepcopy(current)
    expected["raptor"]["max_token"] = 128
    expected["topn_tags"] = 7
    assert updated == expected
    assert current == {**NAIVE_PARSER_CONFIG, "llm_id": "m@f"}


def test_dataset_update_with_method_change_and_patch_merges() -> None:
    current = {**NAIVE_PARSER_CONFIG, "llm_id": "m@f"}
    updated = parser_config_for_dataset_update(current, "naive", "qa", {"chunk_token_num": 64})
    assert updated == {**current, "chunk_token_num": 64}


@pytest.mark.parametrize("patch", [None, {}])
def test_dataset_update_method_change_replaces_with_defaults(
    patch: dict[str, Any] | None,
) -> None:
    current = {**NAIVE_PARSER_CONFIG, "llm_id": "m@f"}
    updated = parser_config_for_dataset_update(current, "naive", "qa", patch)
    assert updated == default_parser_config("qa")
    assert "llm_id" not in updated


@pytest.mark.parametrize(("new_method", "patch"), [(None, None), ("naive", None), ("naive", {})])
def test_dataset_update_without_change_keeps_current(
    new_method: str | None, patch: dict[str, Any] | None
) -> None:
    current = {**NAIVE_PARSER_CONFIG, "llm_id": "m@f"}
    updated = parser_config_for_dataset_update(current, "naive", new_method, patch)
    assert updated == current
    updated["raptor"]["use_raptor"] = False
    assert current["raptor"]["use_raptor"] is True


def test_document_update_drops_raptor_when_patch_lacks_it() -> None:
    current = default_parser_config("naive")
    updated = parser_config_for_document_update(current, {"chunk_token_num": 256})
    assert "raptor" not in updated
    assert updated["chunk_token_num"] == 256
    assert current == NAIVE_PARSER_CONFIG
    assert parser_config_for_document_update(current, {}) == current


def test_document_update_merges_nested_and_adds_new_keys() -> None:
    current = default_parser_config("naive")
    updated = parser_config_for_document_update(
        current,
        {"raptor": {"use_raptor": False}, "graphrag": {"community": True}, "pages": [[1, 2]]},
    )
    assert updated["raptor"] == {**NAIVE_PARSER_CONFIG["raptor"], "use_raptor": False}
    assert updated["graphrag"] == {**NAIVE_PARSER_CONFIG["graphrag"], "community": True}
    assert updated["pages"] == [[1, 2]]


def test_deep_merge_nested_and_untouched_inputs() -> None:
    base: dict[str, Any] = {"a": 1, "nested": {"x": 1, "deep": {"k": [1]}}, "scalar": 0}
    patch: dict[str, Any] = {"nested": {"deep": {"j": 2}, "y": [3]}, "scalar": {"now": "dict"}}
    base_before, patch_before = copy.deepcopy(base), copy.deepcopy(patch)
    merged = deep_merge(base, patch)
    assert merged == {
        "a": 1,
        "nested": {"x": 1, "deep": {"k": [1], "j": 2}, "y": [3]},
        "scalar": {"now": "dict"},
    }
    assert base == base_before
    assert patch == patch_before
    merged["nested"]["deep"]["k"].append(2)
    merged["nested"]["y"].append(4)
    assert base == base_before
    assert patch == patch_before


def test_deep_merge_scalar_replaces_dict() -> None:
    assert deep_merge({"raptor": {"use_raptor": True}}, {"raptor": None}) == {"raptor": None}
    assert deep_merge({}, {}) == {}


@pytest.mark.parametrize(
    ("dataset_method", "file_type", "suffix", "expected"),
    [
        ("naive", "visual", "png", "picture"),
        ("qa", "visual", "mp4", "picture"),
        ("naive", "aural", "mp3", "audio"),
        ("naive", "doc", "ppt", "presentation"),
        ("book", "doc", "pptx", "presentation"),
        ("naive", "doc", "pages", "presentation"),
        ("naive", "doc", "PPTX", "presentation"),
        ("naive", "doc", "msg", "email"),
        ("laws", "doc", "eml", "email"),
        ("naive", "doc", ".EML", "email"),
        ("qa", "doc", "docx", "qa"),
        ("manual", "pdf", "pdf", "manual"),
        ("table", "doc", "xlsx", "table"),
    ],
)
def test_chunk_method_for_upload(
    dataset_method: str, file_type: str, suffix: str, expected: str
) -> None:
    assert chunk_method_for_upload(dataset_method, file_type, suffix) == expected


def test_toc_extraction_is_accepted_and_dumped_only_when_set() -> None:
    """A deviation (docs/compatibility.md): RAGFlow's SDK model rejects it; ragserve acts on it."""
    assert validate({"toc_extraction": True}).model_dump()["toc_extraction"] is True
    assert "toc_extraction" not in validate({}).model_dump()
    assert errors_of({"toc_extraction": "yes"})[0][0] == ("toc_extraction",)
