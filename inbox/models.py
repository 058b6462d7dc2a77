import json
import secrets

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils.timezone import now

from contacts.phones import format_phone
from omnichannel.channels import Channel
from omnichannel.crypto import EncryptedTextField
from omnichannel.files import tenant_file_path
from omnichannel.models import TenantOwned


def new_webhook_token() -> str:
    return secrets.token_urlsafe(24)


class Inbox(TenantOwned):
    """A connected channel: one sender address at one provider account."""

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Channel.choices)
    # A key of the provider registry (inbox.providers.PROVIDERS), checked by its schema.
    provider = models.CharField(max_length=20)
    address = models.CharField(
        max_length=200, help_text="The sender: an E.164 number, or an email address."
    )
    credentials = EncryptedTextField(
        blank=True, help_text="JSON with the provider's secrets; encrypted at rest."
    )
    settings = models.JSONField(default=dict, blank=True)
    team = models.ForeignKey(
        "Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inboxes",
        help_text="The team that answers this inbox.",
    )
    auto_assign = models.BooleanField(
        default=False,
        help_text="Assign new conversations round robin among the available agents of the "
        "inbox's team (every agent who can reply when it has none).",
    )
    fallback_inbox = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Where a message goes when its address cannot be reached on this inbox's "
        "channel (iMessage → SMS, WhatsApp → SMS).",
    )
    webhook_token = models.CharField(max_length=64, unique=True, default=new_webhook_token)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        verbose_name_plural = "inboxes"
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "address"], name="inbox_unique_address_per_tenant"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "kind"], name="inbox_tenant_kind_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()} {format_phone(self.address)})"

    @property
    def provider_label(self) -> str:
        """The provider's name for people (its registry label)."""
        from inbox.providers import UnknownProvider, provider_class

        try:
            return provider_class(self.provider).label
        except UnknownProvider:
            return self.provider

    def get_credentials(self) -> dict:
        return json.loads(self.credentials) if self.credentials else {}

    def set_credentials(self, values: dict) -> None:
        self.credentials = json.dumps(values, sort_keys=True)

    @property
    def sms_relay(self) -> bool:
        """Whether messages that cannot go on this inbox's channel go out as SMS through its own
        provider account (a BlueBubbles Mac's relay) rather than a fallback inbox."""
        return bool((self.settings or {}).get("sms_relay"))

    def option(self, name: str, default=None):
        """A provider option (``api_base_url``, ``messaging_service_sid``…): the inbox's
        settings first, then the provider account stored with the credentials."""
        value = (self.settings or {}).get(name)
        if value in (None, ""):
            value = self.get_credentials().get(name)
        return default if value in (None, "") else value


class InboxHealth(TenantOwned):
    """What Centro knows of the server behind an inbox it polls (BlueBubbles on a Mac): how far
    catching up has read, when the server last answered, and whether it is unreachable.

    Kept apart from ``Inbox.settings``, which admins edit: the beat writes here every minute."""

    inbox = models.OneToOneField(Inbox, on_delete=models.CASCADE, related_name="health")
    # The time of the latest message catching up has read (the server's own clock).
    caught_up_to = models.DateTimeField(null=True, blank=True)
    last_heard_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0, help_text="Failed checks in a row.")
    last_failure = models.CharField(max_length=300, blank=True)
    # Set when the failures reached the alert threshold (admins were told); cleared when the
    # server answers again.
    unreachable_since = models.DateTimeField(null=True, blank=True)
    # The provider's word for the link to the account's phone, when it pairs one (Evolution's
    # open/connecting/close/refused), as its connection webhooks last said.
    connection_state = models.CharField(max_length=20, blank=True)

    class Meta:
        verbose_name_plural = "inbox health"

    def __str__(self) -> str:
        return f"Health of inbox {self.inbox_id}"


# Text search configurations (inbox migration 0002): Spanish and English stemming with
# accents removed first, so "llego" finds "llegó" and "booking" finds "booked".
SEARCH_CONFIGS = ("centro_es", "centro_en")


def text_search_vector(field: str) -> SearchVector:
    """``field`` as a ``tsvector`` in Spanish and in English: how message bodies are stored and
    email subjects are searched, so both read a query alike."""
    return SearchVector(F(field), config=SEARCH_CONFIGS[0]) + SearchVector(
        F(field), config=SEARCH_CONFIGS[1]
    )


