"""The early RAGFlow API (spec ragflow-more.md E): its eight routes over today's services."""

from __future__ import annotations

from typing import Any

import pytest

from api.test_parsing import TEXT, new_dataset, upload
from conftest import Account

OLD_DATASET_FIELDS = {
    "avatar", "chunk_num", "create_date", "create_time", "created_by", "description", "doc_num",
    "embd_id", "id", "language", "name", "parser_config", "parser_id", "permission",
    "similarity_threshold", "status", "tenant_id", "token_num", "update_date", "update_time",
    "vector_similarity_weight",
}  # fmt: skip
OLD_DOCUMENT_FIELDS = {
    "chunk_num", "create_date", "create_time", "created_by", "id", "kb_id", "location", "name",
    "parser_config", "parser_id", "process_begin_at", "process_duation", "progress",
    "progress_msg", "run", "size", "source_type", "status", "thumbnail", "token_num", "type",
    "update_date", "update_time",
}  # fmt: skip


def early_upload(
    account: Account, kb_name: str | None, name: str = "cranes.md", **form: str
) -> Any:
    data = dict(form) if kb_name is None else {"kb_name": kb_name, **form}
    return account.client.post(
        "/v1/api/document/upload",
        data=data,
        files=[("file", (name, TEXT.encode()))],
        headers=account.api_headers,
    ).json()


def delete_docs(account: Account, body: Any) -> Any:
    return account.client.request(
        "DELETE", "/v1/api/document", json=body, headers=account.api_headers
    ).json()


# --------------------------------------------------------------------------------------------
# /api/v1/dataset


def test_dataset_create_list_delete(alice: Account) -> None:
    created = alice.client.post(
        "/api/v1/dataset", json={"dataset_name": "kb1"}, headers=alice.api_headers
    ).json()
    assert created == {"code": 0, "message": "success", "data": {"dataset_name": "kb1"}}
    again = alice.client.post(
        "/api/v1/dataset", json={"dataset_name": "kb1"}, headers=alice.api_headers
    ).json()
    assert again["data"] == {"dataset_name": "kb1(1)"}  # today's rule for a taken name
    listed = alice.client.get("/api/v1/dataset", headers=alice.api_headers).json()
    assert listed["code"] == 0 and listed["message"] == "success"
    assert [row["name"] for row in listed["data"]] == ["kb1(1)", "kb1"]
    row = listed["data"][1]
    assert set(row) == OLD_DATASET_FIELDS
    assert (row["doc_num"], row["chunk_num"], row["parser_id"]) == (0, 0, "naive")
    assert row["tenant_id"] == alice.id and row["embd_id"]
    deleted = alice.client.delete(f"/api/v1/dataset/{row['id']}", headers=alice.api_headers)
    assert deleted.json() == {"code": 0, "message": "success", "data": True}
    names = [d["name"] for d in alice.client.get("/api/v1/dataset", headers=alice.api_headers)
             .json()["data"]]  # fmt: skip
    assert names == ["kb1(1)"]


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({}, 101, "Expected 'dataset_name' field in request body!"),
        ({"name": "kb"}, 101, "Expected 'dataset_name' field in request body!"),
        ({"dataset_name": ""}, 102, "Empty dataset name!"),
        ({"dataset_name": "   "}, 102, "Empty dataset name!"),
        ({"dataset_name": 5}, 102, "Empty dataset name!"),
        ({"dataset_name": "a b"}, 102, "Dataset name may hold only letters, digits, '_', '.' and '-'!"),
        ({"dataset_name": "kb/1"}, 102, "Dataset name may hold only letters, digits, '_', '.' and '-'!"),
    ],
)  # fmt: skip
def test_dataset_create_refuses_bad_names(
    alice: Account, body: dict[str, Any], code: int, message: str
) -> None:
    result = alice.client.post("/api/v1/dataset", json=body, headers=alice.api_headers).json()
    assert (result["code"], result["message"]) == (code, message)
    assert alice.client.get("/api/v1/dataset", headers=alice.api_headers).json()["data"] == []


