"""Connecting Google accounts and choosing what syncs: connect (the OAuth callback's code
becomes an encrypted refresh token and the account's calendars), map a calendar to a resource,
choose what a change made in Google does, disconnect; and marking a connection whose access
was revoked (it stays, shown with a reconnect link, until someone reconnects or removes it).

Who may: a member with ``calendar.manage`` for any connection and resource; any other member
who may book (``calendar.book``) only for their own connection and their own resource.
"""

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from calendar_app.google.client import CalendarClient, GoogleError, exchange_code, is_enabled
from calendar_app.google.models import GoogleCalendar, GoogleConnection, GoogleEvent
from calendar_app.models import Resource
from omnichannel import audit
from omnichannel.actions import ActionError
from omnichannel.models import AuditEvent, Membership, Tenant

logger = logging.getLogger(__name__)

SOURCE = "google-calendar"


def may_manage(membership: Membership) -> bool:
    return membership.has_permission("calendar.manage")


def check_connection_access(membership: Membership, connection: GoogleConnection) -> None:
    """The same refusal for "not yours" and "missing"."""
    if connection.tenant_id != membership.tenant_id or not (
        may_manage(membership) or connection.user_id == membership.user_id
    ):
        raise ActionError("No such Google connection.", code="not_found")


def resources_for(membership: Membership):
    """The resources ``membership`` may sync a calendar with."""
    resources = Resource.objects.for_tenant(membership.tenant).filter(is_active=True)
    return resources if may_manage(membership) else resources.filter(user_id=membership.user_id)


def _save_calendars(connection: GoogleConnection, items: list[dict]) -> None:
    seen = []
    for item in items:
        calendar_id = str(item.get("id") or "")[:1024]
        if not calendar_id:
            continue
        seen.append(calendar_id)
        GoogleCalendar.objects.update_or_create(
            connection=connection,
            calendar_id=calendar_id,
            defaults={
                "tenant_id": connection.tenant_id,
                "summary": str(item.get("summaryOverride") or item.get("summary") or "")[:300],
                "time_zone": str(item.get("timeZone") or "")[:64],
                "is_primary": bool(item.get("primary")),
                "access_role": str(item.get("accessRole") or "")[:20],
            },
        )
    # Calendars the account no longer has, unless one still syncs (its owner unmaps it).
    GoogleCalendar.objects.filter(connection=connection, resource__isnull=True).exclude(
        calendar_id__in=seen
    ).delete()


def do_connect_google(
    tenant: Tenant, *, membership: Membership, code: str, code_verifier: str, redirect_uri: str
) -> GoogleConnection:
    """The OAuth callback: exchange the code (offline access), read the account's calendars,
    store the refresh token encrypted. Reconnecting an account replaces its tokens and clears
    a revoked state. Raises :class:`ActionError`."""
    if not is_enabled():
        raise ActionError("Google Calendar is not set up on this server.", code="not_found")
    if membership.tenant_id != tenant.pk:
        raise ActionError("You are not a member of this tenant.", code="not_found")
    try:
        tokens = exchange_code(code=code, code_verifier=code_verifier, redirect_uri=redirect_uri)
    except GoogleError as exc:
        raise ActionError(f"Google Calendar was not connected: {exc.message}") from exc
    if not tokens.get("refresh_token"):
        raise ActionError(
            "Google sent no refresh token, so Centro could not keep access. Remove Centro at "
            "https://myaccount.google.com/permissions and connect again."
        )
    expires_in = tokens.get("expires_in")
    probe = GoogleConnection(
        tenant=tenant,
        user=membership.user,
        refresh_token=tokens["refresh_token"],
        access_token=tokens["access_token"],
        access_token_expires_at=(
            timezone.now() + dt.timedelta(seconds=int(expires_in))
            if str(expires_in or "").isdigit()
            else None
        ),
    )
    try:
        calendars = CalendarClient(probe).list_calendars()
    except GoogleError as exc:
        raise ActionError(f"Google's calendars could not be read: {exc.message}") from exc
    primary = next((c for c in calendars if c.get("primary")), None)
    if primary is None:
        raise ActionError("The Google account has no primary calendar.")
    with transaction.atomic():
        connection, created = GoogleConnection.objects.get_or_create(
            tenant=tenant,
            user=membership.user,
            email=str(primary["id"])[:320],
            defaults={"refresh_token": probe.refresh_token},
        )
        connection.refresh_token = probe.refresh_token
        connection.access_token = probe.access_token
        connection.access_token_expires_at = probe.access_token_expires_at
        connection.scopes = str(tokens.get("scope") or "")[:500]
        connection.status = GoogleConnection.Status.ACTIVE
        connection.status_detail = ""
        connection.revoked_at = None
        connection.save()
        _save_calendars(connection, calendars)
        audit.record(
            AuditEvent.Action.CREDENTIAL_CHANGED,
            tenant=tenant,
            actor=membership.user,
            target=connection,
            data={"integration": SOURCE, "change": "connected" if created else "reconnected"},
        )
        mapped = list(
            connection.calendars.filter(resource__isnull=False).values_list("pk", flat=True)
        )
        if mapped:
            from calendar_app.google.tasks import start_calendar_task

            transaction.on_commit(lambda: [start_calendar_task.delay(pk) for pk in mapped])
    return connection


