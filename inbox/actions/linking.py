"""Pairing a provider's account with a phone (WhatsApp through Evolution: a QR code to scan)
and following the link afterwards.

Connecting registers the inbox's webhooks with the provider, then asks for a QR code; the
settings page polls the state until the phone has scanned it. The provider's connection
webhooks keep the state (and the inbox's health) up to date from then on: a lost link
(logged out, the codes ran out) tells the admins once, a link that opens again clears it.
"""

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from inbox.actions.catch_up import do_record_health, health_of
from inbox.actions.inboxes import webhook_urls
from inbox.actions.notify import notify_server_unreachable
from inbox.models import Inbox, InboxHealth
from inbox.providers import get_provider
from inbox.providers.base import ConnectionCheck, LinkState, ProviderError, supports
from omnichannel import audit
from omnichannel.actions import ActionError
from omnichannel.models import AuditEvent

# A QR code is replaced every ~40 s by the provider: keep the latest a little longer.
QR_SECONDS = 60


def can_link(inbox: Inbox) -> bool:
    """Whether ``inbox``'s provider pairs a phone by a QR code."""
    try:
        return supports(get_provider(inbox), "start_link")
    except ValueError:  # a provider no longer registered
        return False


def _qr_key(inbox: Inbox) -> str:
    return f"inbox:link-qr:{inbox.pk}"


def latest_qr(inbox: Inbox) -> str:
    """The latest QR code to scan (a data URL), if one is still fresh."""
    return cache.get(_qr_key(inbox)) or ""


@transaction.atomic
def do_start_link(inbox: Inbox, *, acting_user=None) -> LinkState:
    """Register the inbox's webhooks with the provider and ask for a QR code (or learn the
    phone is linked already); audited, since it points the provider's webhooks here and may
    pair a phone with the inbox. ``ActionError`` when the provider refuses."""
    if not can_link(inbox):
        raise ActionError(f"{inbox.provider_label} inboxes are not paired by a QR code.")
    provider = get_provider(inbox)
    try:
        provider.register_webhooks(webhook_urls(inbox))
        state = provider.start_link()
    except ProviderError as exc:
        raise ActionError(exc.message, code="unavailable") from exc
    audit.record(
        AuditEvent.Action.INBOX_CHANGED,
        tenant=inbox.tenant,
        actor=acting_user,
        target=inbox,
        data={"changed": ["webhooks", "link"], "state": state.state[:20]},
    )
    do_record_link_state(inbox, state)
    return state


def do_refresh_link(inbox: Inbox) -> LinkState:
    """The link's state as the provider says now, recorded; the latest QR code while pairing."""
    try:
        state = get_provider(inbox).link_state()
    except ProviderError as exc:
        raise ActionError(exc.message, code="unavailable") from exc
    do_record_link_state(inbox, state)
    if not state.connected and not state.lost and state.state == "connecting":
        qr = latest_qr(inbox)
        if qr:
            return LinkState(state=state.state, detail=state.detail, qr_image=qr)
    return state


@transaction.atomic
def do_record_link_state(inbox: Inbox, state: LinkState) -> str:
    """Record what the provider said of the link; the journal's note. An open link is the
    inbox heard from; a lost one marks it unreachable at once and tells the admins (once per
    outage); a new QR code is kept for the page that shows it."""
    health = health_of(inbox)
    InboxHealth.objects.filter(pk=health.pk).update(connection_state=state.state[:20])
    if state.qr_image:
        cache.set(_qr_key(inbox), state.qr_image, QR_SECONDS)
    if state.connected:
        cache.delete(_qr_key(inbox))
        do_record_health(inbox, ConnectionCheck(ok=True, detail=state.detail))
    elif state.lost:
        rows = InboxHealth.objects.filter(pk=health.pk)
        rows.update(last_failure=state.detail[:300])
        if rows.filter(Q(unreachable_since__isnull=True)).update(
            unreachable_since=timezone.now(), failures=1
        ):
            health.refresh_from_db()
            notify_server_unreachable(inbox, health)
    return f"The link is {state.state}: {state.detail}"
