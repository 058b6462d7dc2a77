"""Settings → Channels → a bridged helpdesk inbox (Chatwoot) → its unmatched contacts: the
helpdesk contacts that matched no Centro contact, and a form to link each to one by hand."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from contacts.models import Contact
from contacts.phones import InvalidPhone
from contacts.services import find_contact_by_email, find_contact_by_phone
from inbox.actions.bridge import do_link_unmatched
from inbox.channel_views import _page
from inbox.models import Inbox, UnmatchedContact
from omnichannel.actions import ActionError
from omnichannel.tenancy import get_in_tenant, require_permission

LIST_LIMIT = 200


@require_GET
@require_permission("inboxes.view")
def unmatched_contacts(request: HttpRequest, pk: int) -> HttpResponse:
    inbox = get_in_tenant(Inbox, request.tenant, pk=pk)
    pending = (
        UnmatchedContact.objects.for_tenant(request.tenant)
        .filter(inbox=inbox, linked_at__isnull=True)
        .order_by("-last_seen_at", "-id")
    )
    rows = list(pending[: LIST_LIMIT + 1])
    return _page(
        request,
        "channels_unmatched.html",
        {
            "inbox": inbox,
            "unmatched": rows[:LIST_LIMIT],
            "more": len(rows) > LIST_LIMIT,
            "can_link": request.membership.has_permission("contacts.edit"),
            "creates_contacts": bool(inbox.option("create_contacts", False)),
        },
    )


def _contact_for(request: HttpRequest, text: str) -> Contact | None:
    """The tenant's contact named in the form: its id, a phone number or an email address."""
    text = text.strip()
    if not text:
        return None
    if text.isdigit() and len(text) < 12:
        found = Contact.objects.for_tenant(request.tenant).filter(pk=int(text)).first()
        if found is not None:
            return found
    if "@" in text:
        return find_contact_by_email(request.tenant, text)
    try:
        return find_contact_by_phone(request.tenant, text)
    except InvalidPhone:
        return None


@require_POST
@require_permission("contacts.edit")
def link_unmatched(request: HttpRequest, pk: int, unmatched_pk: int) -> HttpResponse:
    inbox = get_in_tenant(Inbox, request.tenant, pk=pk)
    unmatched = get_in_tenant(
        UnmatchedContact.objects.filter(inbox=inbox), request.tenant, pk=unmatched_pk
    )
    contact = _contact_for(request, request.POST.get("contact", ""))
    if contact is None:
        messages.error(
            request, "No contact has that id, phone number or email address in this workspace."
        )
        return redirect("settings:channel-unmatched", inbox.pk)
    try:
        do_link_unmatched(unmatched, contact, acting_user=request.user)
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Linked {unmatched.name or unmatched.external_id} to {contact}: their "
            "conversation mirrors from its next event.",
        )
    return redirect("settings:channel-unmatched", inbox.pk)
