"""Writes of lifecycle notifications: templates, event types and rules (every problem reported
per field), events posted by host systems (validated whole, then applied in one transaction) and
cancelling a scheduled notification."""

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from campaigns.services import FieldErrors
from contacts import hooks as contacts_hooks
from contacts.attributes import definitions_for
from contacts.models import Contact
from contacts.phones import InvalidPhone
from contacts.services import find_contact_by_email, find_contact_by_phone
from contacts.templating import CONTACT_VARIABLES, TemplateError, check_template
from inbox.actions.send import CONTENT_SID
from notifications.models import (
    KEY_PATTERN,
    Event,
    EventType,
    Notification,
    NotificationRule,
    NotificationTemplate,
)
from notifications.scheduling import (
    BadDate,
    contact_zone,
    due_moment,
    missing_date,
    parse_moment,
    passed_over_detail,
)
from omnichannel import audit
from omnichannel.actions import ActionError
from omnichannel.channels import Channel
from omnichannel.models import AuditEvent, Tenant

TEMPLATE_FIELDS = (
    "key",
    "language",
    "name",
    "subject",
    "body",
    "body_html",
    "category",
    "whatsapp_content_sid",
    "whatsapp_variables",
)
EVENT_TYPE_FIELDS = ("key", "name", "effect", "subject_key", "data_keys", "cancels")
RULE_FIELDS = (
    "name",
    "event_type_id",
    "template_id",
    "channels",
    "timing",
    "offset",
    "unit",
    "date_key",
    "quiet_hours",
    "quiet_start",
    "quiet_end",
    "is_active",
)


def _audit_saved(created_action, changed_action, row, *, created: bool, changed: list[str]):
    """One audit row for a create, or for a change naming the fields that changed."""
    if created:
        audit.record(created_action, tenant=row.tenant, target=row)
    elif changed:
        audit.record(
            changed_action,
            tenant=row.tenant,
            target=row,
            data={"changed": [name.removesuffix("_id") for name in changed]},
        )


MAX_BODY = 1600  # Twilio's limit for one message body (SMS and WhatsApp)
MAX_HTML = 100_000  # an email's HTML version, well under what an inbox sends (500 000)
MAX_DATA_BYTES = 16_000
NOTIFICATION_CHANNELS = (
    Channel.WHATSAPP,
    Channel.IMESSAGE,
    Channel.CHATWOOT,
    Channel.SMS,
    Channel.EMAIL,
)
KEY_RE = re.compile(KEY_PATTERN)
DATA_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,59}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
CONTACT_LOOKUPS = ("id", "phone", "email", "external_id")


class NotificationInvalid(FieldErrors):
    what = "notification setting"


class EventInvalid(FieldErrors):
    what = "event"
    action = "accepted"


def _clean_text(value: Any) -> str:
    return " ".join(str(value or "").split())


def _clean_keys(value: Any, *, pattern: re.Pattern = DATA_KEY_RE) -> list[str] | None:
    """A list (or comma-separated text) of keys (data keys unless ``pattern`` says otherwise);
    None when one is malformed."""
    if isinstance(value, str):
        value = [part for part in re.split(r"[,\s]+", value) if part]
    if not isinstance(value, list | tuple):
        return None
    keys = [str(item).strip() for item in value]
    if not all(pattern.match(key) for key in keys):
        return None
    return list(dict.fromkeys(keys))


# --- templates -------------------------------------------------------------------------------


def known_data_keys(tenant: Tenant) -> set[str]:
    keys: set[str] = set()
    for data_keys in EventType.objects.for_tenant(tenant).values_list("data_keys", flat=True):
        keys.update(data_keys)
    return keys


def _template_problems(text: str, allowed: set[str], what: str) -> str | None:
    try:
        used = check_template(text, allowed - set(CONTACT_VARIABLES))
    except TemplateError as exc:
        return "; ".join(exc.problems)
    del used
    return None


