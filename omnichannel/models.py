import hashlib
import secrets

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils.timezone import now

from omnichannel.permissions import BuiltinRole, all_codenames, builtin_role_codenames


class Tenant(models.Model):
    """A customer account: the isolation boundary for every tenant-owned row."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    timezone = models.CharField(max_length=64, default="UTC")
    default_region = models.CharField(
        max_length=2, default="US", help_text="ISO country code used to parse national phones."
    )
    require_mfa = models.BooleanField(
        default=False, help_text="Members must set up two-factor authentication to use the tenant."
    )
    contact_hourly_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Messages one contact may be sent per hour; empty uses the platform default.",
    )
    contact_reply_hourly_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=(
            "Agents' replies to a contact who wrote within the hour, per hour; empty uses the "
            "platform default."
        ),
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TenantQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Tenant) -> "TenantQuerySet":
        if tenant is None or tenant.pk is None:
            raise ValueError("A tenant is required to query tenant-owned data.")
        return self.filter(tenant=tenant)


class TenantOwned(models.Model):
    """Abstract base for every tenant-owned model: a tenant FK and the scoped manager."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class Role(models.Model):
    """A named set of permission codenames in a tenant; built-in roles follow the registry."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="roles")
    name = models.CharField(max_length=80)
    builtin = models.CharField(max_length=20, choices=BuiltinRole.choices, blank=True)
    permissions = ArrayField(models.CharField(max_length=80), default=list, blank=True)
    description = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["tenant", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="role_unique_name_per_tenant"),
            models.UniqueConstraint(
                fields=["tenant", "builtin"],
                condition=~Q(builtin=""),
                name="role_unique_builtin_per_tenant",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_builtin(self) -> bool:
        return bool(self.builtin)

    def codenames(self) -> frozenset[str]:
        if self.builtin:
            return builtin_role_codenames(self.builtin)
        # A custom role keeps codenames of apps that are gone; they simply grant nothing.
        return frozenset(self.permissions) & all_codenames()


class Membership(models.Model):
    class Availability(models.TextChoices):
        AVAILABLE = "available", "Available"
        BUSY = "busy", "Busy"
        AWAY = "away", "Away"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="memberships")
    availability = models.CharField(
        max_length=10,
        choices=Availability.choices,
        default=Availability.AVAILABLE,
        help_text="Auto-assignment only picks available agents.",
    )
    last_assigned_at = models.DateTimeField(
        null=True, blank=True, help_text="When auto-assignment last picked this agent."
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_user"),
        ]
        indexes = [models.Index(fields=["user", "tenant"], name="membership_user_idx")]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} as {self.role}"

    def has_permission(self, codename: str) -> bool:
        return codename in self.role.codenames()

    @property
    def is_owner(self) -> bool:
        return self.role.builtin == BuiltinRole.OWNER


def hash_secret(raw: str) -> str:
    """Tokens are long random strings, so a fast digest is enough (no password stretching)."""
    return hashlib.sha256(raw.encode()).hexdigest()


class Invitation(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="invitation_tenant_idx")]
        constraints = [
            models.UniqueConstraint(
                "tenant",
                Lower("email"),
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_pending_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.tenant}"

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None

    def is_expired(self, at=None) -> bool:
        return (at or now()) >= self.expires_at


class ApiToken(models.Model):
    """A tenant API token; only its SHA-256 is stored, the raw value is shown once."""

    PREFIX = "ctr_"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="api_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=12, help_text="The first characters, to recognise it.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="api_token_tenant_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def generate(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_permission(self, codename: str) -> bool:
        return codename in self.role.codenames()

    @property
    def is_owner(self) -> bool:
        """A token with the built-in Owner role: only owners may revoke it."""
        return self.role.builtin == BuiltinRole.OWNER


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        LOGIN_SUCCEEDED = "auth.login_succeeded", "Login succeeded"
        LOGIN_FAILED = "auth.login_failed", "Login failed"
        LOGOUT = "auth.logout", "Logout"
        PASSWORD_CHANGED = "auth.password_changed", "Password changed"
        PASSWORD_RESET = "auth.password_reset", "Password reset"
        MFA_ENABLED = "mfa.enabled", "Two-factor authentication enabled"
        MFA_DISABLED = "mfa.disabled", "Two-factor authentication removed"
        MFA_RECOVERY_CODES_REGENERATED = "mfa.recovery_codes_regenerated", "Recovery codes renewed"
        MFA_REQUIREMENT_CHANGED = "tenant.mfa_requirement_changed", "MFA requirement changed"
        TENANT_CREATED = "tenant.created", "Tenant created"
        TENANT_SETTINGS_CHANGED = "tenant.settings_changed", "Tenant settings changed"
        INVITATION_SENT = "member.invited", "Member invited"
        INVITATION_REVOKED = "member.invitation_revoked", "Invitation revoked"
        INVITATION_ACCEPTED = "member.joined", "Invitation accepted"
        MEMBER_ROLE_CHANGED = "member.role_changed", "Member role changed"
        MEMBER_REMOVED = "member.removed", "Member removed"
        ROLE_CREATED = "role.created", "Role created"
        ROLE_CHANGED = "role.changed", "Role permissions changed"
        ROLE_DELETED = "role.deleted", "Role deleted"
        API_TOKEN_CREATED = "api_token.created", "API token created"
        API_TOKEN_REVOKED = "api_token.revoked", "API token revoked"
        CREDENTIAL_CHANGED = "credential.changed", "Credential changed"
        EXPORT = "data.exported", "Data exported"
        CAMPAIGN_CREATED = "campaign.created", "Campaign created"
        CAMPAIGN_CHANGED = "campaign.changed", "Campaign changed"
        CAMPAIGN_DELETED = "campaign.deleted", "Campaign deleted"
        CAMPAIGN_LAUNCHED = "campaign.launched", "Campaign launched"
        CAMPAIGN_PAUSED = "campaign.paused", "Campaign paused"
        CAMPAIGN_RESUMED = "campaign.resumed", "Campaign resumed"
        CAMPAIGN_CANCELLED = "campaign.cancelled", "Campaign cancelled"
        CONTACT_MERGED = "contact.merged", "Contacts merged"
        CONTACT_ERASED = "contact.erased", "Contact erased (GDPR)"
        CONTACT_DELETED = "contact.deleted", "Contact deleted"
        CONTACT_CONSENT_CHANGED = "contact.consent_changed", "Contact consent changed"
        BLOCKLIST_ADDED = "blocklist.added", "Added to the blocklist"
        BLOCKLIST_REMOVED = "blocklist.removed", "Removed from the blocklist"
        ATTRIBUTE_DEFINED = "attribute.defined", "Contact attribute defined"
        ATTRIBUTE_CHANGED = "attribute.changed", "Contact attribute changed"
        ATTRIBUTE_DELETED = "attribute.deleted", "Contact attribute deleted"
        CONTACT_BULK_STARTED = "contact.bulk_started", "Bulk operation on contacts started"
        CONTACT_BULK_CANCELLED = "contact.bulk_cancelled", "Bulk operation on contacts cancelled"
        CONTACTS_IMPORTED = "contact.imported", "Contacts import started"
        CONTACTS_IMPORT_CANCELLED = "contact.import_cancelled", "Contacts import cancelled"
        CONTACT_CREATED = "contact.created", "Contact created"
        CONTACT_CHANGED = "contact.changed", "Contact changed"
        HOUSEHOLD_MEMBER_ADDED = "contact.household_added", "Household member added"
        HOUSEHOLD_MEMBER_CHANGED = "contact.household_changed", "Household member changed"
        HOUSEHOLD_MEMBER_REMOVED = "contact.household_removed", "Household member removed"
        LIST_CREATED = "list.created", "Contact list created"
        LIST_CHANGED = "list.changed", "Contact list changed"
        LIST_DELETED = "list.deleted", "Contact list deleted"
        LIST_MEMBERS_CHANGED = "list.members_changed", "Contact list members changed"
        SEGMENT_CREATED = "segment.created", "Segment created"
        SEGMENT_CHANGED = "segment.changed", "Segment changed"
        SEGMENT_DELETED = "segment.deleted", "Segment deleted"
        TENANT_DELETED = "tenant.deleted", "Tenant deleted"
        INBOX_CREATED = "inbox.created", "Inbox created"
        INBOX_CHANGED = "inbox.changed", "Inbox changed"
        INBOX_ASSIGNMENT_CHANGED = "inbox.assignment_changed", "Inbox assignment changed"
        CONVERSATION_DELETED = "conversation.deleted", "Conversation deleted"
        LABEL_CREATED = "label.created", "Label created"
        LABEL_CHANGED = "label.changed", "Label changed"
        LABEL_DELETED = "label.deleted", "Label deleted"
        CANNED_RESPONSE_CREATED = "canned_response.created", "Canned response created"
        CANNED_RESPONSE_CHANGED = "canned_response.changed", "Canned response changed"
        CANNED_RESPONSE_DELETED = "canned_response.deleted", "Canned response deleted"
        MACRO_CREATED = "macro.created", "Macro created"
        MACRO_CHANGED = "macro.changed", "Macro changed"
        MACRO_DELETED = "macro.deleted", "Macro deleted"
        MACRO_RUN = "macro.run", "Macro run on a conversation"
        TEAM_CREATED = "team.created", "Team created"
        TEAM_DELETED = "team.deleted", "Team deleted"
        TEAM_MEMBER_ADDED = "team.member_added", "Team member added"
        TEAM_MEMBER_REMOVED = "team.member_removed", "Team member removed"
        TEMPLATE_CREATED = "template.created", "Message template created"
        TEMPLATE_CHANGED = "template.changed", "Message template changed"
        TEMPLATE_DELETED = "template.deleted", "Message template deleted"
        TEMPLATE_MEDIA_ADDED = "template.media_added", "Message template file added"
        TEMPLATE_MEDIA_REMOVED = "template.media_removed", "Message template file removed"
        NOTIFICATION_TEMPLATE_CREATED = (
            "notification_template.created",
            "Notification template created",
        )
        NOTIFICATION_TEMPLATE_CHANGED = (
            "notification_template.changed",
            "Notification template changed",
        )
        EVENT_TYPE_CREATED = "event_type.created", "Event type created"
        EVENT_TYPE_CHANGED = "event_type.changed", "Event type changed"
        NOTIFICATION_RULE_CREATED = "notification_rule.created", "Notification rule created"
        NOTIFICATION_RULE_CHANGED = "notification_rule.changed", "Notification rule changed"
        NOTIFICATION_CANCELLED = "notification.cancelled", "Scheduled notification cancelled"
        CALENDAR_RESOURCE_CREATED = "calendar_resource.created", "Calendar resource created"
        CALENDAR_RESOURCE_CHANGED = "calendar_resource.changed", "Calendar resource changed"
        CALENDAR_RESOURCE_DELETED = "calendar_resource.deleted", "Calendar resource deleted"
        APPOINTMENT_TYPE_CREATED = "appointment_type.created", "Appointment type created"
        APPOINTMENT_TYPE_CHANGED = "appointment_type.changed", "Appointment type changed"
        APPOINTMENT_TYPE_DELETED = "appointment_type.deleted", "Appointment type deleted"
        PERMISSION_DENIED = "security.permission_denied", "Permission refused"
        API_TOKEN_REJECTED = "security.api_token_rejected", "API token refused"

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, null=True, blank=True, related_name="audit_events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_token = models.ForeignKey(
        ApiToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The codenames are checked by ``omnichannel.audit.record`` rather than by a DB ``choices``,
    # so adding an action to ``Action`` needs no migration.
    action = models.CharField(max_length=60)
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="audit_tenant_idx"),
            models.Index(fields=["actor", "-created_at"], name="audit_actor_idx"),
            models.Index(fields=["action", "-created_at"], name="audit_action_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action_label} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def summary(self) -> str:
        """A short line of what the row's data says (field names, never values)."""
        data = self.data or {}
        parts = []
        for key in ("changed", "fields", "keys"):
            if data.get(key):
                names = data[key] if isinstance(data[key], list) else list(data[key])
                parts.append(f"{key}: {', '.join(str(n) for n in names)}")
        for key in ("permission", "path", "reason", "name"):
            if data.get(key):
                parts.append(f"{key}: {data[key]}")
        return "; ".join(parts)

    @property
    def action_label(self) -> str:
        try:
            return self.Action(self.action).label
        except ValueError:  # an action a later version removed
            return self.action


