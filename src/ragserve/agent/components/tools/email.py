"""Email: sends a message over SMTP.

Parameters (RAGFlow's): ``smtp_server``, ``smtp_port`` (465), ``email`` (the sender),
``password``, ``sender_name``. Arguments: ``to_email`` (default ``{sys.query}``; several
separated by commas), ``cc_email``, ``subject``, ``content`` (sent as text, and as HTML too
when it holds tags). Output: ``success`` (true).

Port 465 speaks TLS from the start; other ports use STARTTLS when the server offers it. The
password is never sent over a connection without TLS (such a node fails instead); without a
password no login happens. The server's host must be public unless
``allow_private_urls``.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any

from pydantic import Field

from ragserve.agent.components.base import ComponentParams
from ragserve.agent.components.tools.base import Tool, ToolArgument
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError
from ragserve.url_guard import check_host

TIMEOUT = 30
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


class EmailParams(ComponentParams):
    smtp_server: str = ""
    smtp_port: int = Field(465, ge=1, le=65535)
    email: str = ""
    password: str = ""
    sender_name: str = ""


def _addresses(text: str) -> list[str]:
    found = [part.strip() for part in re.split(r"[,;]", text) if part.strip()]
    for address in found:
        try:
            Address(addr_spec=address)
        except (ValueError, IndexError):
            raise ComponentError(f"Email: `{address}` is not an e-mail address.") from None
    return found


class Email(Tool):
    component_name = "Email"
    Params = EmailParams
    function_description = "Sends an e-mail to one or more people."
    arguments = (
        ToolArgument("to_email", "The recipient's address (several: comma-separated).",
                     default="{sys.query}"),
        ToolArgument("cc_email", "Addresses to copy, comma-separated.", required=False),
        ToolArgument("subject", "The subject of the e-mail.", required=False),
        ToolArgument("content", "The text of the e-mail.", required=False),
    )  # fmt: skip

    def call(self, context: RunContext, arguments: dict[str, Any]) -> dict[str, Any]:
        params = self.params
        assert isinstance(params, EmailParams)
        to = _addresses(self.text_argument(arguments, "to_email"))
        cc = _addresses(self.text_argument(arguments, "cc_email"))
        if not to:
            return {"success": False}
        if not params.smtp_server or not params.email:
            raise ComponentError(f"Email {self.id}: `smtp_server` and `email` are required.")
        check_host(
            params.smtp_server,
            allow_private=self.settings(context).allow_private_urls,
            port=params.smtp_port,
        )
        message = EmailMessage()
        message["From"] = formataddr((params.sender_name, params.email))
        message["To"] = ", ".join(to)
        if cc:
            message["Cc"] = ", ".join(cc)
        message["Subject"] = self.text_argument(arguments, "subject") or "No Subject"
        content = self.text_argument(arguments, "content") or "No content provided"
        message.set_content(_TAG.sub("", content) if _TAG.search(content) else content)
        if _TAG.search(content):
            message.add_alternative(content, subtype="html")
        try:
            self._send(params, message, list(dict.fromkeys([*to, *cc])))
        except smtplib.SMTPAuthenticationError:
            raise ComponentError("Email: the SMTP server refused the login.") from None
        except (smtplib.SMTPException, OSError) as error:
            raise ComponentError(f"Email: sending failed: {type(error).__name__}.") from None
        return {"success": True}

    def _send(self, params: EmailParams, message: EmailMessage, recipients: list[str]) -> None:
        context = ssl.create_default_context()
        if params.smtp_port == 465:
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                params.smtp_server, params.smtp_port, timeout=TIMEOUT, context=context
            )
        else:
            server = smtplib.SMTP(params.smtp_server, params.smtp_port, timeout=TIMEOUT)
        with server:
            server.ehlo()
            encrypted = params.smtp_port == 465
            if not encrypted and server.has_extn("starttls"):
                server.starttls(context=context)
                server.ehlo()
                encrypted = True
            if params.password:
                if not encrypted:
                    raise ComponentError(
                        "Email: the SMTP server offers no TLS; the password is not sent in clear."
                    )
                server.login(params.email, params.password)
            server.send_message(message, params.email, recipients)