def do_save_template(
    tenant: Tenant,
    *,
    key: str,
    language: str,
    name: str,
    body: str,
    subject: str = "",
    body_html: str = "",
    category: str = NotificationTemplate.Category.TRANSACTIONAL,
    whatsapp_content_sid: str = "",
    whatsapp_variables: Any = None,
    template: NotificationTemplate | None = None,
) -> NotificationTemplate:
    """Create or change a template. Placeholders may name contact fields, custom attributes and
    the data keys the tenant's event types declare; an unknown name is refused by name."""
    key, language, name = (key or "").strip(), (language or "").strip().lower(), _clean_text(name)
    subject = _clean_text(subject)
    errors: dict[str, str] = {}
    if not re.fullmatch(r"[-a-z0-9_]{1,60}", key):
        errors["key"] = "is 1 to 60 lower-case letters, digits, - and _"
    if not LANGUAGE_RE.match(language):
        errors["language"] = "is a language code such as es or en"
    if not name:
        errors["name"] = "is required"
    if category not in NotificationTemplate.Category.values:
        errors["category"] = f"must be one of {', '.join(NotificationTemplate.Category.values)}"
    allowed = set(CONTACT_VARIABLES) | set(definitions_for(tenant)) | known_data_keys(tenant)
    if not (body or "").strip():
        errors["body"] = "is required"
    elif len(body) > MAX_BODY:
        errors["body"] = f"has {len(body)} characters; the limit is {MAX_BODY}"
    elif problem := _template_problems(body, allowed, "body"):
        errors["body"] = problem
    if len(subject) > 200:
        errors["subject"] = "is at most 200 characters"
    elif problem := _template_problems(subject, allowed, "subject"):
        errors["subject"] = problem
    body_html = (body_html or "").strip()
    if len(body_html) > MAX_HTML:
        errors["body_html"] = f"has {len(body_html)} characters; the limit is {MAX_HTML}"
    elif problem := _template_problems(body_html, allowed, "body_html"):
        errors["body_html"] = problem
    whatsapp_content_sid = (whatsapp_content_sid or "").strip()
    whatsapp_variables = whatsapp_variables or {}
    if whatsapp_content_sid and not CONTENT_SID.match(whatsapp_content_sid):
        errors["whatsapp_content_sid"] = "is the approved template's Content SID (HX + 32 hex)"
    if not isinstance(whatsapp_variables, Mapping) or not all(
        str(number).isdigit() for number in whatsapp_variables
    ):
        errors["whatsapp_variables"] = (
            'map the template\'s numbers to variables: {"1": "firstName"}'
        )
    elif unknown := sorted({str(v) for v in whatsapp_variables.values()} - allowed):
        errors["whatsapp_variables"] = f"unknown variable “{unknown[0]}”"
    elif whatsapp_variables and not whatsapp_content_sid:
        errors["whatsapp_content_sid"] = "is required with WhatsApp variables"
    if errors:
        raise NotificationInvalid(errors)
    if template is not None and template.tenant_id != tenant.pk:
        raise ActionError("No such template.", code="not_found")
    created = template is None or template.pk is None
    template = template or NotificationTemplate(tenant=tenant)
    before = audit.snapshot(template, TEMPLATE_FIELDS)
    template.key, template.language, template.name = key, language, name
    template.subject, template.body, template.category = subject, body, category
    template.body_html = body_html
    template.whatsapp_content_sid = whatsapp_content_sid
    template.whatsapp_variables = {str(k): str(v) for k, v in whatsapp_variables.items()}
    try:
        with transaction.atomic():
            template.save()
            if template.pk:
                _check_rules_still_render(template)
            _audit_saved(
                AuditEvent.Action.NOTIFICATION_TEMPLATE_CREATED,
                AuditEvent.Action.NOTIFICATION_TEMPLATE_CHANGED,
                template,
                created=created,
                changed=audit.changed_fields(template, before),
            )
    except IntegrityError:
        raise NotificationInvalid(
            {"key": f"“{key}” already has a template in “{language}”"}
        ) from None
    return template


