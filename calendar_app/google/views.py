"""Settings → Google Calendar: connect a Google account (the OAuth web flow), choose which of
its calendars syncs with which resource and what a change made in Google does, disconnect.
A revoked connection is shown with a reconnect button. Members who may book see their own
connections (and map to their own resource); ``calendar.manage`` sees and maps everyone's.
"""

import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_GET, require_POST

from calendar_app.google.actions import (
    do_connect_google,
    do_disconnect_google,
    do_map_google_calendar,
    do_set_google_rule,
    may_manage,
    resources_for,
)
from calendar_app.google.client import authorization_url, is_enabled, new_pkce
from calendar_app.google.models import GoogleCalendar, GoogleConnection, GoogleEvent
from calendar_app.models import Resource
from omnichannel.actions import ActionError
from omnichannel.settings_views import refused_status, settings_nav
from omnichannel.tenancy import get_in_tenant, require_permission

SESSION_KEY = "google_calendar_oauth"
PERMISSION = "calendar.book"


def redirect_uri() -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{reverse('calendar_google:callback')}"


def _connections(request: HttpRequest):
    connections = GoogleConnection.objects.for_tenant(request.tenant).select_related("user")
    if not may_manage(request.membership):
        connections = connections.filter(user=request.user)
    calendars = GoogleCalendar.objects.select_related("resource").order_by(
        "-is_primary", "summary", "id"
    )
    return connections.prefetch_related(Prefetch("calendars", queryset=calendars))


def _page(request: HttpRequest, status: int = 200) -> HttpResponse:
    flagged = (
        GoogleEvent.objects.for_tenant(request.tenant)
        .exclude(flag="")
        .filter(calendar__connection__in=_connections(request).values("pk"))
        .select_related("appointment", "calendar")
        .order_by("-updated_at")[:20]
    )
    context = {
        # Part of the Calendar section (its page links here).
        "settings_nav": settings_nav(request, "calendar"),
        "tenant": request.tenant,
        "enabled": is_enabled(),
        # `make run` without a real OAuth client: the demo's local simulator, said on the page.
        "simulator": urlsplit(settings.GOOGLE_OAUTH_AUTH_URL).hostname
        in {"127.0.0.1", "localhost"},
        "connections": list(_connections(request)),
        "resources": list(resources_for(request.membership).order_by("name", "id")),
        "rules": GoogleConnection.OnGoogleChange.choices,
        "flagged": list(flagged),
    }
    return render(request, "calendar_app/google/settings.html", context, status=status)


@require_GET
@require_permission(PERMISSION)
def settings_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@require_POST
@require_permission(PERMISSION)
def connect(request: HttpRequest) -> HttpResponse:
    """Off to Google's consent page; the state (CSRF for the callback) and the PKCE verifier
    wait in the session."""
    if not is_enabled():
        messages.error(request, "Google Calendar is not set up on this server.")
        return _page(request, status=404)
    state = secrets.token_urlsafe(32)
    verifier, challenge = new_pkce()
    request.session[SESSION_KEY] = {
        "state": state,
        "verifier": verifier,
        "tenant": request.tenant.pk,
    }
    return redirect(
        authorization_url(state=state, code_challenge=challenge, redirect_uri=redirect_uri())
    )


@require_GET
@require_permission(PERMISSION)
def callback(request: HttpRequest) -> HttpResponse:
    pending = request.session.pop(SESSION_KEY, None) or {}
    state = request.GET.get("state", "")
    if (
        not pending
        or not state
        or not constant_time_compare(state, pending.get("state", ""))
        or pending.get("tenant") != request.tenant.pk
    ):
        messages.error(
            request, "This Google sign-in did not start here (or expired): connect again."
        )
        return _page(request, status=400)
    if request.GET.get("error"):
        messages.error(request, f"Google did not grant access ({request.GET['error'][:100]}).")
        return redirect("calendar_google:settings")
    try:
        connection = do_connect_google(
            request.tenant,
            membership=request.membership,
            code=request.GET.get("code", ""),
            code_verifier=pending.get("verifier", ""),
            redirect_uri=redirect_uri(),
        )
    except ActionError as exc:
        return _page(request, status=refused_status(request, exc))
    messages.success(
        request, f"Google Calendar {connection.email} connected: choose what each calendar syncs."
    )
    return redirect("calendar_google:settings")


@require_POST
@require_permission(PERMISSION)
def map_calendar(request: HttpRequest, pk: int) -> HttpResponse:
    calendar = get_in_tenant(GoogleCalendar, request.tenant, pk=pk)
    raw = request.POST.get("resource", "")
    resource = None
    if raw:
        resource = (
            Resource.objects.for_tenant(request.tenant).filter(pk=raw).first()
            if raw.isdigit()
            else None
        )
        if resource is None:
            messages.error(request, "No such resource.")
            return _page(request, status=404)
    try:
        do_map_google_calendar(calendar, membership=request.membership, resource=resource)
    except ActionError as exc:
        return _page(request, status=refused_status(request, exc))
    messages.success(
        request,
        f"{calendar} now syncs with {resource.name}."
        if resource
        else f"{calendar} no longer syncs.",
    )
    return redirect("calendar_google:settings")


@require_POST
@require_permission(PERMISSION)
def set_rule(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_in_tenant(GoogleConnection, request.tenant, pk=pk)
    try:
        do_set_google_rule(
            connection, membership=request.membership, rule=request.POST.get("rule", "")
        )
    except ActionError as exc:
        return _page(request, status=refused_status(request, exc))
    messages.success(request, "Saved.")
    return redirect("calendar_google:settings")


@require_POST
@require_permission(PERMISSION)
def disconnect(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_in_tenant(GoogleConnection, request.tenant, pk=pk)
    try:
        do_disconnect_google(connection, membership=request.membership)
    except ActionError as exc:
        return _page(request, status=refused_status(request, exc))
    messages.success(request, f"Google account {connection.email} disconnected.")
    return redirect("calendar_google:settings")
