"""Documents: RAGFlow's exact update of ``parser_config`` and the parse request's checks."""

from __future__ import annotations

from typing import Any

import pytest

from api.documents.support import make_dataset, one_doc, update, upload_one
from conftest import Account


def _config(account: Account, dataset_id: str, document_id: str, patch: Any) -> dict[str, Any]:
    result = update(account, dataset_id, document_id, {"parser_config": patch})
    assert result["code"] == 0, result
    config: dict[str, Any] = result["data"]["parser_config"]
    assert one_doc(account, dataset_id, document_id)["parser_config"] == config
    return config


def test_an_empty_parser_config_changes_nothing(alice: Account) -> None:
    dataset_id = make_dataset(alice)
    doc = upload_one(alice, dataset_id)
    assert _config(alice, dataset_id, doc["id"], {}) == doc["parser_config"]
    assert "raptor" in doc["parser_config"]


def test_a_config_without_raptor_removes_the_stored_raptor(alice: Account) -> None:
    dataset_id = make_dataset(alice)
    doc = upload_one(alice, dataset_id)
    config = _config(alice, dataset_id, doc["id"], {"chunk_token_num": 256})
    assert "raptor" not in config
    assert config == {
        key: value for key, value in doc["parser_config"].items() if key != "raptor"
    } | {"chunk_token_num": 256}


def test_an_empty_raptor_removes_the_stored_raptor(alice: Account) -> None:
    dataset_id = make_dataset(alice)
    doc = upload_one(alice, dataset_id)
    assert "raptor" not in _config(alice, dataset_id, doc["id"], {"raptor": {}})
    # a falsy scalar replaces it and is then nothing to remove, as in RAGFlow
    assert _config(alice, dataset_id, doc["id"], {"raptor": False})["raptor"] is False


def test_a_truthy_raptor_is_deep_merged(alice: Account) -> None:
    dataset_id = make_dataset(alice)
    doc = upload_one(alice, dataset_id)
    config = _config(
        alice, dataset_id, doc["id"], {"raptor": {"max_token": 100}, "graphrag": {"x": 1}}
    )
    assert config["raptor"] == {**doc["parser_config"]["raptor"], "max_token": 100}
    assert config["graphrag"] == {**doc["parser_config"]["graphrag"], "x": 1}


def test_a_method_change_merges_defaults_the_same_way(alice: Account) -> None:
    """The method's defaults are merged as a config is: ``table`` has no ``raptor``."""
    dataset_id = make_dataset(alice)
    doc = upload_one(alice, dataset_id)
    result = update(alice, dataset_id, doc["id"], {"chunk_method": "table"})
    assert "raptor" not in result["data"]["parser_config"]
    qa = upload_one(alice, dataset_id, "b.txt")
    result = update(alice, dataset_id, qa["id"], {"chunk_method": "qa"})
    assert result["data"]["parser_config"]["raptor"]["use_raptor"] is False


@pytest.mark.parametrize("body", [{}, {"document_ids": None}, {"document_ids": []}, None])
@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_parse_and_stop_require_document_ids(alice: Account, body: Any, method: str) -> None:
    dataset_id = make_dataset(alice)
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    result = alice.client.request(
        method, f"/api/v1/datasets/{dataset_id}/chunks", headers=alice.api_headers, **kwargs
    ).json()
    assert result == {"code": 102, "message": "`document_ids` is required"}
