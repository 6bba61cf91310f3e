"""``/api/v1/datasets``: every field, default and message of spec 2.1, and tenant isolation."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import Account
from helpers.spec_values import NAIVE_PARSER_CONFIG, STRUCTURED_PARSER_CONFIG
from ragserve.db.models import Document, UserTenant
from ragserve.runtime import Runtime

URL = "/api/v1/datasets"
UNKNOWN_ID = "9f3c1a2e0c1811ef8c0a0242ac120002"  # a valid uuid1 that names nothing


def create(account: Account, **body: Any) -> dict[str, Any]:
    result: dict[str, Any] = account.client.post(URL, json=body, headers=account.api_headers).json()
    return result


def listing(account: Account, query: str = "") -> dict[str, Any]:
    result: dict[str, Any] = account.client.get(f"{URL}{query}", headers=account.api_headers).json()
    return result


def update(account: Account, dataset_id: str, **body: Any) -> dict[str, Any]:
    response = account.client.put(f"{URL}/{dataset_id}", json=body, headers=account.api_headers)
    result: dict[str, Any] = response.json()
    return result


def delete(account: Account, body: Any) -> dict[str, Any]:
    response = account.client.request("DELETE", URL, json=body, headers=account.api_headers)
    result: dict[str, Any] = response.json()
    return result


def error_lines(result: dict[str, Any]) -> list[str]:
    assert result["code"] == 101, result
    lines: list[str] = result["message"].split("\n")
    return lines


NAIVE_DEFAULT = {**NAIVE_PARSER_CONFIG, "llm_id": ""}


# --- create ------------------------------------------------------------------------------------


def test_create_returns_the_dataset_object(alice: Account) -> None:
    result = create(alice, name="  kb  ")
    assert result["code"] == 0 and "message" not in result
    data = result["data"]
    assert len(data["id"]) == 32 and int(data["id"], 16)
    assert data["name"] == "kb"
    assert data["tenant_id"] == alice.id and data["created_by"] == alice.id
    assert data["embedding_model"] == "all-MiniLM-L6-v2-q8@Builtin"
    assert (data["permission"], data["chunk_method"], data["pagerank"]) == ("me", "naive", 0)
    assert (data["document_count"], data["chunk_count"], data["token_num"]) == (0, 0, 0)
    assert data["parser_config"] == NAIVE_DEFAULT
    assert data["status"] == "1" and data["language"] == "English"
    assert data["create_date"].endswith(" GMT") and isinstance(data["create_time"], int)


def test_create_with_every_field(alice: Account) -> None:
    avatar = "data:image/png;base64,iVBORw0KGgo="
    data = create(
        alice,
        name="full",
        avatar=avatar,
        description="about",
        embedding_model="all-MiniLM-L6-v2@Builtin",
        permission="team",
        chunk_method="qa",
        parser_config={"chunk_token_num": 1024},
    )["data"]
    assert (data["avatar"], data["description"], data["permission"]) == (avatar, "about", "team")
    assert data["chunk_method"] == "qa"
    config = data["parser_config"]
    assert config["chunk_token_num"] == 1024
    assert config["raptor"]["use_raptor"] is False and config["graphrag"]["use_graphrag"] is False
    assert config["topn_tags"] == 1 and config["delimiter"] == "\\n"
    assert config["filename_embd_weight"] == 0.1 and config["tag_kb_ids"] == []
    assert config["llm_id"] == ""


@pytest.mark.parametrize(
    ("method", "extra"),
    [
        ("qa", STRUCTURED_PARSER_CONFIG),
        ("table", {}),
        ("one", {}),
        ("email", {}),
        ("picture", {}),
        ("tag", {}),
    ],
)
def test_create_default_parser_config_per_method(
    alice: Account, method: str, extra: dict[str, Any]
) -> None:
    config = create(alice, name=method, chunk_method=method)["data"]["parser_config"]
    assert config == {"table_context_size": 0, "image_context_size": 0, **extra, "llm_id": ""}


def test_empty_parser_config_means_default(alice: Account) -> None:
    assert create(alice, name="e", parser_config={})["data"]["parser_config"] == NAIVE_DEFAULT
    assert create(alice, name="n", parser_config=None)["data"]["parser_config"] == NAIVE_DEFAULT


def test_duplicate_names_are_suffixed_ignoring_case(alice: Account) -> None:
    names = [create(alice, name=name)["data"]["name"] for name in ("abc", "ABC", "abc", "Abc(1)")]
    assert names == ["abc", "ABC(1)", "abc(2)", "Abc(3)"]


NAME_ERRORS = [
    (
        {"name": ""},
        "Field: <name> - Message: <String should have at least 1 character> - Value: <>",
    ),
    (
        {"name": "   "},
        "Field: <name> - Message: <String should have at least 1 character> - Value: <   >",
    ),
    (
        {"name": "a" * 129},
        "Field: <name> - Message: <String should have at most 128 characters> - Value: <"
        + "a" * 125
        + "...>",
    ),
    ({"name": 1}, "Field: <name> - Message: <Input should be a valid string> - Value: <1>"),
    ({"name": None}, "Field: <name> - Message: <Input should be a valid string> - Value: <None>"),
    ({}, "Field: <name> - Message: <Field required> - Value: <{}>"),
]


@pytest.mark.parametrize(("body", "line"), NAME_ERRORS)
def test_create_name_validation(alice: Account, body: dict[str, Any], line: str) -> None:
    assert error_lines(create(alice, **body)) == [line]


def test_create_name_over_128_utf8_bytes(alice: Account) -> None:
    result = create(alice, name="数" * 43)
    assert result == {"code": 102, "message": "Dataset name length is 129 which is large than 128"}


@pytest.mark.parametrize(
    ("avatar", "message"),
    [
        ("iVBORw0KGgo", "Missing MIME prefix. Expected format: data:<mime>;base64,<data>"),
        ("image/png;base64,iVBO", "Invalid MIME prefix format. Must start with 'data:'"),
        (
            "data:image/gif;base64,R0lG",
            "Unsupported MIME type. Allowed: ['image/jpeg', 'image/png']",
        ),
    ],
)
def test_create_avatar_validation(alice: Account, avatar: str, message: str) -> None:
    assert error_lines(create(alice, name="a", avatar=avatar)) == [
        f"Field: <avatar> - Message: <{message}> - Value: <{avatar}>"
    ]


def test_create_long_avatar_and_description(alice: Account) -> None:
    [avatar] = error_lines(create(alice, name="a", avatar="data:image/png;base64," + "A" * 65535))
    assert avatar.startswith("Field: <avatar> - Message: <String should have at most 65535")
    [description] = error_lines(create(alice, name="a", description="d" * 65536))
    assert description.startswith("Field: <description> - Message: <String should have at most")


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            "BAAI/bge-large-zh-v1.5BAAI",
            "Embedding model identifier must follow <model_name>@<provider> format",
        ),
        ("@BAAI", "Both model_name and provider must be non-empty strings"),
        ("model@", "Both model_name and provider must be non-empty strings"),
        (" @BAAI", "Both model_name and provider must be non-empty strings"),
    ],
)
def test_create_embedding_model_format(alice: Account, model: str, message: str) -> None:
    [line] = error_lines(create(alice, name="m", embedding_model=model))
    assert line.startswith(f"Field: <embedding_model> - Message: <{message}>")


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("unknown@ZHIPU-AI", "Unsupported model: <unknown@ZHIPU-AI>"),
        ("nothing@Builtin", "Unsupported model: <nothing@Builtin>"),
        ("text-embedding-3-small@OpenAI", "Unauthorized model: <text-embedding-3-small@OpenAI>"),
    ],
)
def test_create_embedding_model_availability(alice: Account, model: str, message: str) -> None:
    assert create(alice, name="m", embedding_model=model) == {"code": 101, "message": message}


def test_null_embedding_model_means_the_tenant_default(alice: Account) -> None:
    data = create(alice, name="m", embedding_model=None)["data"]
    assert data["embedding_model"] == "all-MiniLM-L6-v2-q8@Builtin"


@pytest.mark.parametrize("permission", ["ME", "everyone", None, 1])
def test_create_permission_validation(alice: Account, permission: Any) -> None:
    [line] = error_lines(create(alice, name="p", permission=permission))
    assert line.startswith("Field: <permission> - Message: <Input should be 'me' or 'team'>")


@pytest.mark.parametrize("method", ["", "unknown", None, ["naive"], "Naive", "knowledge_graph"])
def test_create_chunk_method_validation(alice: Account, method: Any) -> None:
    [line] = error_lines(create(alice, name="c", chunk_method=method))
    assert line.startswith(
        "Field: <chunk_method> - Message: <Input should be 'naive', 'book', 'email', 'laws', "
        "'manual', 'one', 'paper', 'picture', 'presentation', 'qa', 'table' or 'tag'>"
    )


@pytest.mark.parametrize(
    ("config", "start"),
    [
        (
            {"chunk_token_num": 0},
            "Field: <parser_config.chunk_token_num> - Message: <Input should be greater than or equal to 1>",
        ),
        (
            {"chunk_token_num": 2049},
            "Field: <parser_config.chunk_token_num> - Message: <Input should be less than or equal to 2048>",
        ),
        (
            {"chunk_token_num": "512"},
            "Field: <parser_config.chunk_token_num> - Message: <Input should be a valid integer>",
        ),
        (
            {"auto_keywords": 33},
            "Field: <parser_config.auto_keywords> - Message: <Input should be less than or equal to 32>",
        ),
        (
            {"delimiter": ""},
            "Field: <parser_config.delimiter> - Message: <String should have at least 1 character>",
        ),
        (
            {"raptor": {"max_cluster": 0}},
            "Field: <parser_config.raptor.max_cluster> - Message: <Input should be greater than or equal to 1>",
        ),
        (
            {"graphrag": {"method": "heavy"}},
            "Field: <parser_config.graphrag.method> - Message: <Input should be 'light' or 'general'>",
        ),
        (
            {"unknown": 1},
            "Field: <parser_config.unknown> - Message: <Extra inputs are not permitted>",
        ),
        (
            "text",
            "Field: <parser_config> - Message: <Input should be a valid dictionary or instance of ParserConfig>",
        ),
    ],
)
def test_create_parser_config_validation(alice: Account, config: Any, start: str) -> None:
    [line] = error_lines(create(alice, name="p", parser_config=config))
    assert line.startswith(start)


def test_create_parser_config_size_limit(alice: Account) -> None:
    config = {"tag_kb_ids": ["x" * 1000] * 70}
    [line] = error_lines(create(alice, name="p", parser_config=config))
    assert "Parser config exceeds size limit (max 65,535 characters). Current size:" in line


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"chunk_method": "naive", "parse_type": 1},
            "parser_id provided → disallowed fields present: parse_type",
        ),
        (
            {"chunk_method": "naive", "parse_type": 1, "pipeline_id": "a" * 32},
            "parser_id provided → disallowed fields present: parse_type, pipeline_id",
        ),
        ({"parse_type": 1}, "parser_id omitted → required fields missing: pipeline_id"),
        ({"pipeline_id": "a" * 32}, "parser_id omitted → required fields missing: parse_type"),
    ],
)
def test_create_pipeline_dependency_rules(
    alice: Account, body: dict[str, Any], message: str
) -> None:
    [line] = error_lines(create(alice, name="d", **body))
    assert line.startswith(f"Field: <> - Message: <{message}>")


def test_create_pipeline_mode(alice: Account) -> None:
    data = create(alice, name="pipe", parse_type=1, pipeline_id="AB" * 16)["data"]
    assert data["chunk_method"] == "naive" and data["pipeline_id"] == "ab" * 16


@pytest.mark.parametrize(
    ("pipeline_id", "message"),
    [
        ("abc", "pipeline_id must be 32 hex characters"),
        ("g" * 32, "pipeline_id must be hexadecimal"),
    ],
)
def test_create_pipeline_id_format(alice: Account, pipeline_id: str, message: str) -> None:
    lines = error_lines(create(alice, name="d", parse_type=1, pipeline_id=pipeline_id))
    assert any(line.startswith(f"Field: <pipeline_id> - Message: <{message}>") for line in lines)


def test_create_rejects_unknown_keys_and_coercion(alice: Account) -> None:
    lines = error_lines(create(alice, name="x", chunk_count=3, pagerank=1))
    assert lines == [
        "Field: <chunk_count> - Message: <Extra inputs are not permitted> - Value: <3>",
        "Field: <pagerank> - Message: <Extra inputs are not permitted> - Value: <1>",
    ]


def test_create_several_errors_in_field_order(alice: Account) -> None:
    lines = error_lines(create(alice, name="", permission="x", chunk_method="y"))
    assert [line.split(" - ")[0] for line in lines] == [
        "Field: <name>",
        "Field: <permission>",
        "Field: <chunk_method>",
    ]


@pytest.mark.parametrize(
    ("content", "content_type", "message"),
    [
        (
            b'{"name": "a"',
            "application/json",
            "Malformed JSON syntax: Missing commas/brackets or invalid encoding",
        ),
        (
            b"",
            "application/json",
            "Malformed JSON syntax: Missing commas/brackets or invalid encoding",
        ),
        (b'["a"]', "application/json", "Invalid request payload: expected object, got list"),
        (
            b"name=a",
            "application/x-www-form-urlencoded",
            "Unsupported content type: Expected application/json, got application/x-www-form-urlencoded",
        ),
    ],
)
def test_create_bad_bodies(alice: Account, content: bytes, content_type: str, message: str) -> None:
    response = alice.client.post(
        URL, content=content, headers={**alice.api_headers, "Content-Type": content_type}
    )
    assert response.json() == {"code": 101, "message": message}


def test_create_needs_an_api_key(client: TestClient, alice: Account) -> None:
    result = client.post(URL, json={"name": "x"}, headers=alice.web_headers).json()
    assert result["code"] == 109
    assert listing(alice)["total_datasets"] == 0


# --- list --------------------------------------------------------------------------------------


@pytest.fixture
def three(alice: Account) -> list[str]:
    return [create(alice, name=name)["data"]["id"] for name in ("first", "second", "third")]


def test_list_default_order_and_shape(alice: Account, three: list[str]) -> None:
    result = listing(alice)
    assert result["code"] == 0 and result["total_datasets"] == 3
    assert [d["id"] for d in result["data"]] == three[::-1]


@pytest.mark.parametrize("desc", ["false", "False", "0", "no", "off"])
def test_list_ascending(alice: Account, three: list[str], desc: str) -> None:
    assert [d["id"] for d in listing(alice, f"?desc={desc}")["data"]] == three


def test_list_paging(alice: Account, three: list[str]) -> None:
    page = listing(alice, "?page=2&page_size=2&desc=false")
    assert [d["id"] for d in page["data"]] == three[2:] and page["total_datasets"] == 3
    assert listing(alice, "?page=5&page_size=2")["data"] == []


def test_list_order_by_update_time(alice: Account, three: list[str]) -> None:
    update(alice, three[0], description="touched")
    assert listing(alice, "?orderby=update_time")["data"][0]["id"] == three[0]


@pytest.mark.parametrize(
    ("query", "line"),
    [
        (
            "?page=0",
            "Field: <page> - Message: <Input should be greater than or equal to 1> - Value: <0>",
        ),
        (
            "?page=a",
            "Field: <page> - Message: <Input should be a valid integer, unable to parse string as an integer> - Value: <a>",
        ),
        (
            "?page_size=0",
            "Field: <page_size> - Message: <Input should be greater than or equal to 1> - Value: <0>",
        ),
        (
            "?orderby=name",
            "Field: <orderby> - Message: <Input should be 'create_time' or 'update_time'> - Value: <name>",
        ),
        (
            "?desc=maybe",
            "Field: <desc> - Message: <Input should be a valid boolean, unable to interpret input> - Value: <maybe>",
        ),
        ("?id=abc", "Field: <id> - Message: <Invalid UUID1 format> - Value: <abc>"),
        ("?unknown=1", "Field: <unknown> - Message: <Extra inputs are not permitted> - Value: <1>"),
    ],
)
def test_list_query_validation(alice: Account, query: str, line: str) -> None:
    assert error_lines(listing(alice, query)) == [line]


def test_list_by_id_and_name(alice: Account, three: list[str]) -> None:
    by_id = listing(alice, f"?id={three[1]}")
    assert [d["name"] for d in by_id["data"]] == ["second"] and by_id["total_datasets"] == 1
    assert [d["id"] for d in listing(alice, "?name=THIRD")["data"]] == [three[2]]
    assert listing(alice, f"?id={three[1]}&name=missing")["code"] == 108


@pytest.mark.parametrize("query", [f"?id={UNKNOWN_ID}", "?name=missing"])
def test_list_unknown_id_or_name(alice: Account, query: str) -> None:
    what = query.split("=", 1)[1]
    assert listing(alice, query) == {
        "code": 108,
        "message": f"User '{alice.id}' lacks permission for dataset '{what}'",
    }


# --- update ------------------------------------------------------------------------------------


def test_update_applies_only_the_fields_sent(alice: Account) -> None:
    original = create(alice, name="u", description="keep", permission="team")["data"]
    data = update(alice, original["id"], name="renamed", pagerank=50)["data"]
    assert (data["name"], data["pagerank"]) == ("renamed", 50)
    assert (data["description"], data["permission"]) == ("keep", "team")
    assert listing(alice, f"?id={original['id']}")["data"][0]["name"] == "renamed"


def test_update_to_a_taken_name(alice: Account) -> None:
    create(alice, name="taken")
    dataset_id = create(alice, name="mine")["data"]["id"]
    assert update(alice, dataset_id, name="TAKEN") == {
        "code": 102,
        "message": "Dataset name 'TAKEN' already exists",
    }
    assert update(alice, dataset_id, name="MINE")["data"]["name"] == "MINE"


def test_update_chunk_method_resets_parser_config(alice: Account) -> None:
    dataset_id = create(alice, name="m")["data"]["id"]
    data = update(alice, dataset_id, chunk_method="qa")["data"]
    assert data["chunk_method"] == "qa"
    assert data["parser_config"] == STRUCTURED_PARSER_CONFIG


def test_update_parser_config_merges_only_sent_keys(alice: Account) -> None:
    dataset_id = create(alice, name="m")["data"]["id"]
    config = update(
        alice, dataset_id, parser_config={"chunk_token_num": 128, "raptor": {"max_token": 99}}
    )["data"]["parser_config"]
    assert config["chunk_token_num"] == 128 and config["raptor"]["max_token"] == 99
    assert config["raptor"]["use_raptor"] is True and config["delimiter"] == "\n"
    assert config["llm_id"] == ""


def test_update_nothing(alice: Account) -> None:
    dataset_id = create(alice, name="m")["data"]["id"]
    assert update(alice, dataset_id) == {"code": 101, "message": "No properties were modified"}
    response = alice.client.put(
        f"{URL}/{dataset_id}", headers={**alice.api_headers, "Content-Type": "application/json"}
    )
    assert response.json()["message"] == (
        "Malformed JSON syntax: Missing commas/brackets or invalid encoding"
    )


@pytest.mark.parametrize(
    ("body", "start"),
    [
        (
            {"pagerank": 101},
            "Field: <pagerank> - Message: <Input should be less than or equal to 100>",
        ),
        (
            {"pagerank": -1},
            "Field: <pagerank> - Message: <Input should be greater than or equal to 0>",
        ),
        ({"permission": None}, "Field: <permission> - Message: <Input should be 'me' or 'team'>"),
        ({"name": ""}, "Field: <name> - Message: <String should have at least 1 character>"),
        ({"chunk_count": 1}, "Field: <chunk_count> - Message: <Extra inputs are not permitted>"),
    ],
)
def test_update_validation(alice: Account, body: dict[str, Any], start: str) -> None:
    dataset_id = create(alice, name="v")["data"]["id"]
    [line] = error_lines(update(alice, dataset_id, **body))
    assert line.startswith(start)


def test_update_path_id_must_be_uuid1(alice: Account) -> None:
    assert error_lines(update(alice, "not-an-id", name="x")) == [
        "Field: <dataset_id> - Message: <Invalid UUID1 format> - Value: <not-an-id>"
    ]


def test_update_embedding_model_locked_once_chunked(alice: Account, runtime: Runtime) -> None:
    dataset_id = create(alice, name="e")["data"]["id"]
    with runtime.transaction() as session:
        session.add(
            Document(
                dataset_id=dataset_id, tenant_id=alice.id, name="d.txt", type="doc",
                created_by=alice.id, chunk_method="naive", chunk_count=3,
            )
        )  # fmt: skip
    result = update(alice, dataset_id, embedding_model="text-embedding-3-small@OpenAI")
    assert result == {
        "code": 102,
        "message": "When chunk_num (3) > 0, embedding_model must remain all-MiniLM-L6-v2-q8@Builtin",
    }
    same = update(alice, dataset_id, embedding_model="all-MiniLM-L6-v2-q8@Builtin")
    assert same["code"] == 0 and same["data"]["chunk_count"] == 3
    assert same["data"]["document_count"] == 1


def test_update_embedding_model_availability(alice: Account) -> None:
    dataset_id = create(alice, name="e")["data"]["id"]
    assert update(alice, dataset_id, embedding_model="x@OpenAI") == {
        "code": 101,
        "message": "Unsupported model: <x@OpenAI>",
    }


@pytest.mark.parametrize("target", ["bob", "unknown"])
def test_update_foreign_or_unknown_dataset(alice: Account, bob: Account, target: str) -> None:
    dataset_id = create(bob, name="bobs")["data"]["id"] if target == "bob" else UNKNOWN_ID
    assert update(alice, dataset_id, name="stolen") == {
        "code": 108,
        "message": f"User '{alice.id}' lacks permission for dataset '{dataset_id}'",
    }
    if target == "bob":
        assert listing(bob)["data"][0]["name"] == "bobs"


# --- delete ------------------------------------------------------------------------------------


def test_delete_selected(alice: Account, three: list[str]) -> None:
    assert delete(alice, {"ids": three[:2]}) == {"code": 0}
    assert [d["id"] for d in listing(alice)["data"]] == [three[2]]


def test_delete_null_deletes_all_owned(alice: Account, bob: Account, three: list[str]) -> None:
    create(bob, name="bobs")
    assert delete(alice, {"ids": None}) == {"code": 0}
    assert listing(alice)["total_datasets"] == 0
    assert listing(bob)["total_datasets"] == 1


def test_delete_empty_list_is_a_no_op(alice: Account, three: list[str]) -> None:
    assert delete(alice, {"ids": []}) == {"code": 0}
    assert listing(alice)["total_datasets"] == 3


def test_delete_foreign_id_deletes_nothing(alice: Account, bob: Account, three: list[str]) -> None:
    bobs = create(bob, name="bobs")["data"]["id"]
    assert delete(alice, {"ids": [three[0], bobs, UNKNOWN_ID]}) == {
        "code": 108,
        "message": f"User '{alice.id}' lacks permission for datasets: '{bobs}, {UNKNOWN_ID}'",
    }
    assert listing(alice)["total_datasets"] == 3 and listing(bob)["total_datasets"] == 1


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ({}, "Field: <ids> - Message: <Field required> - Value: <{}>"),
        ({"ids": ["abc"]}, "Field: <ids.0> - Message: <Invalid UUID1 format> - Value: <abc>"),
        ({"ids": "x"}, "Field: <ids> - Message: <Input should be a valid list> - Value: <x>"),
        (
            {"ids": [UNKNOWN_ID, UNKNOWN_ID]},
            f"Field: <ids> - Message: <Duplicate ids: '{UNKNOWN_ID}'> - Value: <['{UNKNOWN_ID}', '{UNKNOWN_ID}']>",
        ),
        (
            {"ids": None, "x": 1},
            "Field: <x> - Message: <Extra inputs are not permitted> - Value: <1>",
        ),
    ],
)
def test_delete_validation(alice: Account, body: dict[str, Any], line: str) -> None:
    assert error_lines(delete(alice, body)) == [line]


def test_delete_accepts_hyphenated_uuids(alice: Account) -> None:
    dataset_id = create(alice, name="h")["data"]["id"]
    hyphenated = f"{dataset_id[:8]}-{dataset_id[8:12]}-{dataset_id[12:16]}-{dataset_id[16:20]}-{dataset_id[20:]}"
    assert delete(alice, {"ids": [hyphenated]}) == {"code": 0}
    assert listing(alice)["total_datasets"] == 0


def test_delete_removes_documents_and_files(alice: Account, runtime: Runtime) -> None:
    dataset_id = create(alice, name="files")["data"]["id"]
    uploaded = alice.client.post(
        f"{URL}/{dataset_id}/documents",
        files=[("file", ("a.txt", b"hello")), ("file", ("b.txt", b"world"))],
        headers=alice.api_headers,
    ).json()["data"]
    keys = [f"{alice.id}/{dataset_id}/{document['id']}" for document in uploaded]
    assert all(runtime.blobs.exists(key) for key in keys)
    assert delete(alice, {"ids": [dataset_id]}) == {"code": 0}
    assert not any(runtime.blobs.exists(key) for key in keys)
    with runtime.read() as session:
        assert session.query(Document).count() == 0


# --- team visibility ---------------------------------------------------------------------------


def join_team(runtime: Runtime, member: Account, owner: Account) -> None:
    with runtime.transaction() as session:
        session.add(UserTenant(user_id=member.id, tenant_id=owner.id, role="normal"))


def test_team_members_see_team_datasets_only(
    alice: Account, bob: Account, runtime: Runtime
) -> None:
    team = create(alice, name="shared", permission="team")["data"]["id"]
    private = create(alice, name="private")["data"]["id"]
    assert listing(bob)["total_datasets"] == 0
    join_team(runtime, bob, alice)
    assert [d["id"] for d in listing(bob)["data"]] == [team]
    assert listing(bob, f"?id={private}")["code"] == 108
    assert update(bob, team, name="hijack")["code"] == 108
    assert delete(bob, {"ids": [team]})["code"] == 108
    assert listing(alice)["total_datasets"] == 2