def _check_rules_still_render(template: NotificationTemplate) -> None:
    """A template used by rules may only name what their event types carry."""
    for rule in template.rules.select_related("event_type"):
        if problem := _rule_template_problem(rule.tenant, rule.event_type, template):
            raise NotificationInvalid({"body": f"{problem} (for the rule “{rule.name}”)"})


def _rule_template_problem(
    tenant: Tenant, event_type: EventType, template: NotificationTemplate
) -> str | None:
    allowed = set(CONTACT_VARIABLES) | set(definitions_for(tenant)) | set(event_type.data_keys)
    for text in (template.subject, template.body, template.body_html):
        try:
            check_template(text, allowed - set(CONTACT_VARIABLES))
        except TemplateError as exc:
            return (
                "; ".join(exc.problems)
                + f" (the event “{event_type.key}” carries "
                + (", ".join(event_type.data_keys) or "no data keys")
                + ")"
            )
    return None


# --- event types -------------------------------------------------------------------------------


def do_save_event_type(
    tenant: Tenant,
    *,
    key: str,
    name: str,
    effect: str = EventType.Effect.SCHEDULE,
    subject_key: str = "",
    data_keys: Any = (),
    cancels: Any = (),
    event_type: EventType | None = None,
) -> EventType:
    key, name, subject_key = (key or "").strip(), _clean_text(name), (subject_key or "").strip()
    errors: dict[str, str] = {}
    if not KEY_RE.match(key):
        errors["key"] = "is 1 to 60 lower-case letters, digits and . _ - (e.g. booking.confirmed)"
    if not name:
        errors["name"] = "is required"
    if effect not in EventType.Effect.values:
        errors["effect"] = f"must be one of {', '.join(EventType.Effect.values)}"
    keys = _clean_keys(data_keys)
    if keys is None:
        errors["data_keys"] = "are names of letters, digits, _ and - (e.g. trip_date)"
    if subject_key and not DATA_KEY_RE.match(subject_key):
        errors["subject_key"] = "is a data key such as booking_id"
    if effect != EventType.Effect.SCHEDULE and not subject_key:
        errors["subject_key"] = "is required to reschedule or cancel a subject's reminders"
    cancelled_types = _clean_keys(cancels, pattern=KEY_RE)
    if cancelled_types is None:
        errors["cancels"] = "are event type keys such as payment.due"
    elif cancelled_types and not subject_key:
        errors["subject_key"] = "is required to cancel other event types' reminders"
    elif key in cancelled_types:
        errors["cancels"] = "cannot name the event type itself"
    if errors:
        raise NotificationInvalid(errors)
    created = event_type is None or event_type.pk is None
    event_type = event_type or EventType(tenant=tenant)
    before = audit.snapshot(event_type, EVENT_TYPE_FIELDS)
    event_type.key, event_type.name, event_type.effect = key, name, effect
    event_type.subject_key, event_type.data_keys = subject_key, keys
    event_type.cancels = cancelled_types
    try:
        with transaction.atomic():
            event_type.save()
            _audit_saved(
                AuditEvent.Action.EVENT_TYPE_CREATED,
                AuditEvent.Action.EVENT_TYPE_CHANGED,
                event_type,
                created=created,
                changed=audit.changed_fields(event_type, before),
            )
    except IntegrityError:
        raise NotificationInvalid({"key": f"“{key}” is already an event type"}) from None
    return event_type


# --- rules --------------------------------------------------------------------------------------


