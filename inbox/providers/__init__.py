"""The providers behind one registry: a provider key (stored on ``Inbox.provider``) names a
package under ``inbox/providers/<key>/`` whose ``provider.py`` holds the transport.

Adding a provider is one package, one webhook module (``inbox/webhooks/<key>.py``, its event
handler table) and one line in :data:`PROVIDERS`. Everything else asks the registry, never
compares provider names: what a provider can do is on its class (``kinds``, ``capabilities``,
``credentials``) and :func:`inbox.providers.base.supports`.
"""

import functools

from django.conf import settings
from django.urls import reverse
from django.utils.module_loading import import_string

from inbox.providers.base import (
    Capabilities,
    InboundMedia,
    MessageReceived,
    OutboundMessage,
    ProviderError,
    ProviderResult,
    StatusEvent,
)

__all__ = [
    "PROVIDERS",
    "Capabilities",
    "InboundMedia",
    "MessageReceived",
    "OutboundMessage",
    "ProviderError",
    "ProviderResult",
    "StatusEvent",
    "UnknownProvider",
    "get_provider",
    "provider_class",
    "provider_keys",
    "register",
    "webhook_url",
]

# key -> the provider class, imported on first use.
PROVIDERS: dict[str, str] = {
    "twilio": "inbox.providers.twilio.provider.TwilioProvider",
    "anymail": "inbox.providers.anymail.provider.AnymailProvider",
    "bluebubbles": "inbox.providers.bluebubbles.provider.BlueBubblesProvider",
    "evolution": "inbox.providers.evolution.provider.EvolutionProvider",
    "chatwoot": "inbox.providers.chatwoot.provider.ChatwootProvider",
}


class UnknownProvider(LookupError):
    """No provider is registered under this key."""


def register(key: str, path: str) -> None:
    """Add (or replace) a provider: ``path`` is the dotted path of its class."""
    PROVIDERS[key] = path
    provider_class.cache_clear()


def unregister(key: str) -> None:
    PROVIDERS.pop(key, None)
    provider_class.cache_clear()


@functools.cache
def provider_class(key: str) -> type:
    """The provider class registered under ``key``; ``UnknownProvider`` when there is none."""
    try:
        path = PROVIDERS[key]
    except KeyError:
        raise UnknownProvider(
            f"Unknown provider “{key}”; the providers are {', '.join(sorted(PROVIDERS))}."
        ) from None
    return import_string(path)


def provider_keys() -> list[str]:
    return sorted(PROVIDERS)


def get_provider(inbox):
    """The provider implementation configured for ``inbox``."""
    try:
        return provider_class(inbox.provider)(inbox)
    except UnknownProvider as exc:
        raise ValueError(str(exc)) from None


def webhook_url(inbox, endpoint: str) -> str:
    """The public URL of ``inbox``'s webhook ``endpoint`` (a name in its webhook module's
    ``ENDPOINTS``), what the provider is told to call."""
    path = reverse("webhooks:receive", args=[inbox.provider, inbox.webhook_token, endpoint])
    return settings.PUBLIC_BASE_URL.rstrip("/") + path