class UserPreference(models.Model):
    class Theme(models.TextChoices):
        DARK = "dark", "Dark"
        LIGHT = "light", "Light"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference"
    )
    theme = models.CharField(max_length=10, choices=Theme.choices, default=Theme.DARK)
    # An IANA name; blank: times read in the tenant's zone (omnichannel.zones.display_zone).
    timezone = models.CharField(max_length=64, blank=True)
    last_tenant = models.ForeignKey(
        Tenant, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"Preferences of {self.user}"


# --- Labels -------------------------------------------------------------------------------------


class LabelColor(models.TextChoices):
    """The fixed palette: each has a dark- and a light-theme shade with AA contrast."""

    GREY = "grey", "Grey"
    RED = "red", "Red"
    ORANGE = "orange", "Orange"
    YELLOW = "yellow", "Yellow"
    GREEN = "green", "Green"
    TEAL = "teal", "Teal"
    BLUE = "blue", "Blue"
    PURPLE = "purple", "Purple"
    PINK = "pink", "Pink"


class Label(TenantOwned):
    """A tag agents put on conversations and contacts; names are unique per tenant whatever
    their case. The apps above attach it to their rows (``inbox.ConversationLabel``,
    ``contacts.ContactLabel``)."""

    name = models.CharField(max_length=50)
    color = models.CharField(max_length=10, choices=LabelColor.choices, default=LabelColor.BLUE)
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        db_table = "inbox_label"  # created by the inbox, which owned labels first
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                F("tenant"), Lower("name"), name="label_unique_name_per_tenant"
            ),
            models.CheckConstraint(
                condition=Q(color__in=LabelColor.values), name="label_color_in_palette"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="label_name_not_blank"),
        ]

    def __str__(self) -> str:
        return self.name


