from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Func, Q, TextField
from django.db.models.functions import Lower
from django.utils.timezone import now

from contacts.phones import contact_display
from omnichannel.models import TenantOwned


class Unaccented(Func):
    """``centro_unaccent(text)``: ``unaccent()`` declared IMMUTABLE (contacts migration 0002) so
    that it can be indexed. "García" and "Garcia" fold to the same text."""

    function = "centro_unaccent"
    output_field = TextField()


def folded(expression) -> Lower:
    """Lower-case, accents removed: how contact names are indexed and searched."""
    return Lower(Unaccented(expression))


# A contact's address and preferences: what a merge fills in, an erasure blanks and the API
# edits alongside the names.
PROFILE_FIELDS = (
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "timezone",
    "preferred_channel",
    "language",
    "inferred_gender",
)


class Contact(TenantOwned):
    """A person the tenant talks to.

    ``phone`` and ``email`` mirror the primary :class:`ContactPhone` / :class:`ContactEmail`, so
    that the inbox and campaigns read one column; ``contacts.services`` keeps them in step.
    ``name`` is the display name: first and last name when known, else what the channel told us.
    """

    class CreatedVia(models.TextChoices):
        MANUAL = "manual", "Added by an agent"
        INBOUND = "inbound", "Wrote to us"
        OUTBOUND = "outbound", "We wrote first"
        IMPORT = "import", "CSV import"
        API = "api", "API"
        CHATWOOT = "chatwoot", "Chatwoot"
        MERGE = "merge", "Merge"

    class Gender(models.TextChoices):
        UNKNOWN = "", "Unknown"
        FEMALE = "female", "Female"
        MALE = "male", "Male"

    name = models.CharField(max_length=200, blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +14155550111")
    email = models.EmailField(blank=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True, help_text="State or province.")
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 code, e.g. MX.")
    timezone = models.CharField(
        max_length=64, blank=True, help_text="IANA name, e.g. America/Mexico_City."
    )
    preferred_channel = models.CharField(max_length=20, blank=True)
    language = models.CharField(max_length=10, blank=True, help_text="BCP 47, e.g. es or en-US.")
    external_ids = models.JSONField(
        default=dict, blank=True, help_text='Ids in other systems, e.g. {"chatwoot": "123"}.'
    )
    created_via = models.CharField(
        max_length=20, choices=CreatedVia.choices, default=CreatedVia.MANUAL
    )
    inferred_gender = models.CharField(
        max_length=10, choices=Gender.choices, blank=True, help_text="Filled by automation."
    )
    attributes = models.JSONField(
        default=dict, blank=True, help_text="Custom attribute values, keyed by definition key."
    )
    last_contacted_at = models.DateTimeField(null=True, blank=True)
    erased_at = models.DateTimeField(
        null=True, blank=True, help_text="Personal data erased (GDPR)."
    )
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "phone"], condition=~Q(phone=""), name="contact_unique_phone"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "email"], name="contact_tenant_email_idx"),
            models.Index(fields=["tenant", "-created_at"], name="contact_tenant_created_idx"),
            models.Index(
                fields=["tenant", "-last_contacted_at"], name="contact_tenant_contacted_idx"
            ),
            # Substring search (contacts.search): trigram GIN indexes cannot lead with the tenant;
            # the tenant filter applies to the few rows they return.
            GinIndex(OpClass(folded("name"), name="gin_trgm_ops"), name="contact_name_trgm_idx"),
            GinIndex(OpClass(Lower("email"), name="gin_trgm_ops"), name="contact_email_trgm_idx"),
            GinIndex(OpClass("phone", name="gin_trgm_ops"), name="contact_phone_trgm_idx"),
            GinIndex(OpClass("attributes", name="jsonb_path_ops"), name="contact_attributes_idx"),
            GinIndex(
                OpClass("external_ids", name="jsonb_path_ops"), name="contact_external_ids_idx"
            ),
        ]

    def __str__(self) -> str:
        # Read by people (messages, errors, the admin): a phone in international format. Pages
        # use {% contact_label %}, which knows the tenant's region.
        return contact_display(self)

    @property
    def display_name(self) -> str:
        return str(self)


