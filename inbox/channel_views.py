"""Settings → Channels: the tenant's connected channels (inboxes), connecting a new one, and
each channel's page (name and switch, credentials, test connection, webhook URLs, activity).

Everything about a provider comes from the registry and its credential schema
(``inbox.providers``): which providers and kinds exist, the fields of the credentials form,
which of them are secret, the secrets Centro generates and "test connection". No view knows a
provider by name.

Permissions: seeing the pages needs ``inboxes.view``; renaming or switching a channel off
``inboxes.manage``; connecting a channel, changing its credentials and testing the connection
``credentials.manage``. Testing goes with the credentials because it uses them and because
the person who can act on a failing check is the one who may change them. Secrets are write-only:
a form never shows one back, a blank secret keeps the stored value, and a secret Centro
generates is shown once, in the answer to the request that connected the channel.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inbox.actions.catch_up import polls_server
from inbox.actions.fallback import can_relay_sms
from inbox.actions.inboxes import (
    do_create_inbox,
    do_update_inbox,
    do_update_inbox_credentials,
    schema_for,
    webhook_urls,
)
from inbox.actions.linking import can_link, do_refresh_link, do_start_link
from inbox.health import server_status
from inbox.models import Inbox
from inbox.providers import get_provider, provider_class, provider_keys
from inbox.providers.base import ConnectionCheck, LinkState, supports
from inbox.providers.credentials import CredentialSchema, mask_secret_id
from inbox.sending_pace import inbox_rate, pace_note
from omnichannel.actions import ACTION_ERROR_STATUS, ActionError
from omnichannel.channels import Channel
from omnichannel.htmx import wants_piece
from omnichannel.models import WebhookEvent
from omnichannel.settings_views import settings_nav
from omnichannel.tenancy import get_in_tenant, require_permission

NAV_KEY = "channels"
FAILED_STATES = (WebhookEvent.State.FAILED, WebhookEvent.State.INVALID)


def with_webhook_activity(inboxes: QuerySet[Inbox]) -> QuerySet[Inbox]:
    """``inboxes`` annotated from the webhook journal, in the same query whatever their number:
    ``last_webhook_at`` (the latest request received), ``last_error_at`` and ``last_error``
    (the latest request that failed or was malformed)."""
    events = WebhookEvent.objects.filter(inbox=OuterRef("pk")).order_by("-received_at", "-id")
    failures = events.filter(state__in=FAILED_STATES)
    return inboxes.annotate(
        last_webhook_at=Subquery(events.values("received_at")[:1]),
        last_error_at=Subquery(failures.values("received_at")[:1]),
        last_error=Subquery(failures.values("error")[:1]),
    )


# --- the credentials form, from the provider's schema ------------------------------------------


@dataclass(frozen=True)
class FormField:
    key: str
    label: str
    required: bool
    secret: bool  # a password input that is never filled in (secret or masked)
    is_set: bool
    value: str  # what the input shows: never a secret
    boolean: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    help: str = ""


def form_fields(schema: CredentialSchema, values: Mapping, *, stored: bool) -> list[FormField]:
    """The schema's fields for ``values``. ``stored``: the values are the inbox's own, so secret
    and masked ones are write-only (the input is blank, a placeholder tells whether it is set);
    otherwise they are what the admin just typed, and only secrets are left out."""
    fields = []
    for field in schema.fields(values):
        value = values.get(field.key)
        write_only = field.secret or (field.masked and stored)
        if write_only:
            shown = mask_secret_id(str(value)) if field.masked and value else ""
        elif field.boolean:
            shown = "on" if value not in (None, "", False) else ""
        else:
            shown = "" if value is None else str(value)
        fields.append(
            FormField(
                key=field.key,
                label=field.label,
                required=field.required,
                secret=write_only,
                is_set=value not in (None, ""),
                value=shown,
                boolean=field.boolean,
                choices=field.choices,
                help=field.help,
            )
        )
    return fields


def submitted_credentials(schema: CredentialSchema, post: Mapping) -> dict:
    """A new channel's credentials from the connect form: what was filled in."""
    credentials: dict = {}
    for field in schema.fields(post):
        raw = post.get(field.key, "").strip()
        if field.boolean:
            if raw:
                credentials[field.key] = "true"
        elif raw:
            credentials[field.key] = raw
    return credentials


