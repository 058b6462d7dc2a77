"""Agent notifications: what a member should know about, in the app, the browser and by email.

The core keeps the generic part: the rows (:class:`omnichannel.models.AgentNotification`),
each member's choice of media per kind, the bell's realtime push and the email digest. Apps
register their kinds in ``AppConfig.ready()`` (the inbox: assigned to me, mentioned, a reply
in my conversation) and call :func:`do_notify` from their actions.

Media: *in-app* (the bell and its panel), *browser* (a system notification while the tab is
hidden; the page decides, from the pushed event) and *email* (the digest, at the frequency the
member chose). A kind none of whose media the recipient wants writes nothing.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from omnichannel import events
from omnichannel.actions import ActionError
from omnichannel.models import (
    AgentNotification,
    AgentNotificationPreference,
    Membership,
    NotificationDigest,
    Tenant,
)

# How many of the latest the bell's panel and the notifications page list.
PANEL_SIZE = 20
DIGEST_PERIODS = {
    NotificationDigest.Frequency.HOURLY: timedelta(hours=1),
    NotificationDigest.Frequency.DAILY: timedelta(days=1),
}
# A digest lists at most this many; the rest are counted ("and 12 more").
DIGEST_LIMIT = 50
MEDIA = ("in_app", "browser", "email")


@dataclass(frozen=True)
class Kind:
    key: str
    label: str  # as the member reads it in their preferences ("Assigned to me")
    description: str
    in_app: bool = True
    browser: bool = True
    email: bool = False
    position: int = 100


@dataclass(frozen=True)
class Media:
    in_app: bool
    browser: bool
    email: bool

    @property
    def any(self) -> bool:
        return self.in_app or self.browser or self.email


_kinds: dict[str, Kind] = {}


def register_kind(*kinds: Kind) -> None:
    """Declare kinds of notification (once, however often this runs)."""
    for kind in kinds:
        existing = _kinds.get(kind.key)
        if existing is not None and existing != kind:
            raise ValueError(f"Notification kind {kind.key!r} is registered twice.")
        _kinds[kind.key] = kind


def kinds() -> list[Kind]:
    return sorted(_kinds.values(), key=lambda kind: (kind.position, kind.key))


def get_kind(key: str) -> Kind:
    try:
        return _kinds[key]
    except KeyError:
        raise ValueError(f"Unknown notification kind {key!r}.") from None


def media_for(user_ids: Iterable[int], kind: Kind) -> dict[int, Media]:
    """Each user's media for ``kind``: their choice, else the kind's defaults."""
    ids = list(user_ids)
    chosen = {
        pref.user_id: Media(pref.in_app, pref.browser, pref.email)
        for pref in AgentNotificationPreference.objects.filter(user_id__in=ids, kind=kind.key)
    }
    default = Media(kind.in_app, kind.browser, kind.email)
    return {user_id: chosen.get(user_id, default) for user_id in ids}


def preferences_for(user) -> list[tuple[Kind, Media]]:
    """Every kind with the member's media, for their preferences page."""
    rows = {
        pref.kind: Media(pref.in_app, pref.browser, pref.email)
        for pref in AgentNotificationPreference.objects.filter(user=user)
    }
    return [
        (kind, rows.get(kind.key, Media(kind.in_app, kind.browser, kind.email))) for kind in kinds()
    ]


def digest_frequency(user) -> str:
    digest = NotificationDigest.objects.filter(user=user).first()
    return digest.frequency if digest else NotificationDigest.Frequency.OFF


# --- writes ---------------------------------------------------------------------------------


def _user_id(user: Any) -> int:
    return getattr(user, "pk", user)


