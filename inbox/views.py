"""The browser inbox: the conversation list, a conversation, the composer and the actions.

One page template (``inbox/inbox.html``) declares the swappable pieces as partials; htmx
requests get ``inbox/inbox.html#<piece>``, everything else the whole page (or, after a POST, a
redirect), so every link and form also works without JavaScript. Views parse, call one action
or query, and render; they never look rows up outside the tenant.

Pieces and their stable ids (realtime pushes reuse them for out-of-band swaps):

- ``list-pane`` (``#list-pane``): tabs, filters and ``conversation-results``
  (``#conversation-results``), whose rows are ``conversation-row`` (``#conv-{id}``) and pages
  ``conversation-page`` (rows + the "load more" item);
- ``detail`` (``#detail``): ``conversation-header`` (``#conversation-header``), ``thread``
  (``#thread``) of ``message`` (``#msg-{id}``, its ticks ``#msg-{id}-status``),
  ``composer`` (``#composer``, errors in ``#composer-error``, its SMS counter ``sms-counter``
  in ``#sms-counter``) and ``contact-panel``
  (``#contact-panel``).
"""

import math
import re
from collections.abc import Callable
from datetime import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    QueryDict,
)
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect, HttpResponseLocation, reswap, retarget

from inbox import hooks
from inbox.actions.assignment import do_set_availability
from inbox.actions.conversations import do_delete_conversation, do_update_conversation
from inbox.actions.email_messages import do_allow_remote_images
from inbox.actions.labels import do_label_conversation, do_unlabel_conversation
from inbox.actions.macros import do_run_macro
from inbox.actions.read_state import do_mark_read, do_mark_unread, do_set_pinned
from inbox.actions.send import do_send_message
from inbox.actions.uploads import (
    attach_stored,
    check_uploads,
    discard_uploads,
    path_for_link,
    public_media_url,
    store_uploads,
)
from inbox.canned import filled_for_contact
from inbox.compose import chosen_template
from inbox.models import Attachment, Conversation, Inbox, Message, Team
from inbox.queries import (
    STATUS_CHOICES,
    VIEWS,
    ListFilters,
    attach_search_highlights,
    contact_panel,
    conversation_list_for_agent,
    conversations_for_page,
    inboxes_of_request,
    labels_of_request,
    labels_prefetch,
    message_for_thread,
    parse_filters,
    rows_for_agent,
    thread_messages,
)
from inbox.rendering import (
    composer_counter,
    conversation_url,
    header_context,
    permissions_for,
    render_piece,
    snooze_default,
    starts_new_day,
)
from inbox.search import canned_responses_matching
from inbox.selectors import macros_for_member
from inbox.templatetags.inbox_ui import EmailView, media_kind
from omnichannel.actions import ACTION_ERROR_STATUS, ActionError
from omnichannel.channels import Channel
from omnichannel.files import serve_file
from omnichannel.htmx import wants_piece
from omnichannel.models import Label, Membership
from omnichannel.pagination import InvalidCursor
from omnichannel.tenancy import MissingPermission, get_in_tenant, require_permission

# Sent by static/inbox/inbox.js when the conversation's row is on the page, so that
# responses update it out of band only then (htmx logs an error for a missing OOB target).
ROW_HEADER = "X-Inbox-Row"


# --- rendering ----------------------------------------------------------------------------------


def _render(
    request: HttpRequest, piece: str | None, context: dict, *, status: int = 200, extra: str = ""
) -> HttpResponse:
    return HttpResponse(render_piece(request, piece, context) + extra, status=status)


def _list_filters(request: HttpRequest) -> ListFilters:
    """The list's filters: from the query string, or (after a POST) from the ``list`` field."""
    if request.method == "POST":
        return parse_filters(QueryDict(request.POST.get("list", "")))
    return parse_filters(request.GET)


