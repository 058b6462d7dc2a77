"""Google Calendar connections: a member's Google account (its refresh token encrypted), the
calendars it holds and which resource each one syncs with, and the Google events Centro knows
about (busy times, and the copies of Centro's own appointments)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.timezone import now

from omnichannel.crypto import EncryptedTextField
from omnichannel.models import TenantOwned


class GoogleConnection(TenantOwned):
    """One member's Google account, connected through the OAuth web flow (offline access)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Connected"
        REVOKED = "revoked", "Access revoked: reconnect"

    class OnGoogleChange(models.TextChoices):
        """What a change made in Google to a Centro appointment's event does in Centro."""

        CANCEL = "cancel", "Cancel the appointment"
        MOVE = "move", "Move the appointment (a deleted event cancels it)"
        KEEP = "keep", "Keep the appointment and flag it"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    email = models.CharField(max_length=320, help_text="The Google account (its primary calendar).")
    refresh_token = EncryptedTextField()
    access_token = EncryptedTextField(blank=True)
    access_token_expires_at = models.DateTimeField(null=True, blank=True)
    scopes = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    status_detail = models.CharField(max_length=500, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    on_google_change = models.CharField(
        max_length=10, choices=OnGoogleChange.choices, default=OnGoogleChange.MOVE
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["email", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user", "email"], name="googleconnection_unique_account"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "user"], name="googleconn_tenant_user_idx")]

    def __str__(self) -> str:
        return f"Google {self.email}"


class GoogleCalendar(TenantOwned):
    """A calendar of a connected account; with a ``resource`` it syncs both ways with it."""

    connection = models.ForeignKey(
        GoogleConnection, on_delete=models.CASCADE, related_name="calendars"
    )
    calendar_id = models.CharField(max_length=1024)
    summary = models.CharField(max_length=300, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    is_primary = models.BooleanField(default=False)
    access_role = models.CharField(max_length=20, blank=True)
    resource = models.ForeignKey(
        "calendar_app.Resource",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="google_calendars",
    )
    sync_token = models.TextField(blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_full_sync_at = models.DateTimeField(null=True, blank=True)
    sync_error = models.CharField(max_length=500, blank=True)
    # The push channel (events.watch): its id is in the receiver's URL, its token a secret
    # Google echoes in X-Goog-Channel-Token.
    channel_id = models.CharField(max_length=64, blank=True)
    channel_token = EncryptedTextField(blank=True)
    channel_resource_id = models.CharField(max_length=200, blank=True)
    channel_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-is_primary", "summary", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "calendar_id"], name="googlecalendar_unique_per_connection"
            ),
            models.UniqueConstraint(
                fields=["channel_id"], condition=~Q(channel_id=""), name="googlecalendar_channel"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "resource"], name="googlecal_tenant_resource_idx"),
            models.Index(
                fields=["channel_expires_at"],
                condition=Q(resource__isnull=False),
                name="googlecal_channel_expiry_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.summary or self.calendar_id


class GoogleEvent(TenantOwned):
    """An event of a synced calendar: a busy time (``busy``), or the copy of a Centro
    appointment (``appointment``), whose ``etag`` guards Centro's writes."""

    calendar = models.ForeignKey(GoogleCalendar, on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(max_length=1024)
    etag = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, default="confirmed")
    summary = models.CharField(max_length=300, blank=True)
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    busy = models.BooleanField(
        default=False, help_text="Blocks the resource's slots (opaque, not cancelled)."
    )
    appointment = models.ForeignKey(
        "calendar_app.Appointment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="google_events",
    )
    # Google's "updated" of the version stored: an older copy arriving later (a sync that read
    # before our own write landed) is not applied over it.
    google_updated = models.DateTimeField(null=True, blank=True)
    flag = models.CharField(
        max_length=500,
        blank=True,
        help_text="A change made in Google that the connection's rule kept out of Centro.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["calendar", "event_id"], name="googleevent_unique_per_calendar"
            ),
        ]
        indexes = [
            # The busy read of the slot search: a calendar's busy events by time.
            models.Index(
                fields=["calendar", "start_at", "end_at"],
                condition=Q(busy=True),
                name="googleevent_busy_idx",
            ),
            models.Index(fields=["tenant", "appointment"], name="googleevent_appointment_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.calendar} {self.event_id}"
