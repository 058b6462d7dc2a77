"""Sending due notifications: leased claims safe on many workers, then one transaction per
notification in which the Message is stored (``do_send_message``) and the notification marked
sent.

* :func:`claim_due` takes due rows with ``FOR UPDATE SKIP LOCKED`` and stamps a lease (a token
  and an expiry) on them, then commits: other workers skip leased rows until the lease expires.
* :func:`send_claimed` locks one row it holds the lease of, picks the first channel that can reach
  the contact (inbox connected, not blocked, not opted out, within WhatsApp's window…), calls
  ``do_send_message`` and records "sent" in the same transaction. A worker that dies before that
  commit leaves nothing behind but its lease: after it expires the row is claimed again, and no
  Message of the first attempt exists (the provider is called after commit, by the delivery
  task), so nobody gets it twice.
"""

import datetime
import logging
import time
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.html import escape

from campaigns.pacing import in_quiet_hours
from contacts.attributes import definitions_for
from contacts.blocklist import is_blocked
from contacts.models import Contact
from contacts.templating import contact_values, placeholders, render
from inbox.actions.send import do_send_message, sends_notifications
from inbox.models import Inbox, Message
from notifications.models import Notification, NotificationRule, NotificationTemplate
from notifications.scheduling import contact_zone, date_has_passed, out_of_quiet_hours
from notifications.unsubscribe import unsubscribe_url
from omnichannel.actions import ActionError
from omnichannel.channels import Channel

logger = logging.getLogger(__name__)

STOP_LINE = {
    "es": "Responde STOP para no recibir más mensajes.",
    "en": "Reply STOP to unsubscribe.",
}
UNSUBSCRIBE_LINE = {"es": "Darse de baja", "en": "Unsubscribe"}
# Claims of one notification that ended without an outcome (its worker died or raised) before
# it is given up as not sent. Deferrals (quiet hours, rate limits) do not count.
MAX_ATTEMPTS = 10


def _language(code: str) -> str:
    return (code or "").split("-")[0].lower()


def template_for(notification: Notification) -> NotificationTemplate:
    """The rule's template in the contact's language when the tenant has it, else the rule's."""
    template = notification.rule.template
    language = _language(notification.contact.language)
    if language and language != template.language:
        sibling = (
            NotificationTemplate.objects.for_tenant(notification.tenant)
            .filter(key=template.key, language=language)
            .first()
        )
        if sibling is not None:
            return sibling
    return template


def render_values(notification: Notification) -> dict[str, str]:
    values = {
        str(key): str(value)
        for key, value in (notification.data or {}).items()
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    }
    keys = list(definitions_for(notification.tenant))
    values.update(contact_values(notification.contact, keys))
    return values


def render_html(body_html: str, values: dict[str, str]) -> str:
    """An HTML template with each placeholder replaced by its value (else its fallback), escaped:
    event data and contact fields are text, never markup."""
    parts = []
    position = 0
    for placeholder in placeholders(body_html):
        parts.append(body_html[position : placeholder.start])
        parts.append(escape(values.get(placeholder.name) or placeholder.fallback or ""))
        position = placeholder.end
    parts.append(body_html[position:])
    return "".join(parts)


def channel_order(rule: NotificationRule, contact: Contact) -> list[str]:
    """The rule's channels with the contact's preferred one first. A channel the rule does not
    list is not added: the rule says where its message may go (an email verification is only
    ever an email)."""
    channels = list(rule.channels)
    preferred = (contact.preferred_channel or "").strip().lower()
    if preferred in channels:
        channels.remove(preferred)
        channels.insert(0, preferred)
    return channels


def _inbox_for(tenant_id: int, channel: str) -> Inbox | None:
    """The channel's first active inbox that sends notifications (see
    ``sends_notifications``)."""
    candidates = (
        Inbox.objects.filter(tenant_id=tenant_id, kind=channel, is_active=True)
        .select_related("tenant")
        .order_by("id")
    )
    return next((inbox for inbox in candidates if sends_notifications(inbox)), None)


def _send_kwargs(notification, template, channel: str, inbox: Inbox, values) -> dict:
    """What ``do_send_message`` gets for ``channel``; ActionError when the contact has no address
    there or it is blocked."""
    contact = notification.contact
    language = _language(template.language)
    body = render(template.body, values)
    marketing = template.category == NotificationTemplate.Category.MARKETING
    if channel == Channel.EMAIL:
        if not contact.email:
            raise ActionError(f"{contact} has no email address")
        if is_blocked(notification.tenant, email=contact.email):
            raise ActionError(f"{contact.email} is on the blocklist", code="blocked")
        headers = {}
        html = render_html(template.body_html, values) if template.body_html.strip() else ""
        if marketing:
            url = unsubscribe_url(contact, channel=channel, sender=inbox.address)
            headers = {
                "List-Unsubscribe": f"<{url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
            line = UNSUBSCRIBE_LINE.get(language, UNSUBSCRIBE_LINE["en"])
            body = f"{body}\n\n{line}: {url}"
            if html:
                html += f'<p style="font-size:12px"><a href="{escape(url)}">{line}</a></p>'
        return {
            "to": contact.email,
            "body": body,
            "body_html": html,
            "subject": render(template.subject, values) or template.name,
            "headers": headers,
        }
    if not contact.phone:
        raise ActionError(f"{contact} has no phone number")
    if marketing:
        body = f"{body}\n\n{STOP_LINE.get(language, STOP_LINE['en'])}"
    kwargs = {"to": contact.phone, "body": body}
    if channel == Channel.WHATSAPP and template.whatsapp_content_sid:
        # The approved template goes out (valid outside the 24-hour window); the rendered body
        # is what the conversation shows.
        kwargs["template"] = {
            "content_sid": template.whatsapp_content_sid,
            "variables": {
                number: values.get(name, "") for number, name in template.whatsapp_variables.items()
            },
        }
    return kwargs


def claim_due(
    *, limit: int | None = None, lease_seconds: int | None = None, ids=None
) -> tuple[uuid.UUID, list[int]]:
    """Lease up to ``limit`` due notifications (optionally among ``ids``) for this worker."""
    limit = limit or settings.NOTIFICATION_BATCH_SIZE
    lease = datetime.timedelta(seconds=lease_seconds or settings.NOTIFICATION_LEASE_SECONDS)
    token = Notification.new_lease()
    now = timezone.now()
    with transaction.atomic():
        due = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(status=Notification.Status.SCHEDULED, due_at__lte=now)
            .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now))
        )
        if ids is not None:
            due = due.filter(pk__in=list(ids))
        picked = list(due.order_by("due_at", "id").values_list("pk", flat=True)[:limit])
        if picked:
            Notification.objects.filter(pk__in=picked).update(
                lease_token=token, lease_expires_at=now + lease, attempts=F("attempts") + 1
            )
    return token, picked