class ContactPhone(TenantOwned):
    """One of a contact's numbers; a number belongs to one contact per tenant."""

    class Kind(models.TextChoices):
        MOBILE = "mobile", "Mobile"
        HOME = "home", "Home"
        WORK = "work", "Work"
        OTHER = "other", "Other"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="phones")
    number = models.CharField(max_length=20, help_text="E.164")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MOBILE)
    is_primary = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="contactphone_unique"),
            models.UniqueConstraint(
                fields=["contact"], condition=Q(is_primary=True), name="contactphone_one_primary"
            ),
        ]
        indexes = [
            GinIndex(OpClass("number", name="gin_trgm_ops"), name="contactphone_number_trgm_idx"),
        ]

    def __str__(self) -> str:
        return self.number


class ContactEmail(TenantOwned):
    """One of a contact's email addresses (stored lower-case); unique per tenant."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="emails")
    email = models.EmailField()
    is_primary = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "email"], name="contactemail_unique"),
            models.UniqueConstraint(
                fields=["contact"], condition=Q(is_primary=True), name="contactemail_one_primary"
            ),
        ]
        # The search box's "any email" (contacts.filters.search_q) reads substrings here.
        indexes = [
            GinIndex(OpClass("email", name="gin_trgm_ops"), name="contactemail_email_trgm_idx")
        ]

    def __str__(self) -> str:
        return self.email


class AttributeDefinition(TenantOwned):
    """A custom contact attribute the tenant defines; values live in ``Contact.attributes``."""

    class Type(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        DATE = "date", "Date"
        BOOLEAN = "boolean", "Yes / no"
        CHOICE = "choice", "List of choices"

    key = models.SlugField(max_length=60, help_text="Used in templates, filters and the API.")
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.TEXT)
    choices = models.JSONField(default=list, blank=True, help_text="Allowed values (choice type).")
    is_required = models.BooleanField(default=False)
    description = models.CharField(max_length=200, blank=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["position", "label"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="attributedefinition_unique"),
        ]

    def __str__(self) -> str:
        return self.label


class HouseholdMember(TenantOwned):
    """Someone in a contact's household. Members an agent confirmed are protected: automated
    updates (import, AI enrichment) may add members but never change or remove these."""

    class Relationship(models.TextChoices):
        SPOUSE = "spouse", "Spouse"
        PARTNER = "partner", "Partner"
        CHILD = "child", "Child"
        PARENT = "parent", "Parent"
        SIBLING = "sibling", "Sibling"
        GRANDPARENT = "grandparent", "Grandparent"
        GRANDCHILD = "grandchild", "Grandchild"
        OTHER = "other", "Other"

    class Source(models.TextChoices):
        MANUAL = "manual", "Agent"
        IMPORT = "import", "Import"
        AI = "ai", "AI enrichment"
        API = "api", "API"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="household")
    member = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The member's own contact, when they have one.",
    )
    name = models.CharField(max_length=200)
    relationship = models.CharField(max_length=20, choices=Relationship.choices)
    date_of_birth = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["tenant", "contact"], name="household_contact_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_relationship_display()} of {self.contact})"

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None


class BlockedAddress(TenantOwned):
    """A number or email nothing is sent to and no contact is auto-created for."""

    class Kind(models.TextChoices):
        PHONE = "phone", "Phone"
        EMAIL = "email", "Email"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = models.CharField(max_length=254, help_text="E.164 or lower-case email.")
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "kind", "value"], name="blocked_unique"),
        ]

    def __str__(self) -> str:
        return self.value


class Consent(TenantOwned):
    """Opt-in / opt-out of a contact for one channel and one sender address."""

    class Status(models.TextChoices):
        OPTED_IN = "opted_in", "Opted in"
        OPTED_OUT = "opted_out", "Opted out"

    class Source(models.TextChoices):
        KEYWORD = "keyword", "Keyword from the contact"
        PROVIDER_ERROR = "provider_error", "Provider reported an opt-out"
        MANUAL = "manual", "Changed by an agent"
        IMPORT = "import", "Import"
        API = "api", "API"
        UNSUBSCRIBE_LINK = "unsubscribe_link", "Unsubscribe link"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(max_length=20)
    sender = models.CharField(max_length=200, help_text="The tenant's address on that channel.")
    status = models.CharField(max_length=12, choices=Status.choices)
    source = models.CharField(max_length=20, choices=Source.choices)
    detail = models.CharField(max_length=200, blank=True)
    changed_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "channel", "sender"], name="consent_unique_per_sender"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "channel", "status"], name="consent_tenant_idx")]

    def __str__(self) -> str:
        return f"{self.contact} {self.get_status_display()} on {self.channel} ({self.sender})"


class ContactLabel(TenantOwned):
    """A tenant label (the same labels conversations use) on a contact."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="label_links")
    label = models.ForeignKey("omnichannel.Label", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "label"], name="contactlabel_unique"),
        ]
        indexes = [models.Index(fields=["label", "contact"], name="contactlabel_label_idx")]