def do_save_rule(
    tenant: Tenant,
    *,
    name: str,
    event_type: EventType | int | None,
    template: NotificationTemplate | int | None,
    channels: Any,
    timing: str = NotificationRule.Timing.NOW,
    offset: Any = 0,
    unit: str = NotificationRule.Unit.DAYS,
    date_key: str = "",
    quiet_hours: bool = True,
    quiet_start=None,
    quiet_end=None,
    is_active: bool = True,
    rule: NotificationRule | None = None,
) -> NotificationRule:
    name, date_key = _clean_text(name), (date_key or "").strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "is required"
    if isinstance(event_type, int | str) and str(event_type).isdigit():
        event_type = EventType.objects.for_tenant(tenant).filter(pk=int(event_type)).first()
    if not isinstance(event_type, EventType) or event_type.tenant_id != tenant.pk:
        errors["event_type"] = "choose one of the tenant's event types"
        event_type = None
    if isinstance(template, int | str) and str(template).isdigit():
        template = NotificationTemplate.objects.for_tenant(tenant).filter(pk=int(template)).first()
    if not isinstance(template, NotificationTemplate) or template.tenant_id != tenant.pk:
        errors["template"] = "choose one of the tenant's notification templates"
        template = None
    if isinstance(channels, str):
        channels = [c for c in re.split(r"[,\s]+", channels) if c]
    channels = list(dict.fromkeys(channels or []))
    wrong = [c for c in channels if c not in NOTIFICATION_CHANNELS]
    if not channels or wrong:
        errors["channels"] = (
            f"are one or more of {', '.join(NOTIFICATION_CHANNELS)}, in order of preference"
            + (f" (not “{wrong[0]}”)" if wrong else "")
        )
    if timing not in NotificationRule.Timing.values:
        errors["timing"] = f"must be one of {', '.join(NotificationRule.Timing.values)}"
    if unit not in NotificationRule.Unit.values:
        errors["unit"] = f"must be one of {', '.join(NotificationRule.Unit.values)}"
    try:
        offset = int(offset or 0)
        if not 0 <= offset <= 3650:
            raise ValueError
    except (TypeError, ValueError):
        errors["offset"] = "is a whole number from 0 to 3650"
        offset = 0
    if timing != NotificationRule.Timing.NOW:
        if not date_key:
            errors["date_key"] = "is required when sending before or after a date"
        elif event_type is not None and date_key not in event_type.data_keys:
            errors["date_key"] = (
                f"“{date_key}” is not among the data keys of “{event_type.key}” "
                f"({', '.join(event_type.data_keys) or 'none declared'})"
            )
    else:
        date_key, offset = "", 0
    problem = (
        _rule_template_problem(tenant, event_type, template)
        if event_type is not None and template is not None
        else None
    )
    if problem:
        errors["template"] = problem
    if errors:
        raise NotificationInvalid(errors)
    created = rule is None or rule.pk is None
    rule = rule or NotificationRule(tenant=tenant)
    before = audit.snapshot(rule, RULE_FIELDS)
    rule.name, rule.event_type, rule.template, rule.channels = name, event_type, template, channels
    rule.timing, rule.offset, rule.unit, rule.date_key = timing, offset, unit, date_key
    rule.quiet_hours, rule.is_active = bool(quiet_hours), bool(is_active)
    if quiet_start is not None:
        rule.quiet_start = quiet_start
    if quiet_end is not None:
        rule.quiet_end = quiet_end
    with transaction.atomic():
        rule.save()
        _audit_saved(
            AuditEvent.Action.NOTIFICATION_RULE_CREATED,
            AuditEvent.Action.NOTIFICATION_RULE_CHANGED,
            rule,
            created=created,
            changed=audit.changed_fields(rule, before),
        )
    return rule


# --- events -------------------------------------------------------------------------------------


