"""Password reset by e-mail: captcha, one-time code, verification, new password.

1. ``new_captcha``: a picture of a few letters for the address (one live captcha per address).
2. ``send_code``: the right captcha (consumed by any answer, right or wrong) sends a code of
   ``CODE_LENGTH`` letters to the address; a new code is refused for ``RESEND_COOLDOWN``
   seconds.
3. ``verify_code``: the right code (single-use; ``ATTEMPT_LIMIT`` wrong answers kill it)
   gives a reset token the API keeps in an HttpOnly cookie of this browser.
4. ``reset``: the token, the address and two equal passwords set the password and sign in.

Every step answers an unknown address exactly as a known one (no mail is sent), so the routes
do not tell who has an account. Codes and captchas live in the database (``challenges``);
codes are kept only as an HMAC under the server's key.
"""

from __future__ import annotations

import hmac
import logging

from ragserve.errors import ArgumentError, AuthenticationError, OperatingError
from ragserve.runtime import Runtime
from ragserve.security import (
    CAPTCHA_ALPHABET,
    RESET_CODE_ALPHABET,
    hash_password,
    keyed_digest,
    new_access_token,
    new_code,
    new_oauth_secret,
)
from ragserve.services import challenges, mail, users
from ragserve.services.challenges import ChallengeKind
from ragserve.timeutil import now_ms, utc_now

logger = logging.getLogger(__name__)

CAPTCHA_LENGTH = 5
CODE_LENGTH = 8
ATTEMPT_LIMIT = 5
RESEND_COOLDOWN = 60

NOT_CONFIGURED = "Password reset by e-mail is not configured on this server."
CAPTCHA_REFUSED = "invalid or expired captcha"
CODE_EXPIRED = "expired otp"
CODE_REFUSED = "invalid otp"
TOO_MANY_ATTEMPTS = "too many attempts, request a new code"
NOT_VERIFIED = "email not verified"
CODE_SENT = "verification passed, email sent"
CODE_VERIFIED = "otp verified"
PASSWORD_RESET = "Password reset successful. Logged in."  # noqa: S105  (a message)


def _require_mail(runtime: Runtime) -> None:
    if runtime.settings.smtp_host is None:
        raise OperatingError(NOT_CONFIGURED)


def _address(email: str) -> str:
    """The lookup of everything keyed on an address (case ignored, as logins ignore it)."""
    return challenges.lookup_of(email.strip().lower())


def new_captcha(runtime: Runtime, email: str) -> str:
    """A new captcha for the address; its text (the API draws it)."""
    _require_mail(runtime)
    if not email.strip():
        raise ArgumentError("email is required")
    text = new_code(CAPTCHA_ALPHABET, CAPTCHA_LENGTH)
    with runtime.transaction() as session:
        challenges.put(
            session,
            ChallengeKind.CAPTCHA,
            _address(email),
            {"answer": text},
            runtime.settings.captcha_lifetime,
        )
    return text


def send_code(runtime: Runtime, email: str, captcha: str) -> None:
    """Check the captcha and mail a new code to the address, if it has an account."""
    _require_mail(runtime)
    if not email.strip() or not captcha.strip():
        raise ArgumentError("email and captcha required")
    address = _address(email)
    code = new_code(RESET_CODE_ALPHABET, CODE_LENGTH)
    wait = 0
    with runtime.transaction() as session:
        row = challenges.take(session, ChallengeKind.CAPTCHA, address)
        answer = str(row.payload.get("answer", "")) if row is not None else ""
        right = bool(answer) and hmac.compare_digest(answer.lower(), captcha.strip().lower())
        previous = challenges.find(session, ChallengeKind.RESET_CODE, address) if right else None
        if previous is not None:
            wait = RESEND_COOLDOWN - (now_ms() - previous.create_time) // 1000
        if right and wait <= 0:
            challenges.put(
                session,
                ChallengeKind.RESET_CODE,
                address,
                {"digest": _code_digest(runtime, address, code)},
                runtime.settings.reset_code_lifetime,
            )
        user = users.find_user_by_email(session, email.strip())
    if not right:
        raise AuthenticationError(CAPTCHA_REFUSED, data=False)
    if wait > 0:
        raise OperatingError(f"you still have to wait {wait} seconds")
    if user is None:
        logger.info("password reset asked for an address with no account")
        return
    minutes = max(1, runtime.settings.reset_code_lifetime // 60)
    mail.send(
        runtime.settings,
        to=user.email,
        subject="Your password reset code",
        text=(
            f"Your ragserve password reset code is: {code}\n\n"
            f"It is valid for {minutes} minute(s) and can be used once. If you did not ask "
            "for it, ignore this message; your password stays as it is.\n"
        ),
    )


def verify_code(runtime: Runtime, email: str, code: str) -> str:
    """Use up the right code; the reset token that ``reset`` then needs."""
    _require_mail(runtime)
    if not email.strip() or not code.strip():
        raise ArgumentError("email and otp are required")
    address = _address(email)
    refusal: str | None = None
    token = new_oauth_secret()
    with runtime.transaction() as session:
        row = challenges.find(session, ChallengeKind.RESET_CODE, address)
        if row is None:
            refusal = CODE_EXPIRED
        elif hmac.compare_digest(
            str(row.payload.get("digest", "")),
            _code_digest(runtime, address, code.strip().upper()),
        ):
            if challenges.discard(session, row):
                challenges.put(
                    session,
                    ChallengeKind.RESET_VERIFIED,
                    challenges.lookup_of(token),
                    {"address": address},
                    runtime.settings.reset_code_lifetime,
                )
            else:
                refusal = CODE_EXPIRED  # a concurrent request used it
        elif challenges.count_attempt(session, row) >= ATTEMPT_LIMIT:
            challenges.discard(session, row)
            refusal = TOO_MANY_ATTEMPTS
        else:
            refusal = CODE_REFUSED
    if refusal is not None:
        raise AuthenticationError(refusal, data=False)
    return token


def reset(
    runtime: Runtime, email: str, token: str | None, password: str, confirm: str
) -> users.SignedIn:
    """Set the password of a verified address and sign in (other sessions end)."""
    _require_mail(runtime)
    if not email.strip() or not password or not confirm:
        raise ArgumentError("email and passwords are required")
    if password != confirm:
        raise ArgumentError("passwords do not match")
    address = _address(email)
    with runtime.transaction() as session:
        row = (
            challenges.find(session, ChallengeKind.RESET_VERIFIED, challenges.lookup_of(token))
            if token
            else None
        )
        user = users.find_user_by_email(session, email.strip())
        if (
            row is None
            or row.payload.get("address") != address
            or user is None
            or not challenges.discard(session, row)
        ):
            raise AuthenticationError(NOT_VERIFIED, data=False)
        user.password_hash = hash_password(password)
        user.access_token = new_access_token()
        user.last_login_time = utc_now().replace(tzinfo=None)
        session.flush()
        return users.SignedIn(users.public(user), user.access_token)


def _code_digest(runtime: Runtime, address: str, code: str) -> str:
    return keyed_digest(runtime.settings.signing_key(), "reset-code", address, code)