class WebhookEvent(models.Model):
    """The webhook journal: every authenticated request a provider posted, kept before it is
    processed (see ``omnichannel.webhooks.journal``).

    ``provider`` is the source (a key its app registered, e.g. a provider of the inbox's
    registry), ``kind`` that source's own name for the event type (``inbound``, ``status``,
    ``new-message``…). ``tenant`` and ``inbox`` are empty for what belongs to no tenant or to no
    inbox (platform and tenant-level integrations). Apps name their sources; the core only
    stores, replays and dedupes them.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"
        INVALID = "invalid", "Malformed"

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    inbox = models.ForeignKey(
        "inbox.Inbox",
        on_delete=models.CASCADE,
        related_name="webhook_events",
        null=True,
        blank=True,
    )
    provider = models.CharField(max_length=20)
    kind = models.CharField(max_length=60)
    url = models.CharField(max_length=1000)
    # The request's headers, secrets (Authorization, Cookie) left out.
    headers = models.JSONField(default=dict, blank=True)
    # The whole Content-Type header (a multipart boundary is needed to parse the body again).
    content_type = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    # "base64" when the raw body is not UTF-8 text (multipart email with binary attachments).
    body_encoding = models.CharField(max_length=10, blank=True)
    external_id = models.CharField(max_length=100, blank=True)
    # What makes two requests the same event for the source (one event delivered to two of
    # its targets under two delivery ids): unique per inbox, so a second copy, even a
    # concurrent one, is journaled as a duplicate and never applied.
    dedupe_key = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(default=now)
    processed_at = models.DateTimeField(null=True, blank=True)
    # How long the handler took (the last attempt), for the webhook latency targets.
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        # The journal began in the inbox; its table kept the name.
        db_table = "inbox_webhookevent"
        constraints = [
            models.UniqueConstraint(
                fields=["inbox", "dedupe_key"],
                condition=~Q(dedupe_key=""),
                name="webhook_unique_dedupe_key_per_inbox",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-received_at"], name="webhook_tenant_idx"),
            models.Index(fields=["state", "received_at"], name="webhook_state_idx"),
            models.Index(fields=["inbox", "external_id"], name="webhook_inbox_ext_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} webhook {self.pk} ({self.state})"

    def raw_body(self) -> bytes:
        """The request body exactly as it arrived."""
        if self.body_encoding == "base64":
            import base64

            return base64.b64decode(self.body)
        return self.body.encode("utf-8")


# --- Agent notifications ------------------------------------------------------------------------


class AgentNotification(TenantOwned):
    """Something a member should know about (assigned to them, mentioned in a note…).

    Kinds are registered by the apps (:mod:`omnichannel.agent_notifications`). The media the
    recipient wanted for the kind are copied in when the row is written, so a later change of
    preference never re-sends or hides what was already decided. ``event_key`` names the
    event (``message:42``): one notification per recipient, kind and event.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=40)
    event_key = models.CharField(max_length=100)
    title = models.CharField(max_length=200)
    text = models.CharField(max_length=500, blank=True)
    url = models.CharField(max_length=500, blank=True)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.BigIntegerField(null=True, blank=True)
    in_app = models.BooleanField(default=True)
    browser = models.BooleanField(default=True)
    email = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=now)
    read_at = models.DateTimeField(null=True, blank=True)
    digested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "recipient", "kind", "event_key"],
                name="agent_notification_once_per_event",
            ),
            models.CheckConstraint(condition=~Q(kind=""), name="agent_notification_kind_set"),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "recipient", "-created_at", "-id"],
                condition=Q(in_app=True),
                name="agent_notif_list_idx",
            ),
            models.Index(
                fields=["tenant", "recipient"],
                condition=Q(in_app=True, read_at__isnull=True),
                name="agent_notif_unread_idx",
            ),
            models.Index(
                fields=["recipient", "created_at"],
                condition=Q(email=True, read_at__isnull=True, digested_at__isnull=True),
                name="agent_notif_digest_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for user {self.recipient_id}: {self.title}"


class AgentNotificationPreference(models.Model):
    """A member's choice of media for one kind (across their tenants); no row: the kind's
    defaults."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)
    in_app = models.BooleanField(default=True)
    browser = models.BooleanField(default=True)
    email = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="agent_notif_pref_once_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.kind} preference of user {self.user_id}"


class NotificationDigest(models.Model):
    """How often a member wants the email digest of their unread notifications, and when the
    last one went out."""

    class Frequency(models.TextChoices):
        OFF = "off", "Never"
        HOURLY = "hourly", "Hourly"
        DAILY = "daily", "Daily"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_digest"
    )
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.OFF)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(frequency__in=["off", "hourly", "daily"]),
                name="notification_digest_frequency_known",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_frequency_display()} digest of user {self.user_id}"