def fingerprint(payload: Mapping[str, Any]) -> str:
    body = [payload.get("type"), payload.get("contact"), payload.get("data")]
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _resolve_contact(tenant: Tenant, value: Any, errors: dict[str, str]) -> Contact | None:
    if not isinstance(value, Mapping):
        errors["contact"] = "is an object with one of id, phone, email or external_id"
        return None
    given = [k for k in CONTACT_LOOKUPS if value.get(k) not in (None, "")]
    if len(given) != 1 or set(value) - set(CONTACT_LOOKUPS):
        errors["contact"] = (
            "names the contact with exactly one of id, phone, email or external_id "
            '(e.g. {"phone": "+14155550111"})'
        )
        return None
    how = given[0]
    raw = value[how]
    contacts = Contact.objects.for_tenant(tenant).filter(erased_at__isnull=True)
    contact = None
    if how == "id":
        if isinstance(raw, bool) or not str(raw).isdigit():
            errors["contact.id"] = "is a contact id (a whole number)"
            return None
        contact = contacts.filter(pk=int(raw)).first()
    elif how == "phone":
        try:
            contact = find_contact_by_phone(tenant, str(raw))
        except InvalidPhone as exc:
            errors["contact.phone"] = str(exc)
            return None
    elif how == "email":
        contact = find_contact_by_email(tenant, str(raw))
    else:
        if (
            not isinstance(raw, Mapping)
            or not str(raw.get("system") or "").strip()
            or str(raw.get("id") or "").strip() == ""
        ):
            errors["contact.external_id"] = 'is {"system": "crm", "id": "C-123"}'
            return None
        found = list(
            contacts.filter(external_ids__contains={str(raw["system"]): str(raw["id"])})[:2]
        )
        if len(found) > 1:
            errors["contact.external_id"] = "matches more than one contact"
            return None
        contact = found[0] if found else None
    if contact is not None and contact.erased_at is not None:
        contact = None
    if contact is None:
        errors[f"contact.{how}"] = (
            f"no contact of this tenant has the {how.replace('_', ' ')} {raw!r}"
        )
    return contact