class Conversation(TenantOwned):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PENDING = "pending", "Pending"
        SNOOZED = "snoozed", "Snoozed"
        CLOSED = "closed", "Closed"
        ARCHIVED = "archived", "Archived"

    class Priority(models.IntegerChoices):
        NONE = 0, "None"
        LOW = 1, "Low"
        MEDIUM = 2, "Medium"
        HIGH = 3, "High"
        URGENT = 4, "Urgent"

    # A contact has at most one active conversation per inbox; replies land in it.
    ACTIVE = (Status.OPEN, Status.PENDING, Status.SNOOZED)

    inbox = models.ForeignKey(Inbox, on_delete=models.PROTECT, related_name="conversations")
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.PROTECT, related_name="conversations"
    )
    # The provider's own handle of the thread (a chat GUID, a WhatsApp JID, a bridged
    # conversation id), exactly as it gave it: replies are addressed to it.
    external_thread_id = models.CharField(max_length=200, blank=True)
    # A group thread's other members (addresses), as its provider last listed them; empty for
    # a conversation with one contact.
    participants = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NONE)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_conversations",
    )
    team = models.ForeignKey(
        "Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="conversations"
    )
    subject = models.CharField(
        max_length=500,
        blank=True,
        help_text="An email thread's subject (without Re:/Fwd:); empty for other channels.",
    )
    # Subject search (inbox.search), like Message.search_vector. Stored, because search checks
    # it on every row it reads: computing it there cost 150 ms per 30k email threads.
    subject_vector = models.GeneratedField(
        expression=text_search_vector("subject"),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)
    labels = models.ManyToManyField(
        "omnichannel.Label", through="ConversationLabel", related_name="conversations", blank=True
    )

    class Meta:
        constraints = [
            # Email threads by subject: a contact may have several active email threads, one
            # per subject; other channels (no subject) keep one active conversation.
            models.UniqueConstraint(
                fields=["inbox", "contact"],
                condition=Q(status__in=["open", "pending", "snoozed"], subject=""),
                name="conversation_one_active_per_contact",
            ),
            # Two first emails with one subject racing open one thread, not two.
            models.UniqueConstraint(
                F("inbox"),
                F("contact"),
                Lower("subject"),
                condition=Q(status__in=["open", "pending", "snoozed"]) & ~Q(subject=""),
                name="conversation_one_active_thread_per_subject",
            ),
            models.CheckConstraint(
                condition=~Q(status="snoozed") | Q(snoozed_until__isnull=False),
                name="conversation_snoozed_has_until",
            ),
        ]
        indexes = [
            # Lists sort by latest activity with never-messaged conversations last: the
            # index must say NULLS LAST too, or PostgreSQL sorts the whole tenant instead.
            models.Index(
                F("tenant"),
                F("last_message_at").desc(nulls_last=True),
                F("id").desc(),
                name="conv_tenant_recent_idx",
            ),
            models.Index(
                F("tenant"),
                F("status"),
                F("last_message_at").desc(nulls_last=True),
                F("id").desc(),
                name="conv_tenant_status_idx",
            ),
            models.Index(
                fields=["tenant", "assignee", "status", "-last_message_at"],
                name="conv_tenant_assignee_idx",
            ),
            models.Index(fields=["tenant", "contact"], name="conv_tenant_contact_idx"),
            # Search reads a rare subject word's threads here first (inbox.search); only email
            # threads have a subject.
            GinIndex(
                fields=["subject_vector"],
                condition=~Q(subject=""),
                name="conv_subject_search_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Conversation {self.pk} with {self.contact_id} on {self.inbox_id}"


class Message(TenantOwned):
    class Direction(models.TextChoices):
        INBOUND = "in", "Inbound"
        OUTBOUND = "out", "Outbound"

    class SenderType(models.TextChoices):
        CONTACT = "contact", "Contact"
        AGENT = "agent", "Agent"
        SYSTEM = "system", "System"
        BOT = "bot", "Bot"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        FAILED = "failed", "Failed"
        UNDELIVERED = "undelivered", "Undelivered"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    inbox = models.ForeignKey(Inbox, on_delete=models.PROTECT, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    sender_type = models.CharField(max_length=10, choices=SenderType.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    body = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    subject = models.CharField(max_length=500, blank=True)
    # The RFC 5322 Message-ID (with its angle brackets) of an email, sent or received: what
    # replies name in In-Reply-To / References. Unique per inbox, so a repeated inbound
    # webhook stores nothing.
    email_message_id = models.CharField(max_length=500, blank=True)
    is_private = models.BooleanField(default=False, help_text="An internal note, never sent.")
    external_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices)
    error_code = models.CharField(max_length=20, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=now)
    # Full-text search (inbox.search): the body in Spanish and in English, accents removed by
    # the centro_es / centro_en configurations (inbox migration 0002). Kept by PostgreSQL.
    search_vector = models.GeneratedField(
        expression=text_search_vector("body"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["inbox", "external_id"],
                condition=~Q(external_id=""),
                name="message_unique_external_id_per_inbox",
            ),
            models.UniqueConstraint(
                fields=["inbox", "email_message_id"],
                condition=~Q(email_message_id=""),
                name="message_unique_email_id_per_inbox",
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "created_at", "id"], name="message_conv_idx"),
            models.Index(
                fields=["tenant", "direction", "created_at"], name="message_tenant_dir_idx"
            ),
            GinIndex(fields=["search_vector"], name="message_search_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} message {self.pk}"

    @property
    def bubble_channel(self) -> str:
        """The channel the message went or came by when it is not its inbox's own (its bubble
        takes that channel's colour): a fallback's, or SMS in an iMessage inbox's SMS chat."""
        fallback = self.metadata.get("fallback") or {}
        if fallback.get("kind"):
            return fallback["kind"]
        return "sms" if self.metadata.get("service") == "SMS" else ""


# Outbound statuses only move forward along this rank; failed/undelivered are terminal
# except that a later "read" is still believed (the handset saw it).
STATUS_RANK = {
    Message.Status.QUEUED: 1,
    Message.Status.SENDING: 2,
    Message.Status.SENT: 3,
    Message.Status.DELIVERED: 4,
    Message.Status.UNDELIVERED: 4,
    Message.Status.FAILED: 4,
    Message.Status.READ: 5,
}
TERMINAL_FAILURES = (Message.Status.FAILED, Message.Status.UNDELIVERED)


class Delivery(TenantOwned):
    """One attempt to deliver a message through one inbox (a fallback is a new Delivery)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="deliveries")
    inbox = models.ForeignKey(Inbox, on_delete=models.PROTECT, related_name="deliveries")
    provider = models.CharField(max_length=20)
    recipient = models.CharField(max_length=200)
    status = models.CharField(
        max_length=12, choices=Message.Status.choices, default=Message.Status.QUEUED
    )
    provider_message_id = models.CharField(max_length=100, blank=True)
    # Our reference for providers that confirm a send later by echoing it (BlueBubbles'
    # tempGuid): set when the send is first tried, the same for every retry.
    client_ref = models.CharField(max_length=64, blank=True)
    # Set when the attempt went out on another channel than its inbox's own through the same
    # account (SMS through a BlueBubbles Mac's relay); empty for the inbox's own channel.
    channel = models.CharField(max_length=20, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error_code = models.CharField(max_length=20, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="delivery_unique_provider_id",
            ),
            models.UniqueConstraint(
                fields=["inbox", "client_ref"],
                condition=~Q(client_ref=""),
                name="delivery_unique_client_ref",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "created_at"], name="delivery_tenant_idx"),
        ]

    def __str__(self) -> str:
        return f"Delivery {self.pk} of message {self.message_id} ({self.status})"


def attachment_path(instance: "Attachment", filename: str) -> str:
    return tenant_file_path(instance.tenant_id, "attachments", filename)


class Attachment(TenantOwned):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be fetched"
        STORED = "stored", "Stored"
        FAILED = "failed", "Could not be fetched"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    content_type = models.CharField(max_length=100, blank=True)
    file = models.FileField(upload_to=attachment_path, blank=True)
    remote_url = models.URLField(max_length=1000, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        indexes = [models.Index(fields=["message"], name="attachment_message_idx")]

    def __str__(self) -> str:
        return self.filename or self.remote_url or f"Attachment {self.pk}"


class ReadState(TenantOwned):
    """Each agent's own view of a conversation: how far they read, and whether it is pinned."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversation_states"
    )
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="read_states"
    )
    last_read_at = models.DateTimeField(null=True, blank=True)
    pinned = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "conversation"], name="readstate_unique"),
        ]
        indexes = [models.Index(fields=["tenant", "user"], name="readstate_tenant_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.conversation_id} until {self.last_read_at}"


# --- Teams, conversation labels and canned responses --------------------------------------------


class Team(TenantOwned):
    """A group of agents conversations and inboxes can be assigned to."""

    name = models.CharField(max_length=80)
    description = models.CharField(max_length=200, blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMember", related_name="teams", blank=True
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="team_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class TeamMember(TenantOwned):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="teammember_unique"),
        ]


class ConversationLabel(TenantOwned):
    """A label on a conversation (the ``Conversation.labels`` through table)."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="conversation_labels"
    )
    label = models.ForeignKey(
        "omnichannel.Label", on_delete=models.CASCADE, related_name="conversation_labels"
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "label"], name="conversationlabel_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "label", "conversation"], name="convlabel_tenant_label_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label_id} on conversation {self.conversation_id}"


class CannedResponse(TenantOwned):
    """A saved reply; agents insert it in the composer by typing ``/shortcut``."""

    shortcut = models.SlugField(max_length=50, db_index=False)
    title = models.CharField(max_length=100)
    body = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["shortcut", "id"]
        constraints = [
            # Shortcuts are stored lower-case (the actions fold them), so this is unique per
            # tenant whatever the case; its index finds a tenant's few responses.
            models.UniqueConstraint(
                fields=["tenant", "shortcut"], name="cannedresponse_unique_shortcut"
            ),
            models.CheckConstraint(
                condition=Q(shortcut=Lower("shortcut")) & ~Q(shortcut=""),
                name="cannedresponse_shortcut_lower",
            ),
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut}"


class Macro(TenantOwned):
    """A saved sequence of conversation actions an agent runs in one click (Settings → Macros).

    Global macros are offered to every agent; personal ones only to the member who created
    them. The steps are :class:`MacroStep` rows, run in ``position`` order."""

    class Visibility(models.TextChoices):
        GLOBAL = "global", "Everyone"
        PERSONAL = "personal", "Only me"

    name = models.CharField(max_length=80)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.GLOBAL
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                F("tenant"), Lower("name"), name="macro_unique_name_per_tenant"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="macro_name_not_blank"),
        ]

    def __str__(self) -> str:
        return self.name


class MacroStepKind(models.TextChoices):
    ADD_LABEL = "add_label", "Add a label"
    REMOVE_LABEL = "remove_label", "Remove a label"
    ASSIGN_ME = "assign_me", "Assign to the agent running it"
    ASSIGN_AGENT = "assign_agent", "Assign to an agent"
    ASSIGN_TEAM = "assign_team", "Assign to a team"
    SEND_CANNED = "send_canned", "Reply with a canned response"
    ADD_NOTE = "add_note", "Add a private note"
    CLOSE = "close", "Close the conversation"
    SNOOZE = "snooze", "Snooze the conversation"


class MacroStep(TenantOwned):
    """One action of a macro. What it refers to is a foreign key that a deletion sets to null
    (a label, a team, an agent, a canned response): the macro stays, and running it says which
    step lost its target rather than skipping it."""

    Kind = MacroStepKind

    macro = models.ForeignKey(Macro, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    label = models.ForeignKey(
        "omnichannel.Label", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    canned_response = models.ForeignKey(
        CannedResponse, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)
    snooze_minutes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["macro", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["macro", "position"],
                name="macrostep_unique_position",
                deferrable=models.Deferrable.DEFERRED,  # reordering swaps two positions
            ),
            models.CheckConstraint(
                condition=Q(kind__in=MacroStepKind.values),
                name="macrostep_kind_known",
            ),
            models.CheckConstraint(
                condition=Q(kind="add_note", note__gt="") | Q(~Q(kind="add_note"), note=""),
                name="macrostep_note_only_for_notes",
            ),
            models.CheckConstraint(
                condition=Q(kind="snooze", snooze_minutes__gt=0)
                | Q(~Q(kind="snooze"), snooze_minutes__isnull=True),
                name="macrostep_snooze_minutes_only_for_snooze",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.macro} #{self.position}: {self.get_kind_display()}"


class UnmatchedContact(TenantOwned):
    """A contact of a bridged helpdesk (a Chatwoot contact) that matched no contact of the
    tenant: listed on the inbox's page, where an admin links it to one by hand. Nothing is
    mirrored for it meanwhile; the next event of its conversation mirrors once it is linked.

    One row per inbox and external id, counting the events it came in."""

    inbox = models.ForeignKey(Inbox, on_delete=models.CASCADE, related_name="unmatched_contacts")
    external_id = models.CharField(max_length=100)
    name = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    email = models.CharField(max_length=254, blank=True)
    # The latest conversation of theirs (the provider's thread handle) waiting for a link.
    thread_ref = models.CharField(max_length=200, blank=True)
    first_seen_at = models.DateTimeField(default=now)
    last_seen_at = models.DateTimeField(default=now)
    seen = models.PositiveIntegerField(default=1)
    linked_contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    linked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["inbox", "external_id"], name="unmatched_contact_unique_per_inbox"
            ),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "inbox", "linked_at", "-last_seen_at"],
                name="unmatched_inbox_recent_idx",
            )
        ]

    def __str__(self) -> str:
        return f"Unmatched {self.external_id} on inbox {self.inbox_id}"


class BridgeActivity(TenantOwned):
    """One event bridged with a helpdesk (Chatwoot) about a contact: a message in or out, a
    status change, the contact linked. The contact page's timeline lists the latest."""

    class Kind(models.TextChoices):
        MESSAGE_IN = "message_in", "Message from the contact"
        MESSAGE_OUT = "message_out", "Agent reply"
        STATUS = "status", "Status change"
        LINKED = "linked", "Contact linked"

    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="bridge_activity"
    )
    inbox = models.ForeignKey(Inbox, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Which way it went: "in" (the helpdesk told us) or "out" (we told the helpdesk).
    direction = models.CharField(max_length=3, default="in")
    summary = models.CharField(max_length=300)
    at = models.DateTimeField(default=now)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "contact", "-at", "-id"], name="bridge_contact_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for contact {self.contact_id}"
