"""Credentials at rest: a model field that stores Fernet tokens.

Keys come from ``CENTRO_ENCRYPTION_KEYS`` (comma-separated). The first key encrypts; every key
decrypts, so a key is rotated by putting a new one first and running
``manage.py rotate_encryption_keys``, which re-encrypts every encrypted field with it.
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured(
            "Set CENTRO_ENCRYPTION_KEYS to a Fernet key (python -c 'from cryptography.fernet "
            "import Fernet; print(Fernet.generate_key().decode())')."
        )
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "CENTRO_ENCRYPTION_KEYS holds a value that is not a Fernet key."
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.CENTRO_ENCRYPTION_KEYS))


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored credential cannot be decrypted with CENTRO_ENCRYPTION_KEYS: "
            "was a key removed before rotate_encryption_keys ran?"
        ) from exc


def rotate(token: str) -> str:
    return fernet().rotate(token.encode()).decode()


def mask_secret(value: str | None) -> str:
    """How a credential is shown back: its last four characters at most, never the rest."""
    if not value:
        return ""
    # A short secret would be mostly revealed by its last four characters.
    return "••••" + value[-4:] if len(value) >= 12 else "••••"


class EncryptedTextField(models.TextField):
    """A text value encrypted with Fernet in the database and plain in Python.

    Lookups other than ``isnull`` are meaningless on ciphertext and are refused.
    """

    description = "Text encrypted at rest"

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_lookup(self, lookup_name):
        if lookup_name != "isnull":
            raise ImproperlyConfigured(
                f"Encrypted fields cannot be filtered with '{lookup_name}'; only isnull."
            )
        return super().get_lookup(lookup_name)


def encrypted_fields() -> list[tuple[type[models.Model], EncryptedTextField]]:
    from django.apps import apps

    return [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]
