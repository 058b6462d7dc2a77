"""Lifecycle notifications: event types a host system posts, rules mapping them to templates and
channels, the events received, and one :class:`Notification` row per message to send (now or
later), which the beat sweep claims with a lease."""

import datetime
import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils.timezone import now

from omnichannel.models import TenantOwned

KEY_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,59}$"


class EventType(TenantOwned):
    """A kind of event the tenant's systems post (``booking.confirmed``) and what it does to the
    pending reminders of its subject (the booking, the quote…)."""

    class Effect(models.TextChoices):
        SCHEDULE = "schedule", "Schedule its rules' notifications"
        RESCHEDULE = "reschedule", "Reschedule the subject's pending reminders from its dates"
        CANCEL = "cancel", "Cancel the subject's pending reminders"

    key = models.CharField(
        max_length=60, help_text="What the API's “type” says, e.g. booking.confirmed."
    )
    name = models.CharField(max_length=120)
    effect = models.CharField(max_length=12, choices=Effect.choices, default=Effect.SCHEDULE)
    subject_key = models.CharField(
        max_length=60,
        blank=True,
        help_text="The data key naming the subject (e.g. booking_id): later events with the same "
        "value reschedule or cancel its pending reminders.",
    )
    data_keys = ArrayField(
        models.CharField(max_length=60),
        default=list,
        blank=True,
        help_text="Keys of the event's data that templates may use, e.g. trip_date.",
    )
    cancels = ArrayField(
        models.CharField(max_length=60),
        default=list,
        blank=True,
        help_text="Event types whose pending reminders for the same subject this one cancels, "
        "e.g. payment.received cancels payment.due.",
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="eventtype_unique_key"),
        ]

    def __str__(self) -> str:
        return self.key


class NotificationTemplate(TenantOwned):
    """A subject and HTML version (email) and a text body in one language; rules pick the
    contact's language by key."""

    class Category(models.TextChoices):
        TRANSACTIONAL = "transactional", "Transactional"
        MARKETING = "marketing", "Marketing (carries an unsubscribe)"

    key = models.SlugField(max_length=60, help_text="Shared by a template's languages.")
    language = models.CharField(max_length=10, default="es", help_text="es, en…")
    name = models.CharField(max_length=120)
    category = models.CharField(
        max_length=14, choices=Category.choices, default=Category.TRANSACTIONAL
    )
    subject = models.CharField(max_length=200, blank=True, help_text="Used for email.")
    body = models.TextField()
    body_html = models.TextField(
        blank=True,
        help_text="Email only: the HTML version, wrapped in the inbox's branding when sent (the "
        "text body stays as the plain-text part). Variables are escaped.",
    )
    whatsapp_content_sid = models.CharField(
        max_length=34,
        blank=True,
        help_text="An approved WhatsApp template (HX…) to send outside the 24-hour window.",
    )
    whatsapp_variables = models.JSONField(
        default=dict,
        blank=True,
        help_text='The approved template\'s numbered variables, e.g. {"1": "firstName"}.',
    )
    is_default = models.BooleanField(default=False, help_text="Shipped with Centro.")
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "key", "language"], name="notificationtemplate_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


class NotificationRule(TenantOwned):
    """When an event of ``event_type`` arrives: send ``template`` through the first of
    ``channels`` that can reach the contact, now or relative to a date in the event's data."""

    class Timing(models.TextChoices):
        NOW = "now", "As soon as the event arrives"
        BEFORE = "before", "Before a date in the event"
        AFTER = "after", "After a date in the event"

    class Unit(models.TextChoices):
        DAYS = "days", "days"
        HOURS = "hours", "hours"

    name = models.CharField(max_length=120)
    event_type = models.ForeignKey(EventType, on_delete=models.CASCADE, related_name="rules")
    template = models.ForeignKey(
        NotificationTemplate,
        on_delete=models.PROTECT,
        related_name="rules",
        help_text="Sent in the contact's language when the template has it, else this one.",
    )
    channels = ArrayField(
        models.CharField(max_length=20),
        help_text="In order of preference: the next is tried when one cannot reach the contact.",
    )
    timing = models.CharField(max_length=8, choices=Timing.choices, default=Timing.NOW)
    offset = models.PositiveIntegerField(default=0)
    unit = models.CharField(max_length=6, choices=Unit.choices, default=Unit.DAYS)
    date_key = models.CharField(
        max_length=60, blank=True, help_text="The data key holding the date."
    )
    quiet_hours = models.BooleanField(
        default=True, help_text="Hold messages during the contact's night (their time zone)."
    )
    quiet_start = models.TimeField(default=datetime.time(21, 0))
    quiet_end = models.TimeField(default=datetime.time(8, 0))
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["event_type__key", "name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(timing="now") | ~Q(date_key=""), name="notificationrule_dated_has_key"
            ),
            models.CheckConstraint(condition=~Q(channels=[]), name="notificationrule_has_channels"),
        ]
        indexes = [
            models.Index(fields=["tenant", "event_type"], name="notificationrule_tenant_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def when(self) -> str:
        if self.timing == self.Timing.NOW:
            return "When the event arrives"
        return f"{self.offset} {self.get_unit_display()} {self.timing} {self.date_key}"


class Event(TenantOwned):
    """One event a host system posted; ``(tenant, idempotency_key)`` makes repeats no-ops."""

    event_type = models.ForeignKey(EventType, on_delete=models.PROTECT, related_name="+")
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="lifecycle_events"
    )
    subject = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request body.")
    received_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"], name="event_unique_idempotency_key"
            ),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "contact", "-received_at"], name="event_tenant_contact_idx"
            ),
            # The contacts of a subject (a booking's travellers), when one of its events posts.
            models.Index(fields=["tenant", "subject"], name="event_tenant_subject_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type.key} #{self.pk}"


class Notification(TenantOwned):
    """One message of a rule for one event: scheduled until the sweep sends it (or it is
    cancelled). A worker holds it through ``lease_expires_at``; "sent" is committed together with
    the Message, so a worker that dies before committing leaves it claimable after the lease."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        SENT = "sent", "Sent"
        FAILED = "failed", "Not sent"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"

    rule = models.ForeignKey(
        NotificationRule, null=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="notifications")
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="notifications"
    )
    subject = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True, help_text="The event data it renders.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    due_at = models.DateTimeField()
    lease_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    channel = models.CharField(max_length=20, blank=True)
    message = models.ForeignKey(
        "inbox.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.TextField(
        blank=True, help_text="Why channels were passed over, or why not sent."
    )
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-due_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "rule"], name="notification_unique_per_rule"),
        ]
        indexes = [
            models.Index(
                F("tenant"),
                F("contact"),
                F("due_at").desc(),
                F("id").desc(),
                name="notification_contact_idx",
            ),
            models.Index(
                F("tenant"),
                F("rule"),
                F("due_at").desc(),
                F("id").desc(),
                name="notification_rule_idx",
            ),
            models.Index(
                fields=["tenant", "subject"],
                condition=Q(status="scheduled"),
                name="notification_pending_subj_idx",
            ),
            # The sweep: due rows of every tenant.
            models.Index(
                fields=["due_at"], condition=Q(status="scheduled"), name="notification_due_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"Notification {self.pk} ({self.status})"

    @staticmethod
    def new_lease() -> uuid.UUID:
        return uuid.uuid4()
