"""Secrets: password hashes, API tokens, signed web session tokens, RSA-wrapped passwords."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from itsdangerous import BadSignature, URLSafeTimedSerializer

API_TOKEN_PREFIX = "ragflow-"  # noqa: S105  (a public prefix)
API_TOKEN_SECRET_CHARS = 32
# What token listings show: "ragflow-" plus the first 8 secret characters.
TOKEN_DISPLAY_CHARS = len(API_TOKEN_PREFIX) + 8

_password_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _password_hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _password_hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_api_token() -> str:
    """``ragflow-`` + 32 URL-safe characters (192 random bits)."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(API_TOKEN_SECRET_CHARS * 3 // 4)


def new_beta_token() -> str:
    """The embedded-widget token: 32 URL-safe characters."""
    return secrets.token_urlsafe(API_TOKEN_SECRET_CHARS * 3 // 4)


def token_digest(token: str) -> str:
    """Tokens carry 192 random bits, so a plain SHA-256 is a safe lookup key."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_display(token: str) -> str:
    return token[:TOKEN_DISPLAY_CHARS]


def new_access_token() -> str:
    return secrets.token_hex(16)


def new_oauth_secret() -> str:
    """An OAuth state, nonce or PKCE code verifier: 43 URL-safe characters (256 random bits),
    which RFC 7636 allows as a verifier."""
    return secrets.token_urlsafe(32)


def pkce_challenge(verifier: str) -> str:
    """RFC 7636's S256 code challenge: unpadded base64url of the verifier's SHA-256."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


RESET_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O, which read like 1 and 0
CAPTCHA_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_code(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def keyed_digest(key: str, *parts: str) -> str:
    """HMAC-SHA256 of the parts, so that a stolen database does not give short codes away to
    an offline search."""
    message = "\x1f".join(parts).encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


class SessionSigner:
    """Signs a user's ``access_token`` into the web session token that login returns."""

    def __init__(self, secret_key: str, max_age: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="ragserve-session")
        self._max_age = max_age

    def sign(self, access_token: str) -> str:
        return self._serializer.dumps(access_token)

    def unsign(self, session_token: str) -> str | None:
        """The access token inside a valid, unexpired session token; else ``None``."""
        try:
            value = self._serializer.loads(session_token, max_age=self._max_age)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None


class PasswordDecryptor:
    """Reads passwords sent the way RAGFlow's web client sends them:
    base64(RSA-PKCS#1 v1.5(base64(plain text))). Anything that does not decrypt is taken
    as the plain-text password, which is what ragserve's own clients send."""

    def __init__(self, private_key: RSAPrivateKey | None) -> None:
        self._key = private_key

    @classmethod
    def from_file(cls, path: Path | None, passphrase: str | None) -> PasswordDecryptor:
        if path is None:
            return cls(None)
        key = load_pem_private_key(
            path.read_bytes(), password=passphrase.encode() if passphrase else None
        )
        if not isinstance(key, RSAPrivateKey):
            raise ValueError(f"{path} is not an RSA private key")
        return cls(key)

    def plain_text(self, password: str) -> str:
        if self._key is None:
            return password
        try:
            wrapped = self._key.decrypt(base64.b64decode(password, validate=True), PKCS1v15())
            return base64.b64decode(wrapped, validate=True).decode()
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return password