@transaction.atomic
def do_notify(
    tenant: Tenant,
    *,
    kind: str,
    recipients: Iterable[Any],
    event_key: str,
    title: str,
    text: str = "",
    url: str = "",
    target: Any = None,
    actor: Any = None,
) -> list[AgentNotification]:
    """Notify ``recipients`` (users or ids) of one event; the new rows.

    Only active members of ``tenant`` are notified, never the ``actor`` about their own action,
    and a recipient at most once per kind and ``event_key`` (a repeat is a no-op). The
    recipients' open pages get the bell updated after commit.
    """
    registered = get_kind(kind)
    actor_id = _user_id(actor) if actor is not None else None
    wanted = {_user_id(user) for user in recipients} - {actor_id}
    members = sorted(
        Membership.objects.filter(
            tenant=tenant, user_id__in=wanted, user__is_active=True
        ).values_list("user_id", flat=True)
    )
    media = media_for(members, registered)
    now = timezone.now()
    created = []
    for user_id in members:
        chosen = media[user_id]
        if not chosen.any:
            continue
        notification, new = AgentNotification.objects.get_or_create(
            tenant=tenant,
            recipient_id=user_id,
            kind=registered.key,
            event_key=event_key[:100],
            defaults={
                "actor_id": actor_id,
                "title": title[:200],
                "text": text[:500],
                "url": url[:500],
                "target_type": target._meta.model_name if target is not None else "",
                "target_id": target.pk if target is not None else None,
                "in_app": chosen.in_app,
                "browser": chosen.browser,
                "email": chosen.email,
                "created_at": now,
            },
        )
        if not new:
            continue
        created.append(notification)
        if chosen.in_app or chosen.browser:
            events.publish(
                tenant,
                events.EventType.AGENT_NOTIFICATION_CREATED,
                notification_payload(notification),
                users=[user_id],
            )
    return created


def notification_payload(notification: AgentNotification) -> dict:
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "title": notification.title,
        "text": notification.text,
        "url": notification.url,
        "in_app": notification.in_app,
        "browser": notification.browser,
        "created_at": notification.created_at.isoformat(),
    }


def get_notification_for_user(tenant: Tenant, user, notification_id: int) -> AgentNotification:
    """The member's own notification in ``tenant``; the same error for missing and not theirs."""
    notification = (
        AgentNotification.objects.for_tenant(tenant)
        .filter(recipient=user, pk=notification_id)
        .first()
    )
    if notification is None:
        raise ActionError("No such notification.", code="not_found")
    return notification


@transaction.atomic
def do_mark_notification_read(tenant: Tenant, user, notification_id: int) -> AgentNotification:
    notification = get_notification_for_user(tenant, user, notification_id)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        AgentNotification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=notification.read_at
        )
        _publish_read(tenant, user)
    return notification


@transaction.atomic
def do_mark_all_notifications_read(tenant: Tenant, user) -> int:
    marked = (
        AgentNotification.objects.for_tenant(tenant)
        .filter(recipient=user, read_at__isnull=True)
        .update(read_at=timezone.now())
    )
    if marked:
        _publish_read(tenant, user)
    return marked


def do_mark_target_notifications_read(tenant: Tenant, user, target: Any) -> int:
    """The member has seen ``target`` (a conversation they opened): what they were told about
    it is read, in the bell and for the digest. One UPDATE (no savepoint: it runs on every
    opening of a conversation)."""
    marked = (
        AgentNotification.objects.for_tenant(tenant)
        .filter(
            recipient=user,
            target_type=target._meta.model_name,
            target_id=target.pk,
            read_at__isnull=True,
        )
        .update(read_at=timezone.now())
    )
    if marked:
        _publish_read(tenant, user)
    return marked


def do_forget_target_notifications(tenant_id: int, target_type: str, target_ids: list[int]) -> int:
    """Delete every notification about these targets (conversations deleted, or a contact's
    erased: their titles and previews quote the person); the number deleted."""
    deleted, _ = AgentNotification.objects.filter(
        tenant_id=tenant_id, target_type=target_type, target_id__in=target_ids
    ).delete()
    return deleted