def _list_context(request: HttpRequest, filters: ListFilters, *, cursor: str | None = None) -> dict:
    tenant = request.tenant
    pinned, page = conversation_list_for_agent(tenant, request.user, filters=filters, cursor=cursor)
    attach_search_highlights(tenant, pinned + page.items, filters.q)
    return {
        "filters": filters,
        "list_query": filters.query(),
        "pinned": pinned,
        "page": page,
        "cursor": cursor,
        "views": [
            {"key": key, "label": label, "query": filters.query(view=key)}
            for key, label in VIEWS.items()
        ],
        "statuses": STATUS_CHOICES,
        "priorities": Conversation.Priority.choices,
        "channels": Channel.choices,
        # Called by the template only when it renders the filter form.
        "inboxes": lambda: inboxes_of_request(request),
        "labels": lambda: labels_of_request(request),
        "can_start_conversation": "conversations.reply" in request.membership.role.codenames(),
    }


def _conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    return get_in_tenant(
        conversations_for_page(request.tenant, request.user), request.tenant, pk=conversation_id
    )


def _detail_context(
    request: HttpRequest, conversation: Conversation, filters: ListFilters, *, before=None
) -> dict:
    return {
        **header_context(request, conversation, filters),
        "thread": thread_messages(conversation, before=before),
        **contact_panel(conversation),
        # Sections other apps add to the contact panel (inbox.hooks.conversation_panels).
        "conversation_panels": hooks.panels_for_conversation(request, conversation),
    }


def _row_oob(request: HttpRequest, conversation: Conversation, filters: ListFilters) -> str:
    """The conversation's list row, swapped out of band, when the page shows it."""
    if request.headers.get(ROW_HEADER) != "1":
        return ""
    row = (
        rows_for_agent(request.tenant, request.user)
        .prefetch_related(labels_prefetch())
        .filter(pk=conversation.pk)
        .first()
    )
    if row is None or not filters.shows_status(row.status):
        # Closed or snoozed out of the list: the page's socket takes the row out
        # (inbox/realtime.py); a row swapped in here could land after that and find no target.
        return ""
    context = {"row": row, "oob": True, "list_query": filters.query(), "current_id": row.pk}
    return render_piece(request, "conversation-row", context)


# --- the list -----------------------------------------------------------------------------------


@require_GET
@require_permission("conversations.view")
def inbox(request: HttpRequest) -> HttpResponse:
    filters = _list_filters(request)
    cursor = request.GET.get("cursor") or None
    try:
        context = _list_context(request, filters, cursor=cursor)
    except InvalidCursor as exc:
        return HttpResponseBadRequest(str(exc))
    if wants_piece(request):
        if cursor:
            return _render(request, "conversation-page", context)
        if request.htmx.target == "conversation-results":
            # The tabs keep the new filters (out of band); the search box keeps its focus.
            tabs = render_piece(request, "view-tabs", {**context, "oob": True})
            return _render(request, "conversation-results", context, extra=tabs)
        return _render(request, "list-pane", context)
    return _render(request, None, {**context, "section": "inbox", "pane": "list"})


# --- a conversation -----------------------------------------------------------------------------


@require_GET
@require_permission("conversations.view")
def conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    filters = _list_filters(request)
    conv = _conversation(request, conversation_id)
    before = request.GET.get("before") or None
    try:
        if before and wants_piece(request):
            thread = thread_messages(conv, before=before)
            context = {
                "thread": thread,
                "conversation": conv,
                "list_query": filters.query(),
                **permissions_for(request),
            }
            return _render(request, "thread-earlier", context)
        if not conv.is_read:  # opening it again changes nothing (no writes, no events)
            do_mark_read(conv, request.user)
        context = _detail_context(request, conv, filters, before=before)
        if wants_piece(request):
            return _render(request, "detail", context, extra=_row_oob(request, conv, filters))
        context.update(_list_context(request, filters))
    except InvalidCursor as exc:
        return HttpResponseBadRequest(str(exc))
    return _render(
        request,
        None,
        {**context, "section": "inbox", "pane": "detail", "current_id": conv.pk},
    )


