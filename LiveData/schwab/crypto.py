"""Encryption at rest for Schwab tokens: MultiFernet over TOKEN_ENCRYPTION_KEYS (newest key first)."""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.core.exceptions import ImproperlyConfigured

from LiveData.schwab.conf import schwab_settings


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("TOKEN_ENCRYPTION_KEYS must hold at least one Fernet key.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as bad_key:
        raise ImproperlyConfigured(
            "TOKEN_ENCRYPTION_KEYS holds a value that is not a Fernet key."
        ) from bad_key


def fernet() -> MultiFernet:
    """The MultiFernet for the configured keys (read lazily, so tests can change them)."""
    return _fernet(schwab_settings().token_encryption_keys)


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    """Decrypt with any configured key; a value no key opens is a configuration error, never shown."""
    try:
        return fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as unreadable:
        raise ImproperlyConfigured(
            "A stored Schwab token cannot be decrypted with any TOKEN_ENCRYPTION_KEYS key."
        ) from unreadable


def rotate(ciphertext: str) -> str:
    """Re-encrypt under the newest key."""
    return fernet().rotate(ciphertext.encode()).decode()