def test_dataset_create_refuses_a_name_of_1024_characters(alice: Account) -> None:
    result = alice.client.post(
        "/api/v1/dataset", json={"dataset_name": "a" * 1024}, headers=alice.api_headers
    ).json()
    assert result["code"] == 102 and "exceeds 1024" in result["message"]
    # today's limit of 128 bytes still holds below the early limit
    result = alice.client.post(
        "/api/v1/dataset", json={"dataset_name": "a" * 200}, headers=alice.api_headers
    ).json()
    assert result == {"code": 102, "message": "Dataset name length is 200 which is large than 128"}


def test_dataset_routes_need_an_api_key(alice: Account) -> None:
    result = alice.client.get("/api/v1/dataset").json()
    assert result["message"] == "`Authorization` can't be empty"
    bad = alice.client.get("/api/v1/dataset", headers={"Authorization": "Bearer nope"}).json()
    assert bad["code"] == 109


def test_dataset_delete_of_another_tenant_or_missing(alice: Account, bob: Account) -> None:
    dataset_id = new_dataset(alice, name="mine")
    for wanted in (dataset_id, "0" * 32):
        result = bob.client.delete(f"/api/v1/dataset/{wanted}", headers=bob.api_headers).json()
        assert result["code"] == 108 and wanted in result["message"]
    assert bob.client.get("/api/v1/dataset", headers=bob.api_headers).json()["data"] == []
    assert len(alice.client.get("/api/v1/dataset", headers=alice.api_headers).json()["data"]) == 1


# --------------------------------------------------------------------------------------------
# /v1/api/document/upload


def test_upload_by_dataset_name_and_parse_at_once(alice: Account) -> None:
    dataset_id = new_dataset(alice, name="Birds")
    result = early_upload(alice, "birds", parser_id="general", run="1")
    assert result["retcode"] == 0 and result["retmsg"] == "success"
    row = result["data"]
    assert set(row) == OLD_DOCUMENT_FIELDS
    assert (row["kb_id"], row["name"], row["parser_id"]) == (dataset_id, "cranes.md", "naive")
    assert row["run"] == "3" and row["chunk_num"] > 0 and row["progress"] == 1.0  # workers=0
    listed = alice.client.get(f"/api/v1/datasets/{dataset_id}/documents",
                              headers=alice.api_headers).json()["data"]  # fmt: skip
    assert [doc["id"] for doc in listed["docs"]] == [row["id"]]


def test_upload_with_a_chunk_method_without_parsing(alice: Account) -> None:
    new_dataset(alice, name="kb")
    row = early_upload(alice, "kb", parser_id="qa")["data"]
    assert (row["parser_id"], row["run"], row["chunk_num"]) == ("qa", "0", 0)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({}, "required argument are missing: kb_name; "),
        ({"kb_name": " "}, "required argument are missing: kb_name; "),
        ({"kb_name": "kb", "parser_id": "graph"}, "parser_id must be one of naive, general, qa, "
         "manual, table, paper, laws, presentation, picture, one, not 'graph'"),
    ],
)  # fmt: skip
def test_upload_validation(alice: Account, form: dict[str, str], message: str) -> None:
    new_dataset(alice, name="kb")
    result = alice.client.post(
        "/v1/api/document/upload",
        data=form,
        files=[("file", ("cranes.md", TEXT.encode()))],
        headers=alice.api_headers,
    ).json()
    assert result == {"retcode": 101, "retmsg": message, "data": None}


def test_upload_without_a_file(alice: Account) -> None:
    new_dataset(alice, name="kb")
    result = alice.client.post(
        "/v1/api/document/upload", data={"kb_name": "kb"}, headers=alice.api_headers
    ).json()
    assert result == {"retcode": 101, "retmsg": "No file part!", "data": None}


def test_upload_to_another_tenants_or_a_missing_dataset(alice: Account, bob: Account) -> None:
    new_dataset(alice, name="private")
    for name in ("private", "nothing"):
        result = early_upload(bob, name)
        assert result == {"retcode": 102, "retmsg": "Can't find this knowledgebase!", "data": None}


