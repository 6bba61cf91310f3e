from __future__ import annotations

import pytest

from ragserve.errors import RetCode
from ragserve.services.secrets import SecretBox, SecretUnreadable, mask

KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz"


def test_round_trip_without_the_plain_text() -> None:
    box = SecretBox("signing key one")
    token = box.encrypt(KEY)
    assert KEY not in token and "abcdefgh" not in token
    assert token.isascii()
    assert box.decrypt(token) == KEY
    assert box.encrypt(KEY) != token  # a fresh IV each time


def test_the_same_signing_key_reads_what_another_box_wrote() -> None:
    token = SecretBox("signing key one").encrypt(KEY)
    assert SecretBox("signing key one").decrypt(token) == KEY


def test_another_signing_key_cannot_decrypt() -> None:
    token = SecretBox("signing key one").encrypt(KEY)
    with pytest.raises(SecretUnreadable) as caught:
        SecretBox("signing key two").decrypt(token)
    assert caught.value.code == RetCode.DATA_ERROR
    assert "set the key again" in caught.value.message
    with pytest.raises(SecretUnreadable):
        SecretBox("signing key one").decrypt("not a token")


def test_the_signing_key_is_not_the_encryption_key() -> None:
    """A Fernet key made directly from the signing key's bytes must not read the tokens."""
    import base64

    from cryptography.fernet import Fernet, InvalidToken

    signing_key = "x" * 32
    token = SecretBox(signing_key).encrypt(KEY)
    naive = Fernet(base64.urlsafe_b64encode(signing_key.encode()))
    with pytest.raises(InvalidToken):
        naive.decrypt(token.encode())


@pytest.mark.parametrize(
    ("secret", "shown"),
    [
        ("sk-abcdefghijklmnopqrstuvwxyz", "sk-a\u2026wxyz"),
        ("abcdefghijkl", "abcd\u2026ijkl"),
        ("abcdefghijk", "\u2026"),
        ("", "\u2026"),
    ],
)
def test_mask_shows_only_the_ends(secret: str, shown: str) -> None:
    assert mask(secret) == shown
