import datetime

from django.conf import settings
from django.db import models
from django.utils.timezone import now

from omnichannel.files import tenant_file_path
from omnichannel.models import TenantOwned


class MessageTemplate(TenantOwned):
    """A reusable message for campaigns: a body with ``{{variables}}`` (see
    :mod:`contacts.templating`) and, for WhatsApp, the approved template it stands for."""

    name = models.CharField(max_length=120)
    channel = models.CharField(max_length=20, help_text="The channel it is written for.")
    body = models.TextField(blank=True)
    content_sid = models.CharField(
        max_length=34, blank=True, help_text="WhatsApp: the approved template's Content SID."
    )
    variables = models.JSONField(
        default=dict,
        blank=True,
        help_text='WhatsApp: numbered variables to names, e.g. {"1": "firstName"}.',
    )
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="messagetemplate_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Campaign(TenantOwned):
    """A mass send: one template, from one inbox, to an audience snapshotted at launch."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    class Pacing(models.TextChoices):
        NONE = "none", "As fast as the sender allows"
        DELAY = "delay", "A fixed delay between messages"
        WINDOW = "window", "Spread evenly over a window"
        RATE = "rate", "At most N messages per second"

    name = models.CharField(max_length=120)
    inbox = models.ForeignKey("inbox.Inbox", on_delete=models.PROTECT, related_name="+")
    template = models.ForeignKey(MessageTemplate, on_delete=models.PROTECT, related_name="+")
    lists = models.ManyToManyField("contacts.ContactList", blank=True, related_name="+")
    segments = models.ManyToManyField("contacts.Segment", blank=True, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    scheduled_at = models.DateTimeField(
        null=True, blank=True, help_text="When it starts; empty: as soon as it is launched."
    )
    pacing = models.CharField(max_length=10, choices=Pacing.choices, default=Pacing.NONE)
    delay_seconds = models.FloatField(null=True, blank=True)
    window_seconds = models.PositiveIntegerField(null=True, blank=True)
    rate_per_second = models.FloatField(null=True, blank=True)
    quiet_hours = models.BooleanField(default=True)
    quiet_start = models.TimeField(default=datetime.time(21, 0))
    quiet_end = models.TimeField(default=datetime.time(8, 0))
    pause_reason = models.CharField(max_length=500, blank=True)
    paused_by_breaker = models.BooleanField(default=False)
    # Counters, changed in the same transaction as the recipient rows they count.
    total = models.PositiveIntegerField(default=0)
    pending = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    unknown = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    replied = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_batch_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="campaign_tenant_list_idx"),
            models.Index(fields=["status", "scheduled_at"], name="campaign_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(pacing="delay") | models.Q(delay_seconds__gt=0),
                name="campaign_delay_positive",
            ),
            models.CheckConstraint(
                condition=~models.Q(pacing="window") | models.Q(window_seconds__gt=0),
                name="campaign_window_positive",
            ),
            models.CheckConstraint(
                condition=~models.Q(pacing="rate") | models.Q(rate_per_second__gt=0),
                name="campaign_rate_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.SCHEDULED, self.Status.RUNNING, self.Status.PAUSED)


class CampaignRecipient(TenantOwned):
    """One person of a campaign's audience and what happened to their message.

    ``message_hash`` identifies the message a person gets (channel and address): the unique
    ``(campaign, message_hash)`` is what makes a second message to the same number impossible.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        LEASED = "leased", "Claimed by a worker"
        SENDING = "sending", "Being handed to the provider"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        UNKNOWN = "unknown", "Unknown (may have been sent)"
        CANCELLED = "cancelled", "Not sent (cancelled)"

    class SkipReason(models.TextChoices):
        # At launch and again at hand-off (campaigns.engine.start_sending).
        OPTED_OUT = "opted_out", "Opted out"
        BLOCKED = "blocked", "Blocked"
        # At launch only.
        INVALID = "invalid", "No valid address"
        DUPLICATE = "duplicate", "Duplicate address"
        # At hand-off only: what changed after the launch.
        ERASED = "erased", "Contact erased"
        DELETED = "deleted", "Contact deleted"
        OUTSIDE_WINDOW = "outside_window", "Outside WhatsApp's 24-hour window"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    contact = models.ForeignKey(
        "contacts.Contact", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    address = models.CharField(max_length=200, blank=True)
    message_hash = models.CharField(max_length=64)
    body = models.TextField(blank=True, help_text="The text rendered for this person at launch.")
    variables = models.JSONField(default=dict, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    skip_reason = models.CharField(max_length=20, choices=SkipReason.choices, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    leased_by = models.CharField(max_length=100, blank=True)
    message = models.OneToOneField(
        "inbox.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    provider_message_id = models.CharField(max_length=100, blank=True)
    error_code = models.CharField(max_length=20, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)

    TERMINAL = (Status.SENT, Status.FAILED, Status.SKIPPED, Status.UNKNOWN, Status.CANCELLED)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "message_hash"], name="campaignrecipient_unique_message"
            ),
            models.CheckConstraint(
                condition=models.Q(status="skipped", skip_reason__gt="")
                | (~models.Q(status="skipped") & models.Q(skip_reason="")),
                name="campaignrecipient_skip_has_reason",
            ),
        ]
        indexes = [
            # Claiming: the next waiting rows of a campaign, in order.
            models.Index(
                fields=["campaign", "id"],
                condition=models.Q(status="pending"),
                name="campaignrecipient_pending_idx",
            ),
            models.Index(
                fields=["lease_expires_at"],
                condition=models.Q(status__in=["leased", "sending"]),
                name="campaignrecipient_lease_idx",
            ),
            models.Index(fields=["campaign", "status"], name="campaignrecipient_status_idx"),
            models.Index(fields=["campaign", "sent_at"], name="campaignrecipient_sent_idx"),
            models.Index(fields=["contact", "-sent_at"], name="campaignrecipient_contact_idx"),
        ]


def template_media_path(instance: "TemplateMedia", filename: str) -> str:
    return tenant_file_path(instance.tenant_id, "templates", filename)


class TemplateMedia(TenantOwned):
    """An image, audio or video file sent with every message of a template (an SMS template
    with media goes out as MMS). Kept as long as the template has it: providers fetch it by
    its signed link (:mod:`campaigns.media`) while a campaign sends, for days."""

    template = models.ForeignKey(MessageTemplate, on_delete=models.CASCADE, related_name="media")
    file = models.FileField(upload_to=template_media_path, max_length=300)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    filename = models.CharField(max_length=255)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["template", "position", "id"]
        indexes = [
            models.Index(fields=["template", "position"], name="templatemedia_template_idx"),
        ]

    def __str__(self) -> str:
        return self.filename