def submitted_changes(inbox: Inbox, post: Mapping) -> dict:
    """The credential changes a form post asks for: a blank secret (or choice) keeps the stored
    value, a blank plain field removes it (and is refused if it is required). Changing a choice
    (another email service) removes the stored settings the new choice has no field for."""
    schema = schema_for(inbox.provider)
    stored = inbox.get_credentials()
    choices = chosen(schema, stored, post)
    fields = form_fields(schema, {**stored, **choices}, stored=True)
    changes: dict = {}
    if any(stored.get(key) != value for key, value in choices.items()):
        changes = dict.fromkeys(set(stored) - {field.key for field in fields}, "")
    for field in fields:
        raw = post.get(field.key, "")
        if field.boolean:
            changes[field.key] = "true" if raw else ""
        elif field.secret or field.choices:
            if raw.strip():
                changes[field.key] = raw.strip()
        else:
            changes[field.key] = raw.strip()
    return changes


def chosen(schema: CredentialSchema, values: Mapping, query: Mapping) -> dict:
    """The choice fields (those the other fields depend on) that ``query`` sets."""
    return {
        field.key: query[field.key]
        for field in schema.fields(values)
        if field.choices and query.get(field.key)
    }


# --- pages -------------------------------------------------------------------------------------


def _page(request: HttpRequest, template: str, context: dict, *, status: int = 200) -> HttpResponse:
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
def channel_list(request: HttpRequest) -> HttpResponse:
    inboxes = (
        with_webhook_activity(Inbox.objects.for_tenant(request.tenant))
        .select_related("health")
        .order_by("name", "id")
    )
    return _page(request, "channels.html", {"inboxes": inboxes})


def _detail_page(
    request: HttpRequest,
    inbox: Inbox,
    *,
    status: int = 200,
    check: ConnectionCheck | None = None,
    generated: dict | None = None,
    query: Mapping | None = None,
    link: LinkState | None = None,
) -> HttpResponse:
    inbox = with_webhook_activity(Inbox.objects.filter(pk=inbox.pk)).select_related("health").get()
    schema = schema_for(inbox.provider)
    stored = inbox.get_credentials()
    fields = form_fields(schema, {**stored, **chosen(schema, stored, query or {})}, stored=True)
    context = {
        "inbox": inbox,
        "fields": fields,
        "webhook_urls": webhook_urls(inbox),
        "fallback_choices": Inbox.objects.for_tenant(request.tenant)
        .exclude(pk=inbox.pk)
        .order_by("name", "id"),
        "check": check,
        "can_mark_read": _can_mark_read(inbox),
        "can_relay_sms": can_relay_sms(inbox),
        "campaign_pace": pace_note(inbox),
        "campaign_seconds": f"{1 / inbox_rate(inbox):g}",
        "generated": generated or {},
        "fields_url": reverse("settings:channel", args=[inbox.pk]),
        "server": server_status(inbox, last_webhook_at=inbox.last_webhook_at)
        if polls_server(inbox)
        else None,
        "stored": True,  # the fields show the inbox's own values: secrets are write-only
        "can_link": can_link(inbox),
        "link": link or _recorded_link(inbox),
    }
    if query and wants_piece(request):
        return _page(request, "channels_fields.html", context)
    return _page(request, "channels_detail.html", context, status=status)