def _friendly_error(exc: ActionError, conversation: Conversation) -> str:
    """What the agent reads next to the composer: what happened and what to do."""
    inbox = conversation.inbox
    if exc.code == "opted_out" and inbox.kind == Channel.EMAIL:
        return exc.message
    if exc.code == "opted_out":
        return (
            f"This contact opted out of {inbox.get_kind_display()} from this number "
            f"({inbox.address}; they sent STOP). They must send START to receive messages again."
        )
    if exc.code == "outside_window":
        return (
            f"{exc.message} The contact can write at any time; to write first, "
            "use an approved template."
        )
    if exc.code == "rate_limited" and exc.retry_after:
        minutes = max(1, math.ceil(exc.retry_after / 60))
        unit = "minute" if minutes == 1 else "minutes"
        return (
            "This contact has been sent as many messages as allowed for now; "
            f"try again in {minutes} {unit}."
        )
    return exc.message


def _error_response(
    request: HttpRequest,
    exc: ActionError,
    conversation: Conversation,
    *,
    region: str,
    filters: ListFilters,
    body: str = "",
    mode: str = "reply",
) -> HttpResponse:
    """The error in words, in ``region`` (htmx) or on the whole page, with the status that fits
    the error's code (and Retry-After when rate limited)."""
    status = ACTION_ERROR_STATUS.get(exc.code, 400)
    text = _friendly_error(exc, conversation)
    if wants_piece(request):
        response = _render(request, "error", {"error": text, "code": exc.code}, status=status)
        retarget(response, f"#{region}")
        reswap(response, "innerHTML")
    else:
        context = _detail_context(request, conversation, filters)
        context.update(_list_context(request, filters))
        context.update(
            {
                "section": "inbox",
                "pane": "detail",
                "current_id": conversation.pk,
                "draft": body,
                "mode": mode,
                "sms_counter": composer_counter(conversation, body, mode=mode),
                f"{region.replace('-', '_')}": text,
            }
        )
        response = _render(request, None, context, status=status)
    if exc.retry_after:
        response["Retry-After"] = str(exc.retry_after)
    return response


def _message_response(
    request: HttpRequest, conversation: Conversation, message: Message, filters: ListFilters
) -> HttpResponse:
    """The new message appended to the thread (htmx), or back to the conversation."""
    if not wants_piece(request):
        return redirect(f"{conversation_url(conversation, filters)}#msg-{message.pk}")
    message = message_for_thread(conversation, message.pk)
    new_day = starts_new_day(request, message)
    context = {
        "message": message,
        "new_day": new_day,
        "conversation": conversation,
        "list_query": filters.query(),
        **permissions_for(request),
    }
    extra = render_piece(request, "composer-error-clear", {})
    return _render(
        request, "message", context, extra=extra + _row_oob(request, conversation, filters)
    )


@require_POST
@require_permission("conversations.view")
def send(request: HttpRequest, conversation_id: int) -> HttpResponse:
    filters = _list_filters(request)
    conv = _conversation(request, conversation_id)
    # Whether the role may reply (or write a note) is do_send_message's check, as for the API.
    mode = "note" if request.POST.get("mode") == "note" else "reply"
    # Browsers submit a textarea's line breaks as CRLF; messages keep plain newlines.
    body = request.POST.get("body", "").replace("\r\n", "\n")
    via = request.POST.get("via", "")
    files = request.FILES.getlist("files")
    other = None
    if mode == "reply" and via and via != str(conv.inbox_id):
        # Another channel the contact has: the reply starts (or continues) the contact's
        # conversation in that inbox, and the agent follows it there.
        other = get_in_tenant(Inbox, request.tenant, pk=via)
    stored = []
    try:
        if files and mode == "note":
            raise ActionError("Notes are text only; switch to Reply to send files.")
        check_uploads(files)
        template = None
        template_key = request.POST.get("template", "") if mode == "reply" else ""
        if template_key and other is None:
            # The window is closed: the approved template picked in the composer.
            body, template = chosen_template(
                request.tenant,
                conv.inbox,
                conv.contact,
                template_key,
                body=body,
                has_files=bool(files),
            )
        stored = store_uploads(request.tenant.pk, files)
        media_urls = [public_media_url(path) for path, _ in stored]
        if other is not None:
            to = conv.contact.email if other.kind == Channel.EMAIL else conv.contact.phone
            where = {"inbox": other, "to": to}
        else:
            where = {"conversation": conv, "is_private": mode == "note"}
            if mode == "note":
                where["mentions"] = _mention_ids(request.POST.get("mentions", ""))
            if mode == "reply" and request.POST.get("force_fallback"):
                where["force_fallback"] = True
            if mode == "reply" and conv.inbox.kind == Channel.EMAIL:
                where["cc"] = _addresses(request.POST.get("cc", ""))
                where["bcc"] = _addresses(request.POST.get("bcc", ""))
        with transaction.atomic():
            message = do_send_message(
                request.tenant,
                body=body,
                media_urls=media_urls,
                template=template,
                acting_user=request.user,
                **where,
            )
            attach_stored(message, stored)
    except PermissionDenied:
        discard_uploads(stored)
        raise
    except ActionError as exc:
        discard_uploads(stored)
        return _error_response(
            request, exc, conv, region="composer-error", filters=filters, body=body, mode=mode
        )
    if other is not None:
        url = conversation_url(message.conversation, filters)
        if wants_piece(request):
            return HttpResponseLocation(url, target="#detail")
        return redirect(f"{url}#msg-{message.pk}")
    do_mark_read(conv, request.user)
    return _message_response(request, conv, message, filters)


