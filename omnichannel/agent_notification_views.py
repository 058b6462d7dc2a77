"""The member's notification centre: the bell's panel, opening and reading notifications, their
preferences; and what a socket shows when one arrives (the bell updated live)."""

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from omnichannel import realtime
from omnichannel.actions import ActionError
from omnichannel.agent_notifications import (
    MEDIA,
    Media,
    digest_frequency,
    do_mark_all_notifications_read,
    do_mark_notification_read,
    do_set_notification_preferences,
    kinds,
    notification_list_for_user,
    preferences_for,
    unread_notification_count,
)
from omnichannel.events import EventType
from omnichannel.models import NotificationDigest

TEMPLATE = "omnichannel/agent_notifications.html"


def member_required(view: Callable) -> Callable:
    """Signed in with a tenant: notifications are the member's in the current tenant."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.membership is None:
            return redirect("no-tenant")
        return view(request, *args, **kwargs)

    return wrapper


def _list_context(tenant, user) -> dict:
    return {
        "agent_notifications": list(notification_list_for_user(tenant, user)),
        "agent_notifications_unread": unread_notification_count(tenant, user),
    }


@member_required
def notifications(request: HttpRequest) -> HttpResponse:
    """The latest notifications: the bell's panel (htmx) or a page of its own."""
    context = _list_context(request.tenant, request.user)
    if request.htmx:
        return render(request, f"{TEMPLATE}#list", context)
    return render(request, TEMPLATE, context)


@member_required
@require_POST
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark the notification read and go where it points."""
    try:
        notification = do_mark_notification_read(request.tenant, request.user, pk)
    except ActionError as exc:
        raise Http404(str(exc)) from exc
    url = notification.url
    if not url or not url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}):
        url = "agent-notifications"
    return redirect(url)


@member_required
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    do_mark_all_notifications_read(request.tenant, request.user)
    if request.htmx:
        context = _list_context(request.tenant, request.user)
        return render(request, f"{TEMPLATE}#list-with-badge", context)
    return redirect("agent-notifications")


@member_required
def preferences(request: HttpRequest) -> HttpResponse:
    """Which notifications the member gets, and how (their own, across their tenants)."""
    if request.method == "POST":
        choices = {
            kind.key: Media(*(request.POST.get(f"{kind.key}.{medium}") == "on" for medium in MEDIA))
            for kind in kinds()
        }
        try:
            do_set_notification_preferences(
                request.user, choices=choices, digest=request.POST.get("digest", "")
            )
        except ActionError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Notification preferences saved.")
            return redirect("agent-notification-preferences")
    return render(
        request,
        "omnichannel/agent_notification_preferences.html",
        {
            "rows": preferences_for(request.user),
            "digest": digest_frequency(request.user),
            "digest_choices": NotificationDigest.Frequency.choices,
        },
    )


@realtime.renders(EventType.AGENT_NOTIFICATION_CREATED, EventType.AGENT_NOTIFICATIONS_READ)
def bell_fragments(socket: realtime.SocketView, payload: dict) -> str:
    """The bell's count and list for this socket's member; for a new notification also the
    announcement the page turns into a browser notification while hidden."""
    context = _list_context(socket.tenant, socket.user)
    if "id" in payload:
        context["announce"] = payload
    return render_to_string(f"{TEMPLATE}#push", context, request=socket.request)
