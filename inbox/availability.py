"""Whether an address can be reached on an inbox's channel, asked of providers that can tell
(``check_availability``, e.g. iMessage) and cached: the check is slow and costs the provider a
request, and the answer rarely changes.

A "no" is read as "probably not": some providers' checks have false negatives, so a "no"
means "send on the fallback inbox", never "this person does not exist". A check that fails
(the provider is down) answers "yes": the send is tried, and a "not on this channel" error
then falls back anyway.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache

from inbox.providers import ProviderError
from inbox.providers.base import supports


def _key(inbox_id: int, address: str) -> str:
    digest = hashlib.sha256(address.strip().lower().encode()).hexdigest()[:32]
    return f"inbox:reachable:{inbox_id}:{digest}"


def reachable(inbox, provider, address: str) -> bool:
    """Whether ``address`` is (probably) on ``inbox``'s channel; True for providers that
    cannot tell."""
    if not supports(provider, "check_availability"):
        return True
    key = _key(inbox.pk, address)
    known = cache.get(key)
    if known is not None:
        return known
    try:
        known = bool(provider.check_availability(address))
    except ProviderError:
        return True
    cache.set(key, known, settings.CHANNEL_AVAILABILITY_TTL)
    return known