def test_early_routes_refuse_a_bad_api_key(client: Any) -> None:
    result = client.post(
        "/v1/api/list_kb_docs", json={"kb_name": "kb"}, headers={"Authorization": "Bearer x"}
    ).json()
    assert result["retcode"] == 109 and "retmsg" in result and "code" not in result


# --------------------------------------------------------------------------------------------
# /v1/api/list_kb_docs


def test_list_kb_docs_pages_sorts_and_filters(alice: Account) -> None:
    dataset_id = new_dataset(alice, name="kb")
    ids = [upload(alice, dataset_id, f"doc{i}.md", TEXT.encode() * (i + 1)) for i in range(3)]

    def docs(**body: Any) -> Any:
        result = alice.client.post("/v1/api/list_kb_docs", json={"kb_name": "kb", **body},
                                   headers=alice.api_headers).json()  # fmt: skip
        assert result["retcode"] == 0, result
        return result["data"]

    first = docs()
    assert first["total"] == 3
    assert first["docs"] == [{"doc_id": ids[i], "doc_name": f"doc{i}.md"} for i in (2, 1, 0)]
    assert [d["doc_id"] for d in docs(orderby="size", desc=False)["docs"]] == ids
    page = docs(page=2, page_size=2)
    assert page == {"docs": [{"doc_id": ids[0], "doc_name": "doc0.md"}], "total": 3}
    assert docs(keywords="DOC1") == {"docs": [{"doc_id": ids[1], "doc_name": "doc1.md"}],
                                     "total": 1}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({}, 101, "required argument are missing: kb_name; "),
        ({"kb_name": "kb", "orderby": "name"}, 101, None),
        ({"kb_name": "kb", "page": 0}, 101, None),
        ({"kb_name": "nothing"}, 102, "Can't find this knowledgebase!"),
    ],
)
def test_list_kb_docs_validation(
    alice: Account, body: dict[str, Any], code: int, message: str | None
) -> None:
    new_dataset(alice, name="kb")
    result = alice.client.post("/v1/api/list_kb_docs", json=body, headers=alice.api_headers).json()
    assert result["retcode"] == code and result["data"] is None
    if message is not None:
        assert result["retmsg"] == message
    else:
        assert result["retmsg"].startswith("Field: ")


def test_list_kb_docs_of_another_tenant(alice: Account, bob: Account) -> None:
    new_dataset(alice, name="kb")
    result = bob.client.post(
        "/v1/api/list_kb_docs", json={"kb_name": "kb"}, headers=bob.api_headers
    ).json()
    assert result == {"retcode": 102, "retmsg": "Can't find this knowledgebase!", "data": None}


# --------------------------------------------------------------------------------------------
# /v1/api/list_chunks


def test_list_chunks_by_id_and_by_name(alice: Account) -> None:
    new_dataset(alice, name="kb")
    row = early_upload(alice, "kb", run="1")["data"]
    by_id = alice.client.get(
        "/v1/api/list_chunks", params={"doc_id": row["id"]}, headers=alice.api_headers
    ).json()
    assert by_id["retcode"] == 0
    assert len(by_id["data"]) == row["chunk_num"] > 0
    assert all(set(chunk) == {"content", "doc_name", "img_id"} for chunk in by_id["data"])
    assert by_id["data"][0]["doc_name"] == "cranes.md" and "Cranes" in by_id["data"][0]["content"]
    by_name = alice.client.get(
        "/v1/api/list_chunks", params={"doc_name": "cranes.md"}, headers=alice.api_headers
    ).json()
    assert by_name == by_id


def test_list_chunks_validation_other_tenant_and_missing(alice: Account, bob: Account) -> None:
    new_dataset(alice, name="kb")
    row = early_upload(alice, "kb", run="1")["data"]
    result = alice.client.get("/v1/api/list_chunks", headers=alice.api_headers).json()
    assert result == {"retcode": 102, "retmsg": "Can't find doc_name or doc_id", "data": None}
    for params in ({"doc_id": row["id"]}, {"doc_name": "cranes.md"}, {"doc_id": "0" * 32}):
        result = bob.client.get("/v1/api/list_chunks", params=params,
                                headers=bob.api_headers).json()  # fmt: skip
        assert result == {"retcode": 102, "retmsg": "Can't find this document!", "data": None}