@require_POST
@require_permission("conversations.reply")
def retry(request: HttpRequest, conversation_id: int, message_id: int) -> HttpResponse:
    """Send a failed message again (a new message with the same content)."""
    filters = _list_filters(request)
    conv = _conversation(request, conversation_id)
    failed = (
        Message.objects.filter(
            tenant=request.tenant,
            conversation=conv,
            pk=message_id,
            direction=Message.Direction.OUTBOUND,
            is_private=False,
            status__in=(Message.Status.FAILED, Message.Status.UNDELIVERED),
        )
        .defer("search_vector")
        .first()
    )
    if failed is None:
        raise Http404("No failed message to retry.")
    metadata = failed.metadata or {}
    email = {}
    if failed.email_message_id:
        email = {
            "subject": failed.subject,
            "body_html": failed.body_html,
            "cc": metadata.get("cc", ()),
            "bcc": metadata.get("bcc", ()),
            "headers": metadata.get("headers"),
        }
    try:
        message = do_send_message(
            request.tenant,
            conversation=conv,
            body=failed.body,
            media_urls=metadata.get("media_urls", ()),
            template=metadata.get("template"),
            acting_user=request.user,
            **email,
        )
    except ActionError as exc:
        return _error_response(request, exc, conv, region="composer-error", filters=filters)
    return _message_response(request, conv, message, filters)


def _mention_ids(raw: str) -> list[str]:
    """The composer's mentions: the user ids the "@" suggestions picked (checked by the
    action)."""
    return [part for part in raw.replace(" ", "").split(",") if part][:50]


def _addresses(raw: str) -> list[str]:
    """CC/BCC as typed: addresses separated by commas, semicolons or spaces."""
    return [part for part in re.split(r"[,;\s]+", raw or "") if part]


@require_POST
@require_permission("conversations.view")
def allow_images(request: HttpRequest, conversation_id: int, message_id: int) -> HttpResponse:
    """Show one email's remote images (they are blocked until an agent asks)."""
    filters = _list_filters(request)
    conv = _conversation(request, conversation_id)
    message = get_in_tenant(
        Message.objects.filter(conversation=conv).defer("search_vector"),
        request.tenant,
        pk=message_id,
    )
    do_allow_remote_images(message, acting_user=request.user)
    if not wants_piece(request):
        return redirect(f"{conversation_url(conv, filters)}#msg-{message.pk}")
    context = {
        "message": message_for_thread(conv, message.pk),
        "conversation": conv,
        "list_query": filters.query(),
        **permissions_for(request),
    }
    return _render(request, "message", context)