def _publish_read(tenant: Tenant, user) -> None:
    # The member's other tabs update their bell too.
    events.publish(tenant, events.EventType.AGENT_NOTIFICATIONS_READ, {}, users=[user])


@transaction.atomic
def do_set_notification_preferences(user, *, choices: dict[str, Media], digest: str) -> None:
    """Save the member's media per kind (only kinds that exist) and their digest frequency."""
    if digest not in NotificationDigest.Frequency.values:
        raise ActionError(
            f"Unknown digest frequency “{digest}”; use one of "
            f"{', '.join(NotificationDigest.Frequency.values)}."
        )
    for key, media in choices.items():
        get_kind(key)
        AgentNotificationPreference.objects.update_or_create(
            user=user,
            kind=key,
            defaults={"in_app": media.in_app, "browser": media.browser, "email": media.email},
        )
    NotificationDigest.objects.update_or_create(user=user, defaults={"frequency": digest})


# --- reads ----------------------------------------------------------------------------------


def notification_list_for_user(
    tenant: Tenant, user, *, limit: int = PANEL_SIZE
) -> QuerySet[AgentNotification]:
    """The member's latest in-app notifications in ``tenant``, newest first (bounded)."""
    return (
        AgentNotification.objects.for_tenant(tenant)
        .filter(recipient=user, in_app=True)
        .order_by("-created_at", "-id")[:limit]
    )


def unread_notification_count(tenant: Tenant, user) -> int:
    return (
        AgentNotification.objects.for_tenant(tenant)
        .filter(recipient=user, in_app=True, read_at__isnull=True)
        .count()
    )


# --- the email digest -----------------------------------------------------------------------


def _due(at: datetime) -> Q:
    due = Q(pk__in=[])
    for frequency, period in DIGEST_PERIODS.items():
        due |= Q(frequency=frequency) & (
            Q(last_sent_at__isnull=True) | Q(last_sent_at__lte=at - period)
        )
    return due


def do_send_notification_digests(*, at: datetime | None = None) -> int:
    """Email each member whose digest is due their unread notifications not yet in a digest;
    the number of emails sent. Each member's digest is its own transaction: the rows are
    marked digested with the email sent, so nothing is listed twice, and a failed send leaves
    them for the next sweep."""
    at = at or timezone.now()
    due = NotificationDigest.objects.filter(_due(at)).values_list("pk", flat=True)
    return sum(_send_digest(digest_id, at) for digest_id in due)


@transaction.atomic
def _send_digest(digest_id: int, at: datetime) -> bool:
    digest = (
        NotificationDigest.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(_due(at), pk=digest_id)
        .select_related("user")
        .first()
    )
    if digest is None:
        return False  # another sweep has it, or it was just sent or turned off
    user = digest.user
    digest.last_sent_at = at
    digest.save(update_fields=["last_sent_at"])
    pending = AgentNotification.objects.filter(
        recipient=user,
        email=True,
        read_at__isnull=True,
        digested_at__isnull=True,
        created_at__lte=at,
        # Not from a tenant the member has left (or that was deactivated) since.
        tenant__is_active=True,
        tenant__memberships__user=user,
    )
    ids = list(pending.values_list("pk", flat=True))
    if not ids or not user.is_active:
        return False
    shown = list(
        pending.select_related("tenant").order_by("tenant__name", "-created_at", "-id")[
            :DIGEST_LIMIT
        ]
    )
    AgentNotification.objects.filter(pk__in=ids).update(digested_at=at)
    context = {
        "user": user,
        "notifications": shown,
        "more": len(ids) - len(shown),
        "base_url": settings.PUBLIC_BASE_URL,
        "preferences_url": settings.PUBLIC_BASE_URL + reverse("agent-notification-preferences"),
    }
    count = len(ids)
    send_mail(
        subject=f"[Centro] {count} unread notification{'s' if count != 1 else ''}",
        message=render_to_string("omnichannel/email/notification_digest.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )
    return True
