"""Servers whose webhooks may be lost (BlueBubbles signs nothing and never retries): a health
check, and catching up on what the server recorded since the last message seen.

Catching up reads the provider's record of messages (``sync``, BlueBubbles' message query
route) from the cursor kept on :class:`InboxHealth`, minus an overlap, and applies every event
through :func:`apply_chat_event`, the path the webhooks take: messages are keyed on the
provider's id, so what a webhook already stored is a no-op, and a webhook arriving after
catching up stored its message changes nothing. A beat task runs it for every such inbox, and
so does every start of a worker (``inbox.tasks.catch_up``). One run per inbox at a time.

Health: every check's outcome is recorded. The server's silence is shown on its channel page;
``INBOX_HEALTH_ALERT_FAILURES`` failed checks in a row mark it unreachable and tell the admins
once per outage; the first check that works again clears it and tells them it is back.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from inbox.actions.chat_events import apply_chat_event
from inbox.actions.notify import notify_server_back, notify_server_unreachable
from inbox.models import Inbox, InboxHealth
from inbox.providers import UnknownProvider, get_provider, provider_class, provider_keys
from inbox.providers.base import ConnectionCheck, MalformedWebhook, ProviderError, supports

logger = logging.getLogger(__name__)

# Read again from a little before the last message seen: a message the server recorded late
# (its clock, or Messages syncing from the phone) is not skipped. Repeats are no-ops.
OVERLAP = timedelta(minutes=5)
PAGE_SIZE = 100
# One run reads at most this many pages; the next run goes on from where it stopped.
MAX_PAGES = 20
# A run that died without releasing its claim holds it no longer than this.
CLAIM_SECONDS = 15 * 60


def polls_server(inbox: Inbox) -> bool:
    """Whether ``inbox``'s server is checked and caught up with (its provider has ``sync``)."""
    try:
        return supports(provider_class(inbox.provider), "sync")
    except UnknownProvider:
        return False


def polling_providers() -> list[str]:
    """The providers whose servers are checked and caught up with (they have ``sync``)."""
    return [key for key in provider_keys() if supports(provider_class(key), "sync")]


def health_of(inbox: Inbox) -> InboxHealth:
    health, _ = InboxHealth.objects.get_or_create(inbox=inbox, defaults={"tenant": inbox.tenant})
    return health


@contextmanager
def claim_catch_up(inbox: Inbox) -> Iterator[bool]:
    """True for the one run that holds ``inbox``'s claim (a Redis key), False for the others."""
    key = f"inbox:catch-up:{inbox.pk}"
    claimed = cache.add(key, 1, CLAIM_SECONDS)
    try:
        yield claimed
    finally:
        if claimed:
            cache.delete(key)


def do_catch_up(inbox: Inbox) -> int:
    """Apply what the server recorded since the cursor (minus :data:`OVERLAP`); the number of
    records read. The cursor moves after each page, so a failure (``ProviderError``, raised)
    loses nothing: the next run reads that page again."""
    health = health_of(inbox)
    provider = get_provider(inbox)
    since = (health.caught_up_to or inbox.created_at) - OVERLAP
    read = 0
    for _ in range(MAX_PAGES):
        page = provider.sync(since, offset=read, limit=PAGE_SIZE)
        for event in page.events:
            try:
                note = apply_chat_event(inbox, event, new=True)
            except MalformedWebhook as exc:
                note = f"Not applied: {exc}"
            logger.debug("Catch-up of inbox %s: %s", inbox.pk, note)
        read += page.count
        if page.latest is not None:
            _move_cursor(health, page.latest)
        if page.count < PAGE_SIZE:
            break
    return read


def _move_cursor(health: InboxHealth, latest: datetime) -> None:
    InboxHealth.objects.filter(pk=health.pk).update(
        caught_up_to=Greatest(Coalesce(F("caught_up_to"), latest), latest)
    )


@transaction.atomic
def do_record_health(inbox: Inbox, check: ConnectionCheck) -> InboxHealth:
    """Record one check of the server. Conditional updates decide the transitions, so two
    concurrent checks alert (or announce the recovery) once."""
    health = health_of(inbox)
    now = timezone.now()
    rows = InboxHealth.objects.filter(pk=health.pk)
    if check.ok:
        outage = health.unreachable_since
        rows.update(last_heard_at=now, failures=0, last_failure="")
        if outage is not None and rows.filter(unreachable_since=outage).update(
            unreachable_since=None
        ):
            notify_server_back(inbox, since=outage)
    else:
        rows.update(failures=F("failures") + 1, last_failure=check.detail[:300])
        threshold = max(1, settings.INBOX_HEALTH_ALERT_FAILURES)
        if rows.filter(Q(unreachable_since__isnull=True), failures__gte=threshold).update(
            unreachable_since=now
        ):
            health.refresh_from_db()
            notify_server_unreachable(inbox, health)
    health.refresh_from_db()
    return health


def do_check_and_catch_up(inbox: Inbox) -> str:
    """Check the server, then catch up if it answered; what happened, for the log."""
    with claim_catch_up(inbox) as claimed:
        if not claimed:
            return f"Inbox {inbox.pk} is being caught up already."
        check = get_provider(inbox).health()
        if check.ok:
            try:
                read = do_catch_up(inbox)
            except ProviderError as exc:
                check = ConnectionCheck(ok=False, detail=exc.message)
            else:
                do_record_health(inbox, check)
                return f"Inbox {inbox.pk}: {read} messages read from the server."
        do_record_health(inbox, check)
        return f"Inbox {inbox.pk}: the server did not answer ({check.detail})."


def inboxes_to_poll() -> list[int]:
    """The ids of the active inboxes, of active tenants, whose servers are polled."""
    inboxes = Inbox.objects.filter(
        is_active=True, tenant__is_active=True, provider__in=polling_providers()
    )
    return list(inboxes.order_by("id").values_list("id", flat=True))
