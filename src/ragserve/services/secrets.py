"""Provider API keys at rest: encrypted with Fernet (AES-128-CBC + HMAC-SHA256), under a key
derived from the server's signing key, and masked whenever one is shown.

The Fernet key is ``HKDF-SHA256(signing_key, info=KEY_INFO)``, so the signing key itself never
encrypts anything and changing ``secret_key`` makes the stored keys unreadable (they must then
be set again; ``SecretUnreadable`` says so).
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ragserve.errors import DataError

KEY_INFO = b"ragserve provider api keys v1"
MASK = "\u2026"  # the ellipsis in "sk-a…wxyz"
SHOWN_CHARS = 4


class SecretUnreadable(DataError):
    """A stored key cannot be decrypted with this server's key (``secret_key`` changed)."""


class SecretBox:
    """Encrypts and decrypts short secrets (provider API keys) for storage."""

    def __init__(self, signing_key: str) -> None:
        self._fernet = _fernet(signing_key)

    def encrypt(self, plain: str) -> str:
        """An ASCII token (URL-safe base64) holding ``plain``; a new random IV each time."""
        return self._fernet.encrypt(plain.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The secret in ``token``; ``SecretUnreadable`` if it was made with another key."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as error:
            raise SecretUnreadable(
                "A stored API key cannot be decrypted (the server's secret_key changed?); "
                "set the key again."
            ) from error


@functools.lru_cache(maxsize=4)
def _fernet(signing_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEY_INFO).derive(
        signing_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def mask(secret: str) -> str:
    """``sk-a…wxyz``: the first and last four characters; keys too short to hide that much
    show only the ellipsis."""
    if len(secret) < 3 * SHOWN_CHARS:
        return MASK
    return f"{secret[:SHOWN_CHARS]}{MASK}{secret[-SHOWN_CHARS:]}"
