"""The calendar: bookable resources with weekly availability, appointment types, and
appointments that can never double-book a resource.

The guarantee is the database's, not the application's: every (appointment, resource) pair is an
:class:`AppointmentResource` row carrying the time it blocks (``during``: the appointment with
its type's buffers) and the appointment's state, and an exclusion constraint refuses two
overlapping rows of one resource while both are held or confirmed. Checks in Python only make
the refusal friendlier (the conflicting slot and the nearest free ones).
"""

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.db import models
from django.db.models import F, Q
from django.utils.timezone import now

from omnichannel.models import TenantOwned

COLOR_PATTERN = r"^#[0-9a-fA-F]{6}$"


class Resource(TenantOwned):
    """Something an appointment needs: an agent, a room or a service."""

    class Kind(models.TextChoices):
        AGENT = "agent", "Agent"
        ROOM = "room", "Room"
        SERVICE = "service", "Service"

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.AGENT)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The agent, for an agent resource (their calendar is “me”).",
    )
    timezone = models.CharField(
        max_length=64,
        blank=True,
        help_text="IANA name its availability is written in; empty: the tenant's.",
    )
    color = models.CharField(max_length=7, default="#4f46e5")
    is_active = models.BooleanField(default=True)
    ics_token = models.CharField(
        max_length=64,
        blank=True,
        help_text="SHA-256 of the secret in its ICS feed's URL (the URL is shown once); empty: "
        "no feed.",
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["ics_token"], condition=~Q(ics_token=""), name="resource_unique_ics_token"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "is_active"], name="resource_tenant_idx")]

    def __str__(self) -> str:
        return self.name


class AppointmentType(TenantOwned):
    """What is booked: how long, with what buffers, how far ahead, held for how long."""

    name = models.CharField(max_length=120)
    duration_minutes = models.PositiveIntegerField(default=30)
    buffer_before_minutes = models.PositiveIntegerField(default=0)
    buffer_after_minutes = models.PositiveIntegerField(default=0)
    slot_step_minutes = models.PositiveIntegerField(
        default=0, help_text="Minutes between offered start times; 0: the duration."
    )
    color = models.CharField(max_length=7, default="#0ea5e9")
    min_notice_minutes = models.PositiveIntegerField(
        default=60, help_text="How soon from now the first bookable start is."
    )
    horizon_days = models.PositiveIntegerField(
        default=60, help_text="How many days ahead may be booked."
    )
    hold_minutes = models.PositiveIntegerField(
        default=10, help_text="How long a hold keeps the slot before it is released."
    )
    resources = models.ManyToManyField(
        Resource, blank=True, related_name="appointment_types", help_text="Who/what offers it."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=5, duration_minutes__lte=24 * 60),
                name="appointmenttype_duration_range",
            ),
            models.CheckConstraint(
                condition=Q(hold_minutes__gte=1), name="appointmenttype_hold_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AvailabilityRule(TenantOwned):
    """A weekly open interval of a resource, in the resource's local time (09:00-17:00 stays
    09:00-17:00 across a DST change)."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="rules")
    weekday = models.PositiveSmallIntegerField(help_text="0 = Monday … 6 = Sunday.")
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["resource", "weekday", "start_time"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__lte=6), name="availabilityrule_weekday"),
            models.CheckConstraint(
                condition=Q(start_time__lt=F("end_time")), name="availabilityrule_start_before_end"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "resource"], name="availrule_resource_idx")]

    def __str__(self) -> str:
        return f"{self.resource} {self.weekday} {self.start_time}-{self.end_time}"


class AvailabilityException(TenantOwned):
    """Dates (inclusive) a resource is closed (a holiday, a day off; all day, or only between
    ``start_time`` and ``end_time``) or open for extra hours."""

    class Kind(models.TextChoices):
        CLOSED = "closed", "Closed"
        OPEN = "open", "Extra open hours"

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="exceptions")
    kind = models.CharField(max_length=6, choices=Kind.choices, default=Kind.CLOSED)
    start_date = models.DateField()
    end_date = models.DateField()
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["resource", "start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_date__lte=F("end_date")), name="availabilityexc_dates_ordered"
            ),
            # Extra hours need their hours; a closure without hours is the whole day.
            models.CheckConstraint(
                condition=(Q(start_time__isnull=True) & Q(end_time__isnull=True) & Q(kind="closed"))
                | Q(start_time__lt=F("end_time")),
                name="availabilityexc_times",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "resource", "start_date"], name="availexc_resource_idx")
        ]

    def __str__(self) -> str:
        return f"{self.resource} {self.kind} {self.start_date}-{self.end_date}"


class AppointmentState(models.TextChoices):
    HOLD = "hold", "Held"
    CONFIRMED = "confirmed", "Confirmed"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"
    EXPIRED = "expired", "Hold expired"


# The states that keep a resource busy (the exclusion constraint's condition).
BLOCKING_STATES = (AppointmentState.HOLD, AppointmentState.CONFIRMED)


class Appointment(TenantOwned):
    """A contact's appointment on one or more resources: held while they decide, then confirmed;
    finally completed, cancelled or a no-show (a hold nobody confirmed expires)."""

    State = AppointmentState

    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="appointments"
    )
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, related_name="appointments"
    )
    resources = models.ManyToManyField(
        Resource, through="AppointmentResource", related_name="appointments"
    )
    start_at = models.DateTimeField()
    end_at = models.DateTimeField()
    notes = models.TextField(blank=True)
    conversation = models.ForeignKey(
        "inbox.Conversation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="appointments",
        help_text="The conversation it was booked from.",
    )
    state = models.CharField(max_length=10, choices=AppointmentState.choices)
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(
        default=1, help_text="Counts reschedules: each one's lifecycle event has its own key."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["start_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_at__lt=F("end_at")), name="appointment_start_before_end"
            ),
            models.CheckConstraint(
                condition=~Q(state="hold") | Q(hold_expires_at__isnull=False),
                name="appointment_hold_expires",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "start_at", "id"], name="appointment_tenant_start_idx"),
            models.Index(fields=["tenant", "contact", "start_at"], name="appointment_contact_idx"),
            # The beat sweep: holds past their expiry, every tenant.
            models.Index(
                fields=["hold_expires_at"],
                condition=Q(state="hold"),
                name="appointment_hold_expiry_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Appointment {self.pk} ({self.state})"


class AppointmentResource(TenantOwned):
    """One resource of an appointment and the time it blocks on it (buffers included), with the
    appointment's state copied so the exclusion constraint can see it."""

    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, related_name="resource_rows"
    )
    resource = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="bookings")
    during = DateTimeRangeField(help_text="[start - buffer before, end + buffer after)")
    state = models.CharField(max_length=10, choices=AppointmentState.choices)
    hold_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="The hold's expiry, so busy-time reads need no join."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["appointment", "resource"], name="appointmentresource_unique"
            ),
            # No double booking, by construction (btree_gist: omnichannel 0001 creates it; this
            # app's 0001 makes sure). Its GiST index also serves the free-slot search.
            ExclusionConstraint(
                name="appointmentresource_no_overlap",
                expressions=[
                    ("resource", RangeOperators.EQUAL),
                    ("during", RangeOperators.OVERLAPS),
                ],
                condition=Q(state__in=["hold", "confirmed"]),
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "resource"], name="apptresource_tenant_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.resource} {self.during}"


# The Google Calendar sync keeps its models in its own package (calendar_app.google).
from calendar_app.google.models import GoogleCalendar, GoogleConnection, GoogleEvent  # noqa: E402, F401
