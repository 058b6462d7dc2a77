from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Func, Q, TextField
from django.db.models.functions import Lower
from django.utils.timezone import now

from omnichannel.tenancy import TenantOwned


class Unaccented(Func):
    """``centro_unaccent(text)``: ``unaccent()`` declared IMMUTABLE (contacts migration 0002) so
    that it can be indexed. "García" and "Garcia" fold to the same text."""

    function = "centro_unaccent"
    output_field = TextField()


def folded(expression) -> Lower:
    """Lower-case, accents removed: how contact names are indexed and searched."""
    return Lower(Unaccented(expression))


class Contact(TenantOwned):
    """A person the tenant talks to. The Contacts CRM grows this; the inbox needs the basics."""

    name = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +14155550111")
    email = models.EmailField(blank=True)
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
            # Substring search (inbox.search): trigram GIN indexes cannot lead with the tenant;
            # the tenant filter applies to the few rows they return.
            GinIndex(OpClass(folded("name"), name="gin_trgm_ops"), name="contact_name_trgm_idx"),
            GinIndex(OpClass(Lower("email"), name="gin_trgm_ops"), name="contact_email_trgm_idx"),
            GinIndex(OpClass("phone", name="gin_trgm_ops"), name="contact_phone_trgm_idx"),
        ]

    def __str__(self) -> str:
        return self.name or self.phone or self.email or f"Contact {self.pk}"

    @property
    def display_name(self) -> str:
        return str(self)


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
