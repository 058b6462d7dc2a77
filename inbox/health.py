"""How the server behind a polled inbox is doing, as its channel page shows it (the checks and
catching up are ``inbox.actions.catch_up``)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from inbox.models import Inbox, InboxHealth


@dataclass(frozen=True)
class ServerStatus:
    OK = "ok"
    UNREACHABLE = "unreachable"  # failed checks in a row reached the alert threshold
    SILENT = "silent"  # nothing heard for INBOX_HEALTH_SILENT_MINUTES (is the beat running?)
    UNKNOWN = "unknown"  # never heard from

    state: str
    last_heard_at: datetime | None
    failures: int = 0
    last_failure: str = ""
    unreachable_since: datetime | None = None
    caught_up_to: datetime | None = None

    @property
    def alert(self) -> bool:
        return self.state in (self.UNREACHABLE, self.SILENT)


def server_status(inbox: Inbox, *, last_webhook_at: datetime | None = None) -> ServerStatus:
    """The latest of a successful check and a webhook (``last_webhook_at``, from the journal:
    ``channel_views.with_webhook_activity``) is when the server was last heard from."""
    health = InboxHealth.objects.for_tenant(inbox.tenant).filter(inbox=inbox).first()
    heard = [moment for moment in (health and health.last_heard_at, last_webhook_at) if moment]
    last_heard_at = max(heard) if heard else None
    silent_after = timedelta(minutes=settings.INBOX_HEALTH_SILENT_MINUTES)
    if health is not None and health.unreachable_since is not None:
        state = ServerStatus.UNREACHABLE
    elif last_heard_at is None:
        state = ServerStatus.UNKNOWN
    elif timezone.now() - last_heard_at > silent_after:
        state = ServerStatus.SILENT
    else:
        state = ServerStatus.OK
    if health is None:
        return ServerStatus(state=state, last_heard_at=last_heard_at)
    return ServerStatus(
        state=state,
        last_heard_at=last_heard_at,
        failures=health.failures,
        last_failure=health.last_failure,
        unreachable_since=health.unreachable_since,
        caught_up_to=health.caught_up_to,
    )
