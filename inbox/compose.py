"""Writing first: the approved-template picker where WhatsApp's window is closed, and the
choices of the "new conversation" dialog (which contact, which of the tenant's inboxes reach
them, what may be written there)."""

from dataclasses import dataclass, field

from django.db.models import Max

from contacts.models import Consent, Contact
from contacts.services import contacts_matching
from inbox.actions.send import DIRECT_CHANNELS, SessionWindow, session_window
from inbox.models import Conversation, Inbox
from inbox.providers import get_provider
from inbox.template_sources import (
    ApprovedTemplate,
    TemplateSource,
    approved_template,
    approved_templates,
    where_to_add,
)
from omnichannel.actions import ActionError
from omnichannel.channels import Channel
from omnichannel.models import Tenant

CONTACT_CHOICES = 8


@dataclass(frozen=True)
class TemplatePicker:
    """What the composer shows instead of free text while ``window`` is closed: the approved
    templates filled for ``contact``, or (none yet) where this member may add one."""

    contact: Contact
    window: SessionWindow
    templates: list[ApprovedTemplate]
    # No template yet: where this member can add one, and where others can.
    add_here: list[TemplateSource] = field(default_factory=list)
    add_elsewhere: list[TemplateSource] = field(default_factory=list)


def template_picker(
    tenant: Tenant,
    inbox: Inbox,
    contact: Contact,
    codenames: frozenset[str],
    conversation: Conversation | None = None,
) -> TemplatePicker | None:
    """The picker for writing to ``contact`` through ``inbox``; None where free text goes
    (a channel without a window, or the window open)."""
    window = session_window(inbox, contact, conversation)
    if window is None or window.is_open:
        return None
    templates = approved_templates(tenant, inbox.kind, contact)
    here, elsewhere = ([], []) if templates else where_to_add(codenames)
    return TemplatePicker(
        contact=contact, window=window, templates=templates, add_here=here, add_elsewhere=elsewhere
    )


def chosen_template(
    tenant: Tenant, inbox: Inbox, contact: Contact, key: str, *, body: str, has_files: bool
) -> tuple[str, dict]:
    """``(body, template)`` for ``do_send_message`` when the agent picked the template ``key``:
    the text the contact reads (stored, so the thread shows it) and the Content SID with the
    contact's values."""
    chosen = approved_template(tenant, inbox.kind, contact, key)
    if body.strip():
        raise ActionError(
            "An approved template goes out as it was approved: clear the text box to send "
            "it, or choose no template to write your own text."
        )
    if has_files:
        raise ActionError("An approved template goes out without attachments; remove them.")
    return chosen.text, chosen.as_send_template()


# --- the "new conversation" dialog ----------------------------------------------------------------


def contact_choices(tenant: Tenant, q: str) -> list[Contact]:
    """Contacts matching what was typed (name, phone or email), as the contacts list finds them."""
    if not q.strip():
        return []
    return list(
        contacts_matching(tenant, q)
        .filter(erased_at__isnull=True)
        .order_by("name", "id")[:CONTACT_CHOICES]
    )


@dataclass(frozen=True)
class InboxChoice:
    """An inbox that reaches the contact, and what the agent should know before writing."""

    inbox: Inbox
    opted_out: bool
    template_only: bool


def inbox_choices(tenant: Tenant, contact: Contact) -> list[InboxChoice]:
    """The tenant's enabled inboxes that can write to ``contact``: by phone (SMS, WhatsApp,
    iMessage) when they have one, by email when they have an address."""
    kinds = []
    if contact.phone:
        kinds += [kind for kind in DIRECT_CHANNELS if kind != Channel.EMAIL]
    if contact.email:
        kinds.append(Channel.EMAIL)
    if not kinds:
        return []
    inboxes = Inbox.objects.for_tenant(tenant).filter(is_active=True, kind__in=kinds)
    # Three queries whatever the number of inboxes: read as do_send_message reads them.
    opted_out = set(
        Consent.objects.filter(
            tenant=tenant, contact=contact, status=Consent.Status.OPTED_OUT
        ).values_list("channel", "sender")
    )
    last_inbound = dict(
        Conversation.objects.filter(tenant=tenant, contact=contact)
        .values("inbox_id")
        .annotate(latest=Max("last_inbound_at"))
        .values_list("inbox_id", "latest")
    )
    choices = []
    for inbox in inboxes.order_by("kind", "name", "id"):
        hours = get_provider(inbox).capabilities.session_window_hours
        window = SessionWindow(hours, last_inbound.get(inbox.pk)) if hours else None
        choices.append(
            InboxChoice(
                inbox=inbox,
                opted_out=(inbox.kind, inbox.address) in opted_out,
                template_only=window is not None and not window.is_open,
            )
        )
    return choices