def check_event(tenant: Tenant, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a posted event completely (nothing is written): the event type, the contact, the
    subject, every date the rules need, each due moment. :class:`EventInvalid` names each field.
    """
    errors: dict[str, str] = {}
    key = payload.get("idempotency_key")
    if not isinstance(key, str) or not key.strip() or len(key) > 255 or not key.isprintable():
        errors["idempotency_key"] = "is 1 to 255 printable characters, unique per event"
    type_key = payload.get("type")
    event_type = None
    if not isinstance(type_key, str) or not type_key.strip():
        errors["type"] = "is required (an event type such as booking.confirmed)"
    else:
        event_type = EventType.objects.for_tenant(tenant).filter(key=type_key.strip()).first()
        if event_type is None:
            known = list(EventType.objects.for_tenant(tenant).values_list("key", flat=True)[:30])
            errors["type"] = f"“{type_key[:60]}” is not an event type of this tenant" + (
                f" (known: {', '.join(known)})" if known else ""
            )
    contact = _resolve_contact(tenant, payload.get("contact"), errors)
    data = payload.get("data")
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        errors["data"] = "is an object of the event's values"
        data = {}
    elif len(json.dumps(data, default=str)) > MAX_DATA_BYTES:
        errors["data"] = f"is larger than {MAX_DATA_BYTES} bytes"
    data = dict(data)
    subject = ""
    if event_type is not None and event_type.subject_key:
        value = data.get(event_type.subject_key)
        if value in (None, "") or isinstance(value, dict | list | bool):
            errors[f"data.{event_type.subject_key}"] = (
                f"is required: it names the subject of “{event_type.key}” events"
            )
        else:
            subject = f"{event_type.subject_key}:{value}"[:200]
    rules = []
    if event_type is not None:
        rules = list(
            NotificationRule.objects.for_tenant(tenant)
            .filter(event_type=event_type, is_active=True)
            .select_related("template")
            .order_by("id")
        )
        # Every date the tenant's rules read must be a date, whichever event carries it.
        zone = contact_zone(contact) if contact is not None else timezone.get_current_timezone()
        date_keys = set(
            NotificationRule.objects.for_tenant(tenant)
            .exclude(timing=NotificationRule.Timing.NOW)
            .values_list("date_key", flat=True)
        )
        # A date a rule needs may be missing (a one-way trip has no return_date): that rule's
        # reminder is passed over when the event is applied. A date given must be a date.
        for date_key in sorted(date_keys & set(data)):
            if data[date_key] in (None, ""):
                continue
            try:
                parse_moment(data[date_key], zone)
            except BadDate as exc:
                errors[f"data.{date_key}"] = str(exc)
    if errors:
        raise EventInvalid(errors)
    return {
        "event_type": event_type,
        "contact": contact,
        "data": data,
        "subject": subject,
        "rules": rules,
        "idempotency_key": key,
        "fingerprint": fingerprint(payload),
    }


def _same_or_conflict(existing: Event, print_: str) -> Event:
    if existing.fingerprint != print_:
        raise ActionError(
            "This idempotency_key was already used for a different event (another type, contact "
            "or data); use a new key for a new event.",
            code="idempotency_key_reused",
        )
    return existing


@transaction.atomic
def do_post_event(tenant: Tenant, payload: Mapping[str, Any]) -> tuple[Event, bool]:
    """Record an event and apply it: cancel or reschedule its subject's pending reminders (every
    contact's: a cancelled booking is cancelled for all its travellers), then schedule its rules'
    notifications, replacing the contact's pending ones of the same rule and subject;
    ``(event, created)``. A repeat of an idempotency key with
    the same body returns the first event and does nothing; with another body it is refused.
    All or nothing: one transaction."""
    checked = check_event(tenant, payload)
    existing = (
        Event.objects.for_tenant(tenant).filter(idempotency_key=checked["idempotency_key"]).first()
    )
    if existing is not None:
        return _same_or_conflict(existing, checked["fingerprint"]), False
    try:
        with transaction.atomic():
            event = Event.objects.create(
                tenant=tenant,
                event_type=checked["event_type"],
                contact=checked["contact"],
                subject=checked["subject"],
                data=checked["data"],
                idempotency_key=checked["idempotency_key"],
                fingerprint=checked["fingerprint"],
            )
    except IntegrityError:  # the same key posted at the same moment: the first one won
        existing = Event.objects.for_tenant(tenant).get(idempotency_key=checked["idempotency_key"])
        return _same_or_conflict(existing, checked["fingerprint"]), False
    _apply_event(event, checked["rules"])
    _attributes_changed(event)
    return event, True


def _attributes_changed(event: Event) -> None:
    """What connected systems show of the contacts of the event's subject may have changed
    (a cancelled booking closes it for every traveller)."""
    contact_ids = [event.contact_id]
    if event.subject:
        contact_ids += Event.objects.filter(
            tenant_id=event.tenant_id, subject=event.subject
        ).values_list("contact_id", flat=True)
    contacts_hooks.shared_attributes_changed(event.tenant_id, list(contact_ids))


def _cancel(pending, now, detail: str) -> None:
    pending.update(
        status=Notification.Status.CANCELLED,
        finished_at=now,
        lease_token=None,
        lease_expires_at=None,
        detail=detail,
    )


def _pending_for_subject(event: Event):
    return (
        Notification.objects.for_tenant(event.tenant)
        .filter(subject=event.subject, status=Notification.Status.SCHEDULED)
        .exclude(event=event)
    )


def _apply_event(event: Event, rules: list[NotificationRule]) -> None:
    now = timezone.now()
    effect = event.event_type.effect
    cancelled = f"Cancelled by the event {event.event_type.key} #{event.pk}."
    if event.subject and effect == EventType.Effect.CANCEL:
        _cancel(_pending_for_subject(event), now, cancelled)
    if event.subject and event.event_type.cancels:
        pending = _pending_for_subject(event)
        _cancel(pending.filter(event__event_type__key__in=event.event_type.cancels), now, cancelled)
    if event.subject and effect == EventType.Effect.RESCHEDULE:
        pending = (
            _pending_for_subject(event)
            .select_for_update(of=("self",))
            .select_related("rule", "contact__tenant")
        )
        for notification in pending:
            _reschedule(notification, event)
    due_now = []
    for rule in rules:
        if event.subject:  # the contact's earlier reminders of this rule for the subject
            earlier = _pending_for_subject(event).filter(rule=rule, contact=event.contact)
            _cancel(earlier, now, f"Replaced by the event {event.event_type.key} #{event.pk}.")
        if date_key := missing_date(rule, event.data):
            Notification.objects.create(
                tenant=event.tenant,
                rule=rule,
                event=event,
                contact=event.contact,
                subject=event.subject,
                data=event.data,
                due_at=now,
                status=Notification.Status.SKIPPED,
                finished_at=now,
                detail=passed_over_detail(date_key, f"the event {event.event_type.key}"),
            )
            continue
        due_at, late = due_moment(rule, event.data, event.contact)
        notification = Notification.objects.create(
            tenant=event.tenant,
            rule=rule,
            event=event,
            contact=event.contact,
            subject=event.subject,
            data=event.data,
            due_at=due_at,
            status=Notification.Status.SKIPPED if late else Notification.Status.SCHEDULED,
            finished_at=now if late else None,
            detail="Its moment had already passed when the event arrived." if late else "",
        )
        if not late and due_at <= now:
            due_now.append(notification.pk)
    if due_now:
        transaction.on_commit(lambda: _enqueue_sends(due_now))


def _reschedule(notification: Notification, event: Event) -> None:
    notification.data = {**notification.data, **event.data}
    rule = notification.rule
    fields = ["data", "lease_token", "lease_expires_at"]
    notification.lease_token = notification.lease_expires_at = None
    if rule is not None and rule.date_key in event.data and missing_date(rule, event.data):
        notification.status = Notification.Status.SKIPPED  # the date was taken away
        notification.finished_at = timezone.now()
        notification.detail = passed_over_detail(
            rule.date_key, f"the event {event.event_type.key} #{event.pk}"
        )
        fields += ["status", "finished_at", "detail"]
    elif (
        rule is not None
        and rule.timing != NotificationRule.Timing.NOW
        and rule.date_key in event.data
    ):
        due_at, late = due_moment(rule, notification.data, notification.contact)
        notification.due_at = due_at
        fields.append("due_at")
        if late:
            notification.status = Notification.Status.SKIPPED
            notification.finished_at = timezone.now()
            notification.detail = (
                f"Rescheduled by {event.event_type.key} #{event.pk} to a moment already past."
            )
            fields += ["status", "finished_at", "detail"]
        else:
            notification.detail = f"Rescheduled by the event {event.event_type.key} #{event.pk}."
            fields.append("detail")
    notification.save(update_fields=fields)


def _enqueue_sends(notification_ids: list[int]) -> None:
    from notifications.tasks import send_notifications_task

    send_notifications_task.delay(notification_ids)


# --- cancelling ---------------------------------------------------------------------------------


@transaction.atomic
def do_cancel_notification(notification: Notification, *, acting_user=None) -> Notification:
    """Cancel a scheduled notification; one being sent right now is waited for (row lock), so a
    sent notification is never reported cancelled."""
    locked = (
        Notification.objects.select_for_update()
        .filter(pk=notification.pk, tenant_id=notification.tenant_id)
        .first()
    )
    if locked is None:
        raise ActionError("No such notification.", code="not_found")
    if locked.status != Notification.Status.SCHEDULED:
        raise ActionError(
            f"This notification is {locked.get_status_display().lower()}; only scheduled ones "
            "can be cancelled.",
            code="conflict",
        )
    locked.status = Notification.Status.CANCELLED
    locked.finished_at = timezone.now()
    locked.cancelled_by = acting_user
    locked.lease_token = locked.lease_expires_at = None
    who = acting_user.email if acting_user is not None else "the API"
    locked.detail = f"Cancelled by {who}."
    audit.record(
        AuditEvent.Action.NOTIFICATION_CANCELLED,
        tenant=locked.tenant,
        actor=acting_user,
        target=locked,
        data={"rule": locked.rule_id, "contact": locked.contact_id},
    )
    locked.save(
        update_fields=[
            "status",
            "finished_at",
            "cancelled_by",
            "lease_token",
            "lease_expires_at",
            "detail",
        ]
    )
    return locked
