"""Google push channels (``events.watch``): opening and renewing them, and receiving their
notifications through the webhook journal.

A notification carries no body and no signature: the channel id in our URL finds the calendar
and the ``X-Goog-Channel-Token`` header must equal that channel's secret (constant-time), else
403 and nothing is stored. It only says "something changed": the handler queues an incremental
sync (the first message of a channel, ``sync``, is acknowledged and ignored). Channels expire
and cannot be extended: beat opens a new one a day before and stops the old one.
"""

import datetime as dt
import logging
import secrets
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from calendar_app.google.actions import SOURCE, do_mark_google_revoked
from calendar_app.google.client import CalendarClient, GoogleError
from calendar_app.google.models import GoogleCalendar, GoogleConnection
from omnichannel.models import WebhookEvent
from omnichannel.webhooks import MalformedWebhook, journal

logger = logging.getLogger(__name__)

RENEW_BEFORE = dt.timedelta(hours=24)
STATES = ("sync", "exists", "not_exists")


def push_address(channel_id: str) -> str:
    path = reverse("calendar_google:push", args=[channel_id])
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}"


def do_watch_calendar(calendar: GoogleCalendar) -> GoogleCalendar:
    """Open a new push channel for ``calendar`` (the old one, if any, is stopped after).
    Raises :class:`GoogleError` for failures worth retrying."""
    connection = calendar.connection
    if calendar.resource_id is None or connection.status != GoogleConnection.Status.ACTIVE:
        return calendar
    client = CalendarClient(connection)
    channel_id, token = uuid.uuid4().hex, secrets.token_urlsafe(32)
    try:
        answer = client.watch(
            calendar.calendar_id,
            channel_id=channel_id,
            token=token,
            address=push_address(channel_id),
        )
    except GoogleError as exc:
        if exc.revoked:
            do_mark_google_revoked(connection, exc.message)
            return calendar
        GoogleCalendar.objects.filter(pk=calendar.pk).update(
            sync_error=f"Push notifications are off: {exc.message}"[:500]
        )
        raise
    expiration = str(answer.get("expiration") or "")
    expires = (
        dt.datetime.fromtimestamp(int(expiration) / 1000, dt.UTC)
        if expiration.isdigit()
        else timezone.now() + dt.timedelta(days=7)
    )
    old = (calendar.channel_id, calendar.channel_resource_id)
    with transaction.atomic():
        updated = GoogleCalendar.objects.filter(
            pk=calendar.pk, resource_id=calendar.resource_id
        ).update(
            channel_id=channel_id,
            channel_token=token,
            channel_resource_id=str(answer.get("resourceId") or "")[:200],
            channel_expires_at=expires,
        )
    if not updated:  # unmapped meanwhile: the new channel has no use
        old = (channel_id, str(answer.get("resourceId") or ""))
    if old[0]:
        try:
            client.stop_channel(channel_id=old[0], resource_id=old[1])
        except GoogleError as exc:
            logger.info("Google channel %s not stopped: %s", old[0], exc.message)
    calendar.refresh_from_db()
    return calendar


def calendars_to_renew(now: dt.datetime) -> list[int]:
    """Synced calendars without a channel, or whose channel expires within a day."""
    return list(
        GoogleCalendar.objects.filter(
            Q(channel_expires_at__isnull=True) | Q(channel_expires_at__lt=now + RENEW_BEFORE),
            resource__isnull=False,
            connection__status=GoogleConnection.Status.ACTIVE,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


# --- the receiver -------------------------------------------------------------------------------


def _plain(text: str, status: int) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
@require_POST
def receive(request: HttpRequest, channel_id: str) -> HttpResponse:
    calendar = (
        GoogleCalendar.objects.select_related("tenant")
        .filter(channel_id=channel_id, tenant__is_active=True)
        .exclude(channel_id="")
        .first()
    )
    if calendar is None:
        if request.headers.get("X-Goog-Resource-State") == "sync":
            # A new channel's handshake may arrive before its id is saved (Google sends it
            # while events.watch is answering); it asks for nothing, so nothing is stored.
            return HttpResponse(status=200)
        return _plain("No such channel.", 404)
    token = request.headers.get("X-Goog-Channel-Token", "")
    if not (
        calendar.channel_token
        and constant_time_compare(token, calendar.channel_token)
        and constant_time_compare(request.headers.get("X-Goog-Channel-ID", ""), channel_id)
    ):
        return _plain("The channel token does not match this channel.", 403)
    state = request.headers.get("X-Goog-Resource-State", "")
    headers = {
        name: "***" if name.lower() == "x-goog-channel-token" else value
        for name, value in journal.headers_of(request).items()
    }
    number = request.headers.get("X-Goog-Message-Number", "")
    event = journal.record(
        source=SOURCE,
        tenant=calendar.tenant,
        kind=state if state in STATES else "unknown",
        url=f"{settings.PUBLIC_BASE_URL.rstrip('/')}{request.get_full_path()}",
        content_type=request.META.get("CONTENT_TYPE", ""),
        headers=headers,
        body=request.body,
        external_id=f"{channel_id[:32]}:{number[:20]}" if number else "",
        invalid="" if state in STATES else f"Unknown X-Goog-Resource-State {state[:40]!r}.",
    )
    if event.state == WebhookEvent.State.INVALID:
        return _plain(event.error, 400)
    event = journal.process(event, request)
    if event.state == WebhookEvent.State.FAILED:
        return _plain(f"Journaled as event {event.pk}; it will be replayed.", 500)
    return HttpResponse(status=200)


def _calendar_of(request: HttpRequest) -> GoogleCalendar:
    """The channel's calendar, from the receiver's path (kept by the journal for replays)."""
    channel_id = request.path_info.rstrip("/").rsplit("/", 1)[-1]
    calendar = GoogleCalendar.objects.filter(channel_id=channel_id).exclude(channel_id="").first()
    if calendar is None:
        raise MalformedWebhook("The channel no longer exists (renewed or unmapped).")
    return calendar


def handle_sync(inbox, request: HttpRequest) -> str:
    """A channel's first message, right after it was opened."""
    return f"Channel of calendar {_calendar_of(request).pk} opened."


def handle_changed(inbox, request: HttpRequest) -> str:
    from calendar_app.google.tasks import sync_calendar_task

    calendar = _calendar_of(request)
    transaction.on_commit(lambda: sync_calendar_task.delay(calendar.pk))
    return f"Incremental sync of calendar {calendar.pk} queued."


EVENT_HANDLERS = {"sync": handle_sync, "exists": handle_changed, "not_exists": handle_changed}


def handlers_for(source: str) -> dict | None:
    return EVENT_HANDLERS if source == SOURCE else None