@require_safe
@require_permission("conversations.view")
def email_css(request: HttpRequest, conversation_id: int, message_id: int) -> HttpResponse:
    """The formatting of one email's HTML: its inline styles, checked and scoped to the
    elements the message is shown in (``inbox.email_html``). The page's CSP refuses style
    attributes and inline styles without its nonce; a same-origin stylesheet it accepts, on
    every path a message reaches the page (loads, htmx swaps, pushes, history restores)."""
    conv = _conversation(request, conversation_id)
    message = get_in_tenant(
        Message.objects.filter(conversation=conv).defer("search_vector"),
        request.tenant,
        pk=message_id,
    )
    if not message.body_html:
        raise Http404("The message has no HTML.")
    view = EmailView(message)
    response = HttpResponse(view.css, content_type="text/css; charset=utf-8")
    # The URL of the page names the version: that one never changes, so browsers keep it.
    if view.css_version and request.GET.get("v") == view.css_version:
        response["Cache-Control"] = "private, max-age=31536000, immutable"
    else:
        response["Cache-Control"] = "private, no-cache"
    return response


# --- conversation actions -----------------------------------------------------------------------


def _after_change(
    request: HttpRequest,
    conversation_id: int,
    change: Callable[[Conversation], None],
    *,
    every_message: bool = False,
    notice: str = "",
) -> HttpResponse:
    """Run ``change``; answer the updated header, the system lines it wrote (appended to the
    thread out of band; with ``every_message``, its replies and notes too) and the list row,
    and ``notice`` under the header; or the error in words; or (no JS) a redirect."""
    filters = _list_filters(request)
    conv = _conversation(request, conversation_id)
    started = timezone.now()
    try:
        change(conv)
    except ActionError as exc:
        return _error_response(request, exc, conv, region="conversation-error", filters=filters)
    if not wants_piece(request):
        if notice:
            messages.success(request, notice)
        return redirect(conversation_url(conv, filters))
    conv = _conversation(request, conversation_id)
    written = Message.objects.filter(conversation=conv, created_at__gte=started)
    if not every_message:
        written = written.filter(sender_type=Message.SenderType.SYSTEM)
    lines = list(
        written.select_related("author")
        .prefetch_related("attachments")
        .defer("search_vector")
        .order_by("created_at", "id")
    )
    context = {**header_context(request, conv, filters), "system_lines": lines}
    extra = render_piece(request, "system-lines-oob", context) if lines else ""
    if notice:
        extra += render_piece(request, "conversation-notice", {"notice": notice})
    extra += _row_oob(request, conv, filters)
    return _render(request, "conversation-header", context, extra=extra)


