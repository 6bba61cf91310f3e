"""Sending e-mail through the configured SMTP server (the standard library's smtplib)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from ragserve.errors import InternalError
from ragserve.settings import Settings


class MailFailed(InternalError):
    public_message = "failed to send email"


def send(settings: Settings, *, to: str, subject: str, text: str) -> None:
    """One plain-text message; ``MailFailed`` if the server cannot be reached or refuses it."""
    if settings.smtp_host is None:
        raise MailFailed("smtp_host is not set")
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    timeout = settings.smtp_timeout
    try:
        if settings.smtp_security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.smtp_port,
                timeout=timeout,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        with smtp:
            if settings.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                password = settings.smtp_password
                smtp.login(settings.smtp_username, password.get_secret_value() if password else "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise MailFailed(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {error!r}") from error