# --------------------------------------------------------------------------------------------
# DELETE /v1/api/document


def test_delete_documents_by_name_and_by_id(alice: Account) -> None:
    dataset_id = new_dataset(alice, name="kb")
    ids = [upload(alice, dataset_id, f"doc{i}.md", TEXT.encode()) for i in range(3)]
    assert delete_docs(alice, {"doc_names": ["doc0.md"]}) == {
        "retcode": 0, "retmsg": "success", "data": True,
    }  # fmt: skip
    assert delete_docs(alice, {"doc_ids": [ids[1]]})["data"] is True
    left = alice.client.post("/v1/api/list_kb_docs", json={"kb_name": "kb"},
                             headers=alice.api_headers).json()["data"]  # fmt: skip
    assert left == {"docs": [{"doc_id": ids[2], "doc_name": "doc2.md"}], "total": 1}


def test_delete_documents_validation_other_tenant_and_missing(alice: Account, bob: Account) -> None:
    dataset_id = new_dataset(alice, name="kb")
    kept = upload(alice, dataset_id, "doc.md", TEXT.encode())
    for body in ({}, {"doc_names": []}, {"doc_ids": []}):
        assert delete_docs(alice, body) == {
            "retcode": 102, "retmsg": "Can't find doc_names or doc_ids", "data": None,
        }  # fmt: skip
    for body in ({"doc_ids": [kept]}, {"doc_names": ["doc.md"]}, {"doc_ids": ["0" * 32]}):
        assert delete_docs(bob, body) == {
            "retcode": 102, "retmsg": "Can't find this document!", "data": None,
        }  # fmt: skip
    # one missing name refuses them all
    assert delete_docs(alice, {"doc_names": ["doc.md", "other.md"]})["retcode"] == 102
    listed = alice.client.post("/v1/api/list_kb_docs", json={"kb_name": "kb"},
                               headers=alice.api_headers).json()["data"]  # fmt: skip
    assert listed["docs"] == [{"doc_id": kept, "doc_name": "doc.md"}]


# --------------------------------------------------------------------------------------------
# GET /v1/document/get/{id}


def test_document_get_returns_the_bytes(alice: Account) -> None:
    dataset_id = new_dataset(alice, name="kb")
    document_id = upload(alice, dataset_id, "cranes.md", TEXT.encode())
    for headers in (alice.api_headers, alice.web_headers):
        response = alice.client.get(f"/v1/document/get/{document_id}", headers=headers)
        assert response.status_code == 200
        assert response.content == TEXT.encode()
        assert "cranes.md" in response.headers["content-disposition"]


def test_document_get_of_another_tenant_missing_or_unauthenticated(
    alice: Account, bob: Account
) -> None:
    dataset_id = new_dataset(alice, name="kb")
    document_id = upload(alice, dataset_id, "cranes.md", TEXT.encode())
    for wanted in (document_id, "0" * 32):
        result = bob.client.get(f"/v1/document/get/{wanted}", headers=bob.api_headers).json()
        assert result == {"code": 102, "message": "Can't find this document!", "data": None}
    response = alice.client.get(f"/v1/document/get/{document_id}")
    assert response.status_code == 401


def test_openapi_documents_the_old_error_envelope(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    assert set(spec["components"]["schemas"]["EarlyErrorBody"]["required"]) == {
        "retcode",
        "retmsg",
    }
    for path, method in (
        ("/v1/api/document/upload", "post"),
        ("/v1/api/list_chunks", "get"),
        ("/v1/api/list_kb_docs", "post"),
        ("/v1/api/document", "delete"),
    ):
        ok = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]
        assert {"$ref": "#/components/schemas/EarlyErrorBody"} in ok["schema"]["anyOf"], path
    dataset = spec["paths"]["/api/v1/dataset"]["post"]["responses"]["200"]["content"]
    assert {"$ref": "#/components/schemas/ErrorBody"} in dataset["application/json"]["schema"][
        "anyOf"
    ]
