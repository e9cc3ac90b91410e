"""A text field stored encrypted (Fernet); Python code sees plaintext, the database only ciphertext."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

from LiveData.schwab import crypto

if TYPE_CHECKING:
    _TextField = models.TextField[str, str]
else:
    _TextField = models.TextField


class EncryptedTextField(_TextField):
    """Encrypt on the way to the database, decrypt on the way back. Empty stays empty."""

    description = "Text encrypted at rest with Fernet"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if not value:
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if not value:
            return value
        return crypto.encrypt(str(value))