def _finish(notification: Notification, status: str, detail: str, **fields) -> str:
    notification.status = status
    notification.detail = detail[:2000]
    notification.finished_at = timezone.now()
    notification.lease_token = notification.lease_expires_at = None
    for name, value in fields.items():
        setattr(notification, name, value)
    notification.save()
    return status


def _defer(notification: Notification, until: datetime.datetime, detail: str) -> str:
    notification.due_at = until
    notification.detail = detail[:2000]
    notification.lease_token = notification.lease_expires_at = None
    notification.attempts = max(0, notification.attempts - 1)  # waiting is not an attempt
    notification.save(
        update_fields=["due_at", "detail", "lease_token", "lease_expires_at", "attempts"]
    )
    return "deferred"


@transaction.atomic
def send_claimed(notification_id: int, token: uuid.UUID) -> str:
    """Send one notification this worker leased; returns sent / failed / deferred / gone."""
    notification = (
        Notification.objects.select_for_update(of=("self",))
        .select_related("rule__template", "contact", "tenant")
        .filter(pk=notification_id, status=Notification.Status.SCHEDULED, lease_token=token)
        .first()
    )
    if notification is None:  # cancelled, or our lease expired and another worker took it
        return "gone"
    rule, contact = notification.rule, notification.contact
    if notification.attempts > MAX_ATTEMPTS:
        return _finish(
            notification,
            Notification.Status.FAILED,
            f"Given up after {MAX_ATTEMPTS} attempts that ended without an outcome.",
        )
    if rule is None:
        return _finish(notification, Notification.Status.FAILED, "Its rule was deleted.")
    if not rule.is_active:
        return _finish(
            notification,
            Notification.Status.CANCELLED,
            "Its rule was turned off before it was due.",
        )
    if contact.erased_at is not None:
        return _finish(notification, Notification.Status.FAILED, "The contact was erased.")
    zone = contact_zone(contact)
    now = timezone.now()
    if date_has_passed(rule, notification.data, zone, now):
        return _finish(
            notification,
            Notification.Status.SKIPPED,
            f"Not sent: its {rule.date_key} had passed before it could go out.",
        )
    if in_quiet_hours(rule, now.astimezone(zone).time()):
        until = out_of_quiet_hours(rule, now, zone)
        return _defer(notification, until, "Held for the contact's quiet hours.")
    template = template_for(notification)
    values = render_values(notification)
    passed_over = []
    for channel in channel_order(rule, contact):
        label = Channel(channel).label if channel in Channel.values else channel
        inbox = _inbox_for(notification.tenant_id, channel)
        if inbox is None:
            passed_over.append(f"{label}: no active {label} inbox")
            continue
        try:
            kwargs = _send_kwargs(notification, template, channel, inbox, values)
            message = do_send_message(
                notification.tenant,
                inbox=inbox,
                sender_type=Message.SenderType.SYSTEM,
                **kwargs,
            )
        except ActionError as exc:
            if exc.code == "rate_limited":
                until = now + datetime.timedelta(seconds=exc.retry_after or 300)
                return _defer(notification, until, f"{label}: {exc.message}")
            passed_over.append(f"{label}: {exc.message}")
            continue
        message.metadata = {
            **message.metadata,
            "notification_id": notification.pk,
            "notification_rule_id": rule.pk,
        }
        message.save(update_fields=["metadata"])
        return _finish(
            notification,
            Notification.Status.SENT,
            "; ".join(passed_over),
            channel=channel,
            message=message,
        )
    return _finish(
        notification,
        Notification.Status.FAILED,
        "No channel could reach the contact. " + "; ".join(passed_over),
    )


def sweep_due_notifications(*, seconds: float = 50.0, limit: int | None = None, ids=None) -> dict:
    """Claim and send due notifications until none is left or ``seconds`` have passed."""
    outcomes: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        token, picked = claim_due(limit=limit, ids=ids)
        if not picked:
            break
        for notification_id in picked:
            try:
                outcome = send_claimed(notification_id, token)
            except Exception:  # one bad row never stops the sweep; its lease returns it later
                logger.exception("Sending notification %s failed.", notification_id)
                outcome = "error"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if ids is not None:
            break
    return outcomes
