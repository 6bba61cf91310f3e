"""Email against a local SMTP server (aiosmtpd): delivery with To, Cc, subject, HTML; no
password over a connection without TLS; the private-address guard; as an Agent's tool."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from helpers.server import free_port
from ragserve.settings import Settings
from unit.agent.conftest import Environment, Runner, chain


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(environment: Environment) -> Iterator[tuple[Inbox, dict[str, Any]]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    environment.settings = Settings(allow_private_urls=True)
    params = {"smtp_server": "127.0.0.1", "smtp_port": port, "email": "bot@example.com",
              "sender_name": "Bird Bot"}  # fmt: skip
    try:
        yield inbox, params
    finally:
        controller.stop()


def test_a_message_is_delivered(run: Runner, smtp: tuple[Inbox, dict[str, Any]]) -> None:
    inbox, params = smtp
    node = {**params, "to_email": "{sys.query}", "cc_email": "c@example.com, d@example.com",
            "subject": "Cranes", "content": "<p>They <b>migrate</b>.</p>"}  # fmt: skip
    _events, turn = run(chain(("Email:1", "Email", node)), query="a@example.com")
    assert turn.error is None, turn.error
    assert turn.state.outputs["Email:1"]["success"] is True
    [(recipients, message)] = inbox.messages
    assert recipients == ["a@example.com", "c@example.com", "d@example.com"]
    assert message["From"] == "Bird Bot <bot@example.com>"
    assert message["Subject"] == "Cranes"
    parts = {part.get_content_type(): part.get_payload(decode=True) for part in message.walk()}
    assert parts["text/plain"].strip() == b"They migrate."
    assert parts["text/html"].strip() == b"<p>They <b>migrate</b>.</p>"


def test_no_password_in_clear(run: Runner, smtp: tuple[Inbox, dict[str, Any]]) -> None:
    inbox, params = smtp
    node = {**params, "password": "secret", "to_email": "a@example.com"}
    _events, turn = run(chain(("Email:1", "Email", node)))
    assert turn.error == "Email: the SMTP server offers no TLS; the password is not sent in clear."
    assert not inbox.messages


def test_a_bad_address_is_named(run: Runner, smtp: tuple[Inbox, dict[str, Any]]) -> None:
    inbox, params = smtp
    _events, turn = run(chain(("Email:1", "Email", {**params, "to_email": "not an address"})))
    assert turn.error == "Email: `not an address` is not an e-mail address."
    assert not inbox.messages


def test_a_private_smtp_host_is_refused_by_default(run: Runner) -> None:
    params = {"smtp_server": "127.0.0.1", "smtp_port": 25, "email": "b@example.com",
              "to_email": "a@example.com"}  # fmt: skip
    _events, turn = run(chain(("Email:1", "Email", params)))
    assert "is a private address" in str(turn.error)


def test_an_agent_sends_mail(run: Runner, smtp: tuple[Inbox, dict[str, Any]]) -> None:
    inbox, params = smtp
    agent = {"llm_id": "openai/fake-chat",
             "tools": [{"component_name": "Email", "name": "send_mail", "params": params}]}  # fmt: skip
    _events, turn = run(chain(("Agent:a", "Agent", agent)), query="z@example.com")
    assert turn.error is None, turn.error
    used = turn.state.outputs["Agent:a"]["use_tools"]
    assert used[0]["name"] == "send_mail" and '"success": true' in used[0]["results"]
    [(recipients, message)] = inbox.messages
    assert recipients == ["z@example.com"]  # the fake model fills every argument
    assert message["Subject"] == "z@example.com"


def test_arguments_a_model_leaves_out_come_from_the_params_not_the_defaults(
    environment: Environment,
) -> None:
    import time

    from ragserve.agent.components.tools.email import Email, EmailParams
    from ragserve.agent.context import RunContext, TurnState
    from ragserve.schemas.agent_dsl import ComponentNode, ComponentObject

    params = {"cc_email": "boss@example.com"}
    tool = Email(
        "Email:1",
        EmailParams.model_validate(params),
        ComponentNode(obj=ComponentObject(component_name="Email", params=params)),
    )
    state = TurnState(globals={"sys.query": "what is the weather"}, history=[])
    context = RunContext(environment, state, deadline=time.monotonic() + 60)
    given = tool.arguments_for(context, {"subject": "Hi"})
    assert given == {"to_email": None, "cc_email": "boss@example.com", "subject": "Hi",
                     "content": None}  # fmt: skip
    assert tool.arguments_for(context)["to_email"] == "what is the weather"  # a node: default
