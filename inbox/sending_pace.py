"""How fast campaigns may send from an inbox: its ``messages_per_second`` setting, else its
provider's conservative default (iMessage: one message every 3 seconds, because Apple flags
an Apple ID that sends in bulk), else ``CAMPAIGN_SENDER_RATE``."""

from django.conf import settings

from inbox.models import Inbox
from inbox.providers import UnknownProvider, provider_class


def provider_rate(inbox: Inbox) -> float | None:
    """The provider's own conservative campaign rate (iMessage), None when it has none."""
    try:
        return provider_class(inbox.provider).capabilities.campaign_rate
    except UnknownProvider:
        return None


def inbox_rate(inbox: Inbox) -> float:
    """Messages per second campaigns send from ``inbox`` at most."""
    return float(
        inbox.option("messages_per_second", None)
        or provider_rate(inbox)
        or settings.CAMPAIGN_SENDER_RATE
    )


def pace_note(inbox: Inbox | None) -> str:
    """Why campaigns from ``inbox`` go slowly, for a sender its provider paces (iMessage);
    "" for the others."""
    if inbox is None or provider_rate(inbox) is None:
        return ""
    why = provider_class(inbox.provider).capabilities.campaign_rate_why
    seconds = 1 / inbox_rate(inbox)
    every = f"one message every {seconds:.3g} s" if seconds >= 1 else f"{1 / seconds:.3g}/s"
    return f"{inbox.get_kind_display()} campaigns are paced to {every}" + (
        f": {why}." if why else "."
    )
