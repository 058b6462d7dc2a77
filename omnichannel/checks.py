from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import Error, register


@register()
def check_encryption_keys(app_configs, **kwargs) -> list[Error]:
    keys = settings.CENTRO_ENCRYPTION_KEYS
    if not keys:
        return [
            Error(
                "CENTRO_ENCRYPTION_KEYS is not set; provider credentials cannot be stored.",
                hint="Generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'",
                id="centro.E001",
            )
        ]
    errors = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except ValueError:
            errors.append(
                Error(
                    f"Key {position} of CENTRO_ENCRYPTION_KEYS is not a Fernet key "
                    "(32 url-safe base64-encoded bytes).",
                    id="centro.E002",
                )
            )
    return errors