@require_POST
@require_permission("conversations.assign")
def assign(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """``assignee``: ``me``, ``none`` or a member's user id; ``team``: ``none`` or a team id.
    Only what is sent changes. Giving a conversation to someone else also needs
    ``conversations.assign_others``: the action checks it (as for the API)."""
    changes: dict = {}
    value = request.POST.get("assignee")
    if value == "me":
        changes["assignee"] = request.user
    elif value == "none":
        changes["assignee"] = None
    elif value is not None:
        if not value.isdigit():
            return HttpResponseBadRequest("assignee must be “me”, “none” or a member's id.")
        member = Membership.objects.filter(tenant=request.tenant, user_id=value).first()
        if member is None:
            raise Http404("No such member.")
        changes["assignee"] = member.user
    team = request.POST.get("team")
    if team == "none":
        changes["team"] = None
    elif team is not None:
        changes["team"] = get_in_tenant(Team, request.tenant, pk=team)
    if not changes:
        return HttpResponseBadRequest("Choose an assignee or a team.")

    def change(conv: Conversation) -> None:
        do_update_conversation(conv, acting_user=request.user, **changes)

    return _after_change(request, conversation_id, change)


@require_POST
@require_permission("conversations.manage")
def set_status(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Close, reopen (``open``), mark pending or archive."""
    status = request.POST.get("status", "")
    if status not in Conversation.Status.values or status == Conversation.Status.SNOOZED:
        return HttpResponseBadRequest("Choose open, pending, closed or archived.")

    def change(conv: Conversation) -> None:
        do_update_conversation(conv, status=status, acting_user=request.user)

    return _after_change(request, conversation_id, change)


def _snooze_until(request: HttpRequest) -> datetime:
    if request.POST.get("until") == "tomorrow":
        return snooze_default(request)
    raw = request.POST.get("until_at", "").strip()
    parsed = parse_datetime(raw) if raw else None
    if parsed is None:
        raise ActionError("Choose when the conversation should come back (a date and time).")
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=timezone.get_current_timezone())  # as the agent reads
    if parsed <= timezone.now():  # said here in words; the action's words name the API field
        raise ActionError("Choose a time in the future to snooze until.")
    return parsed


@require_POST
@require_permission("conversations.manage")
def snooze(request: HttpRequest, conversation_id: int) -> HttpResponse:
    def change(conv: Conversation) -> None:
        do_update_conversation(
            conv,
            status=Conversation.Status.SNOOZED,
            snoozed_until=_snooze_until(request),
            acting_user=request.user,
        )

    return _after_change(request, conversation_id, change)


@require_POST
@require_permission("conversations.manage")
def set_priority(request: HttpRequest, conversation_id: int) -> HttpResponse:
    try:
        priority = int(request.POST.get("priority", ""))
    except ValueError:
        return HttpResponseBadRequest("priority must be a number.")

    def change(conv: Conversation) -> None:
        do_update_conversation(conv, priority=priority, acting_user=request.user)

    return _after_change(request, conversation_id, change)


@require_POST
@require_permission("conversations.view")
def pin(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Pin (``pinned=1``) or unpin (``pinned=0``) for this agent only."""
    pinned = request.POST.get("pinned") == "1"
    return _after_change(
        request, conversation_id, lambda conv: do_set_pinned(conv, request.user, pinned=pinned)
    )


@require_POST
@require_permission("conversations.view")
def mark_unread(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Unread again for this agent; without JS, back to the list (opening it reads it)."""
    if not wants_piece(request):
        filters = _list_filters(request)
        do_mark_unread(_conversation(request, conversation_id), request.user)
        query = filters.query()
        return redirect(reverse("inbox:index") + (f"?{query}" if query else ""))
    return _after_change(request, conversation_id, lambda conv: do_mark_unread(conv, request.user))


# --- labels -------------------------------------------------------------------------------------


@require_POST
@require_permission("conversations.delete")
def delete_conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Delete the conversation after the agent ticked the confirmation; back to the list."""
    filters = _list_filters(request)
    conv = _conversation(request, conversation_id)
    if request.POST.get("confirm") != "yes":
        exc = ActionError("Tick “Yes, delete this conversation” to delete it.")
        return _error_response(request, exc, conv, region="conversation-error", filters=filters)
    try:
        do_delete_conversation(conv, acting_user=request.user)
    except ActionError as exc:
        return _error_response(request, exc, conv, region="conversation-error", filters=filters)
    messages.success(request, "The conversation was deleted.")
    query = filters.query()
    url = reverse("inbox:index") + (f"?{query}" if query else "")
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _label_from(request: HttpRequest, raw) -> Label:
    """The tenant's label ``raw`` (an id); 404 for a missing or another tenant's label."""
    return get_in_tenant(Label, request.tenant, pk=raw)


@require_POST
@require_permission("conversations.manage")
def label_add(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Put the tenant's label ``label`` (an id) on the conversation."""
    raw = request.POST.get("label", "")
    if not raw.isdigit():
        return HttpResponseBadRequest("Choose a label.")
    _conversation(request, conversation_id)  # 404 before the label is even looked up
    label = _label_from(request, raw)
    return _after_change(
        request,
        conversation_id,
        lambda conv: do_label_conversation(conv, label, acting_user=request.user),
    )


@require_POST
@require_permission("conversations.manage")
def label_remove(request: HttpRequest, conversation_id: int, label_id: int) -> HttpResponse:
    _conversation(request, conversation_id)
    label = _label_from(request, label_id)
    return _after_change(
        request,
        conversation_id,
        lambda conv: do_unlabel_conversation(conv, label, acting_user=request.user),
    )


# --- macros -------------------------------------------------------------------------------------


@require_POST
@require_permission("conversations.view")
def run_macro(request: HttpRequest, conversation_id: int, macro_id: int) -> HttpResponse:
    """Run one of the member's macros on the conversation; each step's permission is the
    macro's check (do_run_macro), as for the API."""
    _conversation(request, conversation_id)
    macro = get_in_tenant(
        macros_for_member(request.tenant, request.user), request.tenant, pk=macro_id
    )

    def change(conv: Conversation) -> None:
        try:
            do_run_macro(conv, macro, acting_user=request.user)
        except MissingPermission as exc:  # said next to the header, like the other refusals
            raise ActionError(str(exc), code="forbidden") from exc

    return _after_change(
        request,
        conversation_id,
        change,
        every_message=True,
        notice=f"Macro “{macro.name}” ran.",
    )


# --- the composer's SMS counter ----------------------------------------------------------------


@require_POST
@require_permission("conversations.view")
def sms_counter(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Under the composer: what the reply as typed costs by SMS, as the template editor says."""
    conv = _conversation(request, conversation_id)
    via = request.POST.get("via", "")
    other = None
    if via and via != str(conv.inbox_id):
        other = get_in_tenant(Inbox, request.tenant, pk=via)
    counter = composer_counter(
        conv,
        request.POST.get("body", ""),
        mode=request.POST.get("mode", "reply"),
        via=other,
        has_media=bool(request.POST.get("media")),
    )
    return _render(request, "sms-counter", {"conversation": conv, "sms_counter": counter})


# --- canned responses ---------------------------------------------------------------------------


@require_GET
@require_permission("conversations.view")
def canned_suggestions(request: HttpRequest) -> HttpResponse:
    """The composer's ``/shortcut`` suggestions: the tenant's canned responses matching ``q``,
    filled for the contact of ``conversation`` (one the agent may open) when it is given."""
    matches = canned_responses_matching(request.tenant, request.GET.get("q", ""))
    conversation_id = request.GET.get("conversation", "")
    contact = None
    if conversation_id:
        if not conversation_id.isdigit():
            raise Http404("No such conversation.")
        contact = _conversation(request, int(conversation_id)).contact
    suggestions = filled_for_contact(request.tenant, matches, contact)
    return _render(request, "canned-suggestions", {"suggestions": suggestions})


# --- attachments --------------------------------------------------------------------------------


@require_GET
@require_permission("conversations.view")
def attachment(request: HttpRequest, attachment_id: int) -> HttpResponse:
    """A stored attachment, to members of its tenant only. Images, audio and video show
    inline; anything else (SVG included: it can carry scripts) downloads."""
    found = get_in_tenant(Attachment, request.tenant, pk=attachment_id)
    if found.status != Attachment.Status.STORED or not found.file:
        raise Http404("The attachment is not stored.")
    return serve_file(
        found.file,
        content_type=found.content_type,
        filename=found.filename,
        inline=media_kind(found) != "file",
    )


# --- availability -------------------------------------------------------------------------------


@require_POST
@require_permission("conversations.view")
def set_availability(request: HttpRequest) -> HttpResponse:
    """The agent's own availability (auto-assignment skips busy and away agents)."""
    try:
        do_set_availability(request.membership, request.POST.get("availability", ""))
    except ActionError as exc:
        return HttpResponseBadRequest(exc.message)
    if request.htmx:
        return HttpResponse(status=204)
    next_url = request.POST.get("next") or reverse("inbox:index")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("inbox:index")
    return redirect(next_url)


# --- media links for providers ------------------------------------------------------------------


@require_safe  # Twilio checks the type with a HEAD before it GETs the file
def media_link(request: HttpRequest, token: str) -> HttpResponse:
    """An outbound attachment, for the provider that delivers it (a signed, expiring link;
    no login: Twilio fetches it)."""
    path = path_for_link(token)
    found = Attachment.objects.filter(file=path).first() if path else None
    if found is None:
        raise Http404("This link is not valid or has expired.")
    return serve_file(found.file, content_type=found.content_type or None)