class ContactList(TenantOwned):
    """A static list of contacts (campaigns target lists and segments)."""

    name = models.CharField(max_length=120)
    description = models.CharField(max_length=200, blank=True)
    contacts = models.ManyToManyField(Contact, through="ListMembership", related_name="lists")
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="contactlist_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class ListMembership(TenantOwned):
    contact_list = models.ForeignKey(ContactList, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact_list", "contact"], name="listmembership_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["contact", "contact_list"], name="listmembership_contact_idx")
        ]


class Segment(TenantOwned):
    """A saved filter: its contacts are whoever matches ``filters`` when it is used."""

    name = models.CharField(max_length=120)
    description = models.CharField(max_length=200, blank=True)
    filters = models.JSONField(default=dict, help_text="See contacts.filters for the format.")
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="segment_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class JobStatus(models.TextChoices):
    PENDING = "pending", "Waiting to start"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class ImportJob(TenantOwned):
    """A CSV upload imported in the background; ``next_row`` makes it resumable."""

    class OnExisting(models.TextChoices):
        UPDATE = "update", "Update existing contacts"
        SKIP = "skip", "Skip existing contacts"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    filename = models.CharField(max_length=255)
    file = models.FileField(upload_to="imports/%Y/%m/")
    encoding = models.CharField(max_length=20, blank=True)
    delimiter = models.CharField(max_length=1, blank=True)
    mapping = models.JSONField(
        default=dict, blank=True, help_text="CSV column header -> field name or attr:<key>."
    )
    on_existing = models.CharField(
        max_length=10, choices=OnExisting.choices, default=OnExisting.UPDATE
    )
    add_to_list = models.ForeignKey(
        ContactList, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    total_rows = models.PositiveIntegerField(default=0)
    next_row = models.PositiveIntegerField(default=0, help_text="Rows before this one are done.")
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text="[{row, column, reason}] for the report."
    )
    warning_count = models.PositiveIntegerField(
        default=0, help_text="Rows imported without one or more of their cells."
    )
    warnings = models.JSONField(
        default=list, blank=True, help_text="[{row, column, reason}]: the cells left out."
    )
    failure = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="importjob_tenant_idx")]

    def __str__(self) -> str:
        return f"Import of {self.filename}"


class BulkOperation(TenantOwned):
    """A change applied to many contacts in batches, each atomic; resumable via ``last_id``."""

    class Action(models.TextChoices):
        ADD_TO_LIST = "add_to_list", "Add to list"
        MOVE_TO_LIST = "move_to_list", "Move between lists"
        REMOVE_FROM_LIST = "remove_from_list", "Remove from list"
        LABEL = "label", "Label"
        SET_ATTRIBUTE = "set_attribute", "Set an attribute"
        DELETE = "delete", "Delete"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    params = models.JSONField(default=dict, blank=True)
    contact_ids = models.JSONField(
        null=True,
        blank=True,
        help_text="The selection, sorted ids frozen at start (a filter's matches at that moment).",
    )
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(
        default=0, help_text="Contacts the action could not be applied to (see errors)."
    )
    errors = models.JSONField(
        default=list, blank=True, help_text="[{contact_id, reason}] of the first failures."
    )
    last_id = models.BigIntegerField(default=0, help_text="Contacts up to this id are done.")
    failure = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)
    started_at = models.DateTimeField(null=True, blank=True)
    progressed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the last batch committed (finds stuck operations)."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="bulkop_tenant_idx"),
            models.Index(
                fields=["status"],
                condition=Q(status__in=["pending", "running"]),
                name="bulkop_unfinished_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.get_status_display()})"
