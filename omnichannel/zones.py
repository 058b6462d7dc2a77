"""One clock on screen: every time shown to a person reads in their time zone.

A person's zone is their own preference (``UserPreference.timezone``), else their tenant's.
:class:`TimeZoneMiddleware` activates it for each request, the websocket consumer for each
socket, so ``|date``, ``|time`` and ``timezone.localtime`` follow it without each view asking;
the base template hands it to the browser (``data-time-zone`` on ``<body>``) for the times
scripts write. The API is not a screen: it answers ISO 8601 with the offset.
"""

import datetime
import functools
import zoneinfo
from collections.abc import Callable, Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from omnichannel.models import Membership, Tenant, UserPreference
from omnichannel.tenancy import tenant_zone

UTC = zoneinfo.ZoneInfo("UTC")


@functools.cache
def known_zones() -> frozenset[str]:
    # available_timezones() walks the zoneinfo database: once per process, not per request.
    return frozenset(zoneinfo.available_timezones())


# The regions of the tz database's canonical names; "US/Pacific" and the like are old aliases.
AREAS = (
    "Africa/", "America/", "Antarctica/", "Arctic/", "Asia/", "Atlantic/", "Australia/",
    "Europe/", "Indian/", "Pacific/",
)  # fmt: skip


def zone_choices() -> list[tuple[str, str]]:
    """The zones a person picks from: the named ones (``Area/City``) and UTC."""
    names = sorted(name for name in known_zones() if name.startswith(AREAS))
    return [("UTC", "UTC"), *((name, name.replace("_", " ")) for name in names)]


def zone_named(name: str) -> zoneinfo.ZoneInfo | None:
    """The zone called ``name``, None for a blank or unknown name."""
    if not name or name not in known_zones():
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def first_zone(*names: str | None) -> zoneinfo.ZoneInfo:
    """The first of ``names`` that names a zone, else UTC (blank and unknown names skipped):
    a contact's own zone, else their phone's, else their tenant's."""
    for name in names:
        zone = zone_named(name or "")
        if zone is not None:
            return zone
    return UTC


def preferred_zone_name(user) -> str:
    """The zone the user chose, "" when they follow their tenant's."""
    try:
        preference = user.preference
    except (AttributeError, UserPreference.DoesNotExist):
        return ""
    return preference.timezone


def display_zone(user, tenant: Tenant | None) -> zoneinfo.ZoneInfo:
    """Where ``user`` reads times: their own zone, else the tenant's, else UTC."""
    chosen = zone_named(preferred_zone_name(user)) if user is not None else None
    if chosen is not None:
        return chosen
    return tenant_zone(tenant) if tenant is not None else UTC


def zone_label(zone: datetime.tzinfo, at: datetime.datetime | None = None) -> str:
    """How a page names ``zone``: "America/Mexico_City (CST)"; a bare "UTC" for UTC.

    Abbreviations alone are ambiguous (CST is also China's), so the name always comes first.
    """
    key = getattr(zone, "key", str(zone))
    short = (at or timezone.now()).astimezone(zone).tzname() or ""
    if not short or short == key or short.lstrip("+-").isdigit():
        return key  # zones without an abbreviation print an offset ("-03"): the name says more
    return f"{key} ({short})"


def recipient_zones(tenant: Tenant, users: Iterable[Any] | None = None) -> set[str]:
    """The zones the people who receive an event read times in: ``users``, or every member."""
    members = Membership.objects.filter(tenant=tenant)
    if users is not None:
        members = members.filter(user_id__in=[getattr(user, "pk", user) for user in users])
    chosen = set(
        UserPreference.objects.filter(user__in=members.values("user_id"))
        .exclude(timezone="")
        .values_list("timezone", flat=True)
    )
    # Members without a zone of their own read the tenant's.
    return {name for name in chosen if zone_named(name) is not None} | {tenant_zone(tenant).key}


def render_in_zones(render: Callable[[], str], zones: Iterable[str]) -> dict[str, str]:
    """``render()`` once per zone, each under that zone: a pushed fragment for each reader."""
    rendered = {}
    for name in zones:
        with timezone.override(zone_named(name) or UTC):
            rendered[name] = render()
    return rendered


class TimeZoneMiddleware:
    """Activates the signed-in person's zone (after ``TenantMiddleware`` chose their tenant)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        with timezone.override(display_zone(user, getattr(request, "tenant", None))):
            return self.get_response(request)
