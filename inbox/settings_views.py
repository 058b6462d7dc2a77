"""Settings → Inboxes: the tenant's connected channels, each with its name, on/off switch and
provider credentials.

Credentials are edited key by key with the checks of ``create_inbox`` (``inbox.actions.
inboxes``). A secret is never shown back: its field says whether it is set, and leaving it
blank keeps it. Seeing the page needs ``inboxes.view``; renaming or switching an inbox off
``inboxes.manage``; changing credentials ``credentials.manage`` (audited with the key names).
"""

from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from inbox.actions.inboxes import (
    do_update_inbox,
    do_update_inbox_credentials,
    schema_for,
    webhook_urls,
)
from inbox.models import Inbox
from inbox.providers.credentials import mask_secret_id
from omnichannel.actions import ACTION_ERROR_STATUS, ActionError
from omnichannel.settings_views import settings_nav
from omnichannel.tenancy import get_in_tenant, require_permission

NAV_KEY = "inboxes"


@dataclass(frozen=True)
class CredentialField:
    key: str
    label: str
    required: bool
    secret: bool
    is_set: bool
    value: str  # what the input shows: never a secret
    boolean: bool = False


def credential_fields(inbox: Inbox) -> list[CredentialField]:
    """The fields the inbox's provider schema takes, with what may be shown."""
    stored = inbox.get_credentials()
    fields = []
    for field in schema_for(inbox.provider).fields(stored):
        value = stored.get(field.key)
        if field.secret:
            shown = ""
        elif field.masked:
            shown = mask_secret_id(str(value)) if value else ""
        elif field.boolean:
            shown = "on" if value else ""
        else:
            shown = "" if value is None else str(value)
        fields.append(
            CredentialField(
                key=field.key,
                label=field.label,
                required=field.required,
                secret=field.secret or field.masked,
                is_set=value not in (None, ""),
                value=shown,
                boolean=field.boolean,
            )
        )
    return fields


def submitted_changes(inbox: Inbox, post) -> dict:
    """The credential changes a form post asks for: a blank secret keeps the stored one, a
    blank plain field removes it (and is refused if it is required)."""
    changes: dict = {}
    for field in credential_fields(inbox):
        raw = post.get(field.key, "")
        if field.boolean:
            changes[field.key] = "true" if raw else ""
        elif field.secret:
            if raw.strip():
                changes[field.key] = raw.strip()
        else:
            changes[field.key] = raw.strip()
    return changes


def _settings_page(request: HttpRequest, template: str, context: dict, *, status: int = 200):
    codenames = request.membership.role.codenames()
    context = {
        "settings_nav": settings_nav(request, NAV_KEY),
        "tenant": request.tenant,
        "can_manage": "inboxes.manage" in codenames,
        "can_manage_credentials": "credentials.manage" in codenames,
        **context,
    }
    return render(request, f"inbox/settings/{template}", context, status=status)


@require_GET
@require_permission("inboxes.view")
def inbox_list(request: HttpRequest) -> HttpResponse:
    inboxes = Inbox.objects.for_tenant(request.tenant).order_by("name", "id")
    return _settings_page(request, "inboxes.html", {"inboxes": inboxes})


def _inbox_page(request: HttpRequest, inbox: Inbox, *, status: int = 200) -> HttpResponse:
    stored = inbox.get_credentials()
    context = {
        "inbox": inbox,
        "fields": credential_fields(inbox),
        "esp": stored.get("esp", ""),
        "webhook_urls": webhook_urls(inbox),
    }
    return _settings_page(request, "inbox.html", context, status=status)


@require_GET
@require_permission("inboxes.view")
def inbox_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _inbox_page(request, get_in_tenant(Inbox, request.tenant, pk=pk))


def _refused(request: HttpRequest, inbox: Inbox, exc: ActionError) -> HttpResponse:
    messages.error(request, exc.message)
    inbox.refresh_from_db()
    return _inbox_page(request, inbox, status=ACTION_ERROR_STATUS.get(exc.code, 400))


@require_POST
@require_permission("inboxes.manage")
def inbox_update(request: HttpRequest, pk: int) -> HttpResponse:
    inbox = get_in_tenant(Inbox, request.tenant, pk=pk)
    try:
        do_update_inbox(
            inbox,
            name=request.POST.get("name", ""),
            is_active=request.POST.get("is_active") == "on",
            acting_user=request.user,
        )
    except ActionError as exc:
        return _refused(request, inbox, exc)
    messages.success(request, f"“{inbox.name}” saved.")
    return redirect("settings:inbox", pk=inbox.pk)


@require_POST
@require_permission("credentials.manage")
def inbox_credentials(request: HttpRequest, pk: int) -> HttpResponse:
    inbox = get_in_tenant(Inbox, request.tenant, pk=pk)
    try:
        changed = do_update_inbox_credentials(
            inbox, changes=submitted_changes(inbox, request.POST), acting_user=request.user
        )
    except ActionError as exc:
        return _refused(request, inbox, exc)
    if changed:
        messages.success(request, f"Credentials saved ({', '.join(changed)} changed).")
    else:
        messages.info(request, "Nothing changed.")
    return redirect("settings:inbox", pk=inbox.pk)
