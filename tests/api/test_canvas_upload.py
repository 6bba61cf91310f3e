"""Files uploaded to an agent (``/v1/canvas/upload/{agent_id}``) reach its run through the
completion's ``files`` (``sys.files``), and ExcelProcessor reads them by id."""

from __future__ import annotations

from typing import Any

from api.test_agent_completions import run
from api.test_agents import make_agent
from conftest import Account

CSV = b"bird,km\ncrane,4000\nstork,10000\n"


def node(name: str, params: dict[str, Any], down: list[str]) -> dict[str, Any]:
    return {"obj": {"component_name": name, "params": params}, "downstream": down, "upstream": []}


READER = {
    "components": {
        "begin": node("Begin", {}, ["ExcelProcessor:Read"]),
        "ExcelProcessor:Read": node(
            "ExcelProcessor", {"operation": "read", "input_files": ["sys.files"]}, ["Message:Out"]
        ),
        "Message:Out": node("Message", {"content": ["{ExcelProcessor:Read@markdown}"]}, []),
    }
}


def upload(account: Account, agent_id: str, name: str = "birds.csv", data: bytes = CSV) -> Any:
    return account.client.post(
        f"/v1/canvas/upload/{agent_id}", files={"file": (name, data)}, headers=account.web_headers
    ).json()


def test_an_uploaded_file_is_read_by_the_run(alice: Account) -> None:
    agent = make_agent(alice, "reader", READER)
    uploaded = upload(alice, agent)
    assert uploaded["code"] == 0, uploaded
    described = uploaded["data"]
    assert (described["name"], described["size"], described["extension"]) == (
        "birds.csv", len(CSV), "csv",
    )  # fmt: skip
    assert described["mime_type"] == "text/csv" and described["created_by"] == alice.id
    result = run(alice, agent, question="read it", files=[described], stream=False)
    content = result["data"]["data"]["content"]
    assert "| crane | 4000 |" in content and "| stork | 10000 |" in content, content


def test_uploads_are_the_tenants_own(alice: Account, bob: Account) -> None:
    agent = make_agent(alice, "reader", READER)
    assert upload(bob, agent) == {"code": 102, "message": "Canvas not found.", "data": None}
    described = upload(alice, agent)["data"]
    bobs = make_agent(bob, "reader", READER)
    stolen = run(bob, bobs, question="read it", files=[described], stream=False)
    assert stolen["data"]["data"]["content"] == (
        f"**ERROR**: No uploaded file has the id {described['id']}."
    )


def test_upload_needs_a_file_and_a_login(alice: Account) -> None:
    agent = make_agent(alice, "reader", READER)
    missing = alice.client.post(f"/v1/canvas/upload/{agent}", headers=alice.web_headers).json()
    assert missing["code"] == 101 and "file" in missing["message"], missing
    anonymous = alice.client.post(f"/v1/canvas/upload/{agent}", files={"file": ("a.csv", CSV)})
    assert anonymous.status_code == 401