@require_GET
@require_permission("inboxes.view")
def channel_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The channel's page; ``?<choice>=<value>`` re-renders the credential fields for another
    choice (htmx asks for just the fields)."""
    inbox = get_in_tenant(Inbox, request.tenant, pk=pk)
    return _detail_page(request, inbox, query=request.GET)


def _recorded_link(inbox: Inbox) -> LinkState:
    """The link's state as the provider's webhooks last reported it (nothing is asked)."""
    health = getattr(inbox, "health", None)
    state = health.connection_state if health is not None else ""
    return LinkState(state=state or "unknown", connected=state == "open")


def _link_piece(request: HttpRequest, inbox: Inbox, link: LinkState, error: str = ""):
    return _page(
        request,
        "channels_link.html",
        {"inbox": inbox, "link": link, "link_error": error, "can_link": True},
    )


@require_POST
@require_permission("credentials.manage")
def channel_link(request: HttpRequest, pk: int) -> HttpResponse:
    """Pair the account's phone: register the webhooks, show the QR code to scan (the piece
    then polls :func:`channel_link_state` until the phone is linked)."""
    inbox = get_in_tenant(Inbox, request.tenant, pk=pk)
    try:
        link = do_start_link(inbox, acting_user=request.user)
    except ActionError as exc:
        if wants_piece(request):
            return _link_piece(request, inbox, _recorded_link(inbox), exc.message)
        return _refused(request, inbox, exc)
    if wants_piece(request):
        return _link_piece(request, inbox, link)
    return _detail_page(request, inbox, link=link)


@require_GET
@require_permission("credentials.manage")
def channel_link_state(request: HttpRequest, pk: int) -> HttpResponse:
    """How the pairing stands now (the piece the QR code's page polls)."""
    inbox = get_in_tenant(Inbox, request.tenant, pk=pk)
    if not can_link(inbox):
        return HttpResponse("This channel is not paired by a QR code.", status=404)
    try:
        link = do_refresh_link(inbox)
    except ActionError as exc:
        return _link_piece(request, inbox, _recorded_link(inbox), exc.message)
    return _link_piece(request, inbox, link)


def _can_mark_read(inbox: Inbox) -> bool:
    """Whether the inbox's provider can tell contacts their messages were read."""
    try:
        return supports(get_provider(inbox), "mark_read")
    except ValueError:  # a provider no longer registered
        return False


def _refused(request: HttpRequest, inbox: Inbox, exc: ActionError) -> HttpResponse:
    messages.error(request, exc.message)
    return _detail_page(request, inbox, status=ACTION_ERROR_STATUS.get(exc.code, 400))


# The fallback menu's choice for "this Mac's SMS relay" (the others are inbox ids).
SMS_RELAY = "sms_relay"


@require_POST
@require_permission("inboxes.manage")
def channel_update(request: HttpRequest, pk: int) -> HttpResponse:
    inbox = get_in_tenant(Inbox, request.tenant, pk=pk)
    fallback_id = request.POST.get("fallback_inbox", "")
    fallback = (
        get_in_tenant(Inbox, request.tenant, pk=fallback_id) if fallback_id.isdigit() else None
    )
    try:
        rate = _campaign_rate(inbox, request.POST.get("campaign_seconds", ""))
        inbox = do_update_inbox(
            inbox,
            name=request.POST.get("name", ""),
            is_active=request.POST.get("is_active") == "on",
            fallback_inbox=fallback,
            sms_relay=fallback_id == SMS_RELAY,
            # Only a form that showed the switch says anything about it.
            mark_read=request.POST.get("mark_read") == "on"
            if "mark_read_shown" in request.POST and _can_mark_read(inbox)
            else None,
            messages_per_second=rate,
            acting_user=request.user,
        )
    except ActionError as exc:
        return _refused(request, inbox, exc)
    messages.success(request, f"“{inbox.name}” saved.")
    return redirect("settings:channel", pk=inbox.pk)


def _campaign_rate(inbox: Inbox, seconds: str) -> float | None:
    """The form's "seconds between campaign messages" as a rate; None when the form did not
    show it (providers without a pace of their own) or left it empty."""
    if not seconds.strip() or not pace_note(inbox):
        return None
    try:
        value = float(seconds)
    except ValueError:
        raise ActionError("The seconds between campaign messages must be a number.") from None
    if not 0.001 <= value <= 3600:
        raise ActionError("Campaign messages go between 0.001 and 3600 seconds apart.")
    if f"{value:g}" == f"{1 / inbox_rate(inbox):g}":
        return None  # as shown: the provider's default stays a default
    return 1 / value


@require_POST
@require_permission("credentials.manage")
def channel_credentials(request: HttpRequest, pk: int) -> HttpResponse:
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
    return redirect("settings:channel", pk=inbox.pk)


@require_POST
@require_permission("credentials.manage")
def channel_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Call the provider with the stored credentials and show what it said. Nothing changes,
    so the answer is the page itself (a reload tests again)."""
    inbox = get_in_tenant(Inbox, request.tenant, pk=pk)
    check = schema_for(inbox.provider).test_connection(inbox)
    return _detail_page(request, inbox, check=check)


# --- connecting a channel ----------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderChoice:
    key: str
    label: str
    description: str
    kinds: list[tuple[str, str]]  # (Channel value, its label)


def provider_choices() -> list[ProviderChoice]:
    choices = []
    for key in provider_keys():
        cls = provider_class(key)
        choices.append(
            ProviderChoice(
                key=key,
                label=cls.label,
                description=cls.credentials.description,
                kinds=[(kind, Channel(kind).label) for kind in cls.kinds],
            )
        )
    return choices


def _chosen_provider(query: Mapping) -> tuple[ProviderChoice, tuple[str, str]] | None:
    """The provider and kind (value, label) a query names, when both are valid."""
    choices = {choice.key: choice for choice in provider_choices()}
    provider = choices.get(query.get("provider", ""))
    kinds = dict(provider.kinds) if provider else {}
    kind = query.get("kind", "")
    return (provider, (kind, kinds[kind])) if kind in kinds else None


def _connect_page(
    request: HttpRequest,
    values: Mapping,
    *,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    choice = _chosen_provider(values)
    context = {"providers": provider_choices(), "chosen": None, "error": error}
    if choice is not None:
        provider, kind = choice
        query = urlencode({"provider": provider.key, "kind": kind[0]})
        context |= {
            "chosen": provider,
            "kind": kind,
            "name": values.get("name", ""),
            "address": values.get("address", ""),
            "address_help": schema_for(provider.key).address_help,
            "fields": form_fields(schema_for(provider.key), values, stored=False),
            "fields_url": f"{reverse('settings:channel-connect')}?{query}",
        }
        if request.method == "GET" and wants_piece(request):
            return _page(request, "channels_fields.html", context)
    return _page(request, "channels_connect.html", context, status=status)


@require_http_methods(["GET", "POST"])
@require_permission("credentials.manage")
def channel_connect(request: HttpRequest) -> HttpResponse:
    """GET: choose a provider and kind, then its form (``?provider=…&kind=…``, plus the choices
    the fields depend on). POST: connect the channel through ``do_create_inbox``, which checks
    everything with the same schema; secrets the schema generated are shown in the answer."""
    if request.method == "GET":
        return _connect_page(request, request.GET)
    post = request.POST
    try:
        schema = schema_for(post.get("provider", ""))
        credentials = submitted_credentials(schema, post)
        generated = schema.generate(credentials)
        inbox = do_create_inbox(
            request.tenant,
            name=post.get("name", ""),
            kind=post.get("kind", ""),
            provider=post.get("provider", ""),
            address=post.get("address", "").strip(),
            credentials={**credentials, **generated},
            acting_user=request.user,
            request=request,
        )
    except ActionError as exc:
        return _connect_page(
            request, post, error=exc.message, status=ACTION_ERROR_STATUS.get(exc.code, 400)
        )
    labels = {field.key: field.label for field in schema.fields(credentials)}
    messages.success(request, f"“{inbox.name}” connected.")
    shown = {labels.get(key, key): value for key, value in generated.items()}
    return _detail_page(request, inbox, status=201, generated=shown)


@require_permission("inboxes.view")
def moved(request: HttpRequest, to: str, **kwargs) -> HttpResponse:
    """The old Settings → Inboxes addresses, moved for good to Settings → Channels (a form
    posted to an old address is posted again to the new one: 308 keeps the method)."""
    response = HttpResponsePermanentRedirect(reverse(to, kwargs=kwargs))
    if request.method not in ("GET", "HEAD"):
        response.status_code = 308
    return response
