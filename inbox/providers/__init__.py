"""Providers behind one small interface (see base.py); one module per provider."""

from inbox.providers.base import (
    Capabilities,
    InboundMedia,
    MessageReceived,
    ProviderError,
    ProviderResult,
    StatusEvent,
)

__all__ = [
    "Capabilities",
    "InboundMedia",
    "MessageReceived",
    "ProviderError",
    "ProviderResult",
    "StatusEvent",
    "get_provider",
]


def get_provider(inbox):
    """The provider implementation configured for ``inbox``."""
    from inbox.models import Provider

    if inbox.provider == Provider.TWILIO:
        from inbox.providers.twilio import TwilioProvider

        return TwilioProvider(inbox)
    if inbox.provider == Provider.ANYMAIL:
        from inbox.providers.anymail import AnymailProvider

        return AnymailProvider(inbox)
    raise ValueError(f"No provider implementation for {inbox.provider!r}.")
