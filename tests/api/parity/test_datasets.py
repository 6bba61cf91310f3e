"""Datasets: RAGFlow's exact behaviour for the embedding model, defaults and list filters."""

from __future__ import annotations

from typing import Any

import pytest

from api.test_datasets import create, error_lines, listing, update
from conftest import Account

FORMAT = "Embedding model identifier must follow <model_name>@<provider> format"
BOTH = "Both model_name and provider must be non-empty strings"


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("", FORMAT),
        (" ", FORMAT),
        ("  no-provider  ", FORMAT),
        (" @BAAI", BOTH),
        ("model@ ", BOTH),
        ("@", BOTH),
        ("x" * 251 + "@BAAI", "String should have at most 255 characters"),
        ("x" * 300, FORMAT),  # the format is checked first
    ],
)
def test_embedding_model_is_stripped_then_checked(alice: Account, model: str, message: str) -> None:
    [line] = error_lines(create(alice, name="m", embedding_model=model))
    assert line.startswith(f"Field: <embedding_model> - Message: <{message}> - Value: <")
    if len(model) <= 128:
        assert line.endswith(f" - Value: <{model}>")  # the original input, not the stripped one


def test_embedding_model_surrounding_spaces_are_stripped(alice: Account) -> None:
    data = create(alice, name="m", embedding_model="  all-MiniLM-L6-v2@Builtin ")["data"]
    assert data["embedding_model"] == "all-MiniLM-L6-v2@Builtin"
    longest = "x" * 250 + "@BAAI"  # 255 characters once stripped: only the model is unknown
    assert create(alice, name="m", embedding_model=f" {longest} ") == {
        "code": 101,
        "message": f"Unsupported model: <{longest}>",
    }


def test_update_checks_the_embedding_model_the_same_way(alice: Account) -> None:
    dataset_id = create(alice, name="m")["data"]["id"]
    [line] = error_lines(update(alice, dataset_id, embedding_model=" "))
    assert line == f"Field: <embedding_model> - Message: <{FORMAT}> - Value: < >"


def _tenant(account: Account) -> dict[str, Any]:
    tenant: dict[str, Any] = account.get("/v1/user/tenant_info").json()["data"]
    return tenant


def _set_chat_model(account: Account, llm_id: str) -> None:
    body = {**_tenant(account), "llm_id": llm_id}
    body = {key: body[key] for key in ("tenant_id", "llm_id", "embd_id", "asr_id", "img2txt_id")}
    assert account.post("/v1/user/set_tenant_info", json=body).json()["code"] == 0


@pytest.mark.parametrize("parser_config", [{}, None, "absent"])
def test_create_defaults_come_from_the_tenant(alice: Account, parser_config: Any) -> None:
    _set_chat_model(alice, "gpt-4o-mini@OpenAI")
    body = {} if parser_config == "absent" else {"parser_config": parser_config}
    data = create(alice, name="defaults", **body)["data"]
    tenant = _tenant(alice)
    assert data["embedding_model"] == tenant["embd_id"]
    config = data["parser_config"]
    assert config["llm_id"] == tenant["llm_id"] == "gpt-4o-mini@OpenAI"
    assert config["raptor"]["use_raptor"] is True and config["graphrag"]["use_graphrag"] is True
    assert (config["chunk_token_num"], config["delimiter"], config["topn_tags"]) == (512, "\n", 3)


def test_list_with_an_empty_name_is_not_filtered(alice: Account) -> None:
    for name in ("a", "b"):
        create(alice, name=name)
    result = listing(alice, "?name=")
    assert result["code"] == 0 and result["total_datasets"] == 2
    assert {dataset["name"] for dataset in result["data"]} == {"a", "b"}


def test_list_with_an_id_and_the_name_of_another_dataset_is_empty(alice: Account) -> None:
    first = create(alice, name="first")["data"]["id"]
    create(alice, name="second")
    assert listing(alice, f"?id={first}&name=second") == {
        "code": 0,
        "data": [],
        "total_datasets": 0,
    }
    same = listing(alice, f"?id={first}&name=first")
    assert [dataset["id"] for dataset in same["data"]] == [first]


def test_list_with_an_unknown_name_still_lacks_permission(alice: Account) -> None:
    first = create(alice, name="first")["data"]["id"]
    assert listing(alice, f"?id={first}&name=nothing") == {
        "code": 108,
        "message": f"User '{alice.id}' lacks permission for dataset 'nothing'",
    }


def test_update_with_a_null_name_is_refused(alice: Account) -> None:
    dataset_id = create(alice, name="kept")["data"]["id"]
    assert update(alice, dataset_id, name=None) == {
        "code": 101,
        "message": "Field: <name> - Message: <Input should be a valid string> - Value: <None>",
    }
    assert listing(alice)["data"][0]["name"] == "kept"
