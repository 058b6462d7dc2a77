"""Starting a conversation from the inbox: pick a contact, one of the inboxes that reach them,
write (on WhatsApp with the window closed: pick an approved template) and send.

One view, ``inbox:new-conversation``: the whole page without JavaScript (each step a submit),
and inside the inbox's dialog its pieces of ``inbox/compose.html``: ``new-conversation`` (the
form, ``#new-conversation``, rendered again for each choice) and ``new-contacts``
(``#new-contacts``, the search's matches as one types).
Sending continues the contact's active conversation in that inbox or starts one, and opens it.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseLocation, reswap, retarget

from contacts.models import Contact
from inbox.actions.send import do_send_message
from inbox.compose import chosen_template, contact_choices, inbox_choices, template_picker
from inbox.models import Inbox
from inbox.queries import parse_filters
from inbox.rendering import conversation_url
from omnichannel.actions import ACTION_ERROR_STATUS, ActionError
from omnichannel.channels import Channel
from omnichannel.htmx import wants_piece
from omnichannel.tenancy import get_in_tenant, require_permission

TEMPLATE = "inbox/compose.html"
# The piece each htmx target gets: the search's matches, or the whole form.
PIECES = {
    "new-contacts": "new-contacts",
    "new-conversation": "new-conversation",
    "new-conversation-dialog": "new-conversation",
}


def _picked(request: HttpRequest, data) -> tuple[Contact | None, Inbox | None, list]:
    """The contact and inbox chosen so far (another tenant's id: 404), and the inboxes that
    reach the contact; an inbox that does not reach them is not kept."""
    contact = inbox = None
    choices = []
    raw_contact = data.get("contact", "")
    if raw_contact:
        contact = get_in_tenant(
            Contact.objects.filter(erased_at__isnull=True), request.tenant, pk=raw_contact
        )
        choices = inbox_choices(request.tenant, contact)
    raw_inbox = data.get("inbox", "")
    if raw_inbox:
        inbox = get_in_tenant(Inbox, request.tenant, pk=raw_inbox)
        if all(choice.inbox.pk != inbox.pk for choice in choices):
            inbox = None  # disabled since, or not reaching this contact: chosen again
    elif len(choices) == 1:
        inbox = choices[0].inbox
    return contact, inbox, choices


def _context(request: HttpRequest, data, *, error: str = "") -> dict:
    contact, inbox, choices = _picked(request, data)
    q = data.get("q", "").strip()
    picker = None
    if contact is not None and inbox is not None:
        picker = template_picker(
            request.tenant, inbox, contact, request.membership.role.codenames()
        )
    return {
        "section": "inbox",
        "q": q,
        # The search lists matches until a contact is picked ("Change" searches again).
        "contacts": contact_choices(request.tenant, q) if contact is None else [],
        "contact": contact,
        "inbox_choices": choices,
        "inbox": inbox,
        "picker": picker,
        "is_email": inbox is not None and inbox.kind == Channel.EMAIL,
        "body": data.get("body", ""),
        "subject": data.get("subject", ""),
        "error": error,
        "dialog": data.get("dialog") == "1",
    }


def _render(
    request: HttpRequest, context: dict, *, status: int = 200, piece: str | None = None
) -> HttpResponse:
    """The page, or (htmx) the piece its request targets."""
    if piece is None and wants_piece(request):
        piece = PIECES.get(request.htmx.target or "")
        context["dialog"] = context["dialog"] or request.htmx.target == "new-conversation-dialog"
    name = f"{TEMPLATE}#{piece}" if piece else TEMPLATE
    return render(request, name, context, status=status)


@require_http_methods(["GET", "POST"])
@require_permission("conversations.reply")  # who may reply may write first
def new_conversation(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _render(request, _context(request, request.GET))
    data = request.POST
    contact, inbox, _ = _picked(request, data)
    body = data.get("body", "").replace("\r\n", "\n")
    try:
        if contact is None:
            raise ActionError("Choose who to write to.")
        if inbox is None:
            raise ActionError(f"Choose how to write to {contact}.")
        template = None
        if data.get("template"):
            body, template = chosen_template(
                request.tenant, inbox, contact, data["template"], body=body, has_files=False
            )
        message = do_send_message(
            request.tenant,
            inbox=inbox,
            contact=contact,
            body=body,
            subject=data.get("subject", "") if inbox.kind == Channel.EMAIL else "",
            template=template,
            acting_user=request.user,
        )
    except ActionError as exc:
        status = ACTION_ERROR_STATUS.get(exc.code, 400)
        context = _context(request, data, error=_in_words(exc, contact))
        if not wants_piece(request):
            return _render(request, context, status=status)
        # Refused in the dialog: the form again, with the reason and what was written.
        context["dialog"] = True
        response = _render(request, context, status=status, piece="new-conversation")
        retarget(response, "#new-conversation")
        reswap(response, "outerHTML")
        return response
    url = conversation_url(message.conversation, parse_filters({}))
    if wants_piece(request):
        return HttpResponseLocation(url, target="#detail")
    return redirect(f"{url}#msg-{message.pk}")


def _in_words(exc: ActionError, contact: Contact | None) -> str:
    """The refusal, with what to do about it where the action's words leave it open."""
    if exc.code == "outside_window" and contact is not None:
        return (
            f"{exc.message} Choose one of the approved templates, or wait for {contact} to write."
        )
    return exc.message