@transaction.atomic
def do_map_google_calendar(
    calendar: GoogleCalendar, *, membership: Membership, resource: Resource | None
) -> GoogleCalendar:
    """Sync ``calendar`` with ``resource`` both ways (None: stop syncing it). A new mapping
    starts with a full sync and a push channel."""
    locked = (
        GoogleCalendar.objects.select_for_update(of=("self",))
        .select_related("connection")
        .filter(pk=calendar.pk, tenant_id=membership.tenant_id)
        .first()
    )
    if locked is None:
        raise ActionError("No such calendar.", code="not_found")
    check_connection_access(membership, locked.connection)
    if resource is not None and not resources_for(membership).filter(pk=resource.pk).exists():
        raise ActionError(
            "No such resource (without calendar.manage, only your own).", code="not_found"
        )
    if (resource.pk if resource else None) == locked.resource_id:
        return locked
    old_channel = (locked.channel_id, locked.channel_resource_id)
    locked.resource = resource
    locked.sync_token = ""
    locked.sync_error = ""
    locked.channel_id = locked.channel_token = locked.channel_resource_id = ""
    locked.channel_expires_at = None
    locked.save()
    # Its events were another resource's busy time: the next sync reads them again.
    GoogleEvent.objects.filter(calendar=locked, appointment__isnull=True).delete()
    from calendar_app.google.tasks import start_calendar_task, stop_channel_task

    connection_id = locked.connection_id
    if old_channel[0]:
        transaction.on_commit(lambda: stop_channel_task.delay(connection_id, *old_channel))
    if resource is not None:
        transaction.on_commit(lambda: start_calendar_task.delay(locked.pk))
    return locked


@transaction.atomic
def do_set_google_rule(
    connection: GoogleConnection, *, membership: Membership, rule: str
) -> GoogleConnection:
    """What a change made in Google to a Centro appointment's event does in Centro."""
    check_connection_access(membership, connection)
    if rule not in GoogleConnection.OnGoogleChange.values:
        raise ActionError(
            f"The rule is one of {', '.join(GoogleConnection.OnGoogleChange.values)}."
        )
    connection.on_google_change = rule
    connection.save(update_fields=["on_google_change"])
    return connection


def do_disconnect_google(connection: GoogleConnection, *, membership: Membership) -> None:
    """Forget the account: its push channels are stopped (best effort), its rows deleted."""
    check_connection_access(membership, connection)
    channels = list(
        connection.calendars.exclude(channel_id="").values_list("channel_id", "channel_resource_id")
    )
    if channels and connection.status == GoogleConnection.Status.ACTIVE:
        client = CalendarClient(connection)
        for channel_id, resource_id in channels:
            try:
                client.stop_channel(channel_id=channel_id, resource_id=resource_id)
            except GoogleError as exc:
                # Google stops delivering when the channel expires anyway; the receiver answers
                # 404 for it once the row is gone.
                logger.info("Google channel %s not stopped: %s", channel_id, exc.message)
    with transaction.atomic():
        audit.record(
            AuditEvent.Action.CREDENTIAL_CHANGED,
            tenant=connection.tenant,
            actor=membership.user,
            target=connection,
            data={"integration": SOURCE, "change": "disconnected"},
        )
        GoogleConnection.objects.filter(pk=connection.pk, tenant_id=connection.tenant_id).delete()


def do_mark_google_revoked(connection: GoogleConnection, detail: str) -> None:
    """Google refused the refresh token: stop using it and show "reconnect" to its owner."""
    moment = timezone.now()
    updated = GoogleConnection.objects.filter(
        pk=connection.pk, status=GoogleConnection.Status.ACTIVE
    ).update(
        status=GoogleConnection.Status.REVOKED,
        status_detail=detail[:500],
        revoked_at=moment,
        access_token="",
    )
    connection.status = GoogleConnection.Status.REVOKED
    connection.status_detail, connection.revoked_at = detail[:500], moment
    if updated:
        logger.warning("Google connection %s lost its access: %s", connection.pk, detail)
