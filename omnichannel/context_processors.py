from django.http import HttpRequest
from django.utils import timezone

from omnichannel.agent_notifications import unread_notification_count
from omnichannel.models import UserPreference
from omnichannel.tenancy import memberships_for
from omnichannel.zones import zone_label

NAVIGATION = [
    ("inbox", "Inbox", "conversations.view"),
    ("contacts", "Contacts", "contacts.view"),
    ("campaigns", "Campaigns", "campaigns.view"),
    ("calls", "Calls", "calls.view"),
    ("calendar", "Calendar", "calendar.view"),
    ("reports", "Reports", "reports.view"),
    ("settings", "Settings", "tenant.view_settings"),
]


def shell(request: HttpRequest) -> dict:
    """Navigation, tenant switcher, theme and time zone for the base template (scripts that
    write times read the zone from ``<body data-time-zone>``)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"theme": request.COOKIES.get("theme", UserPreference.Theme.DARK)}
    membership = getattr(request, "membership", None)
    preference = getattr(user, "preference", None)
    codenames = membership.role.codenames() if membership else frozenset()
    return {
        "theme": preference.theme if preference else UserPreference.Theme.DARK,
        "navigation": [
            {"key": key, "label": label} for key, label, needed in NAVIGATION if needed in codenames
        ],
        "user_permissions": codenames,
        "memberships": memberships_for(user),
        "time_zone": timezone.get_current_timezone_name(),
        "time_zone_label": zone_label(timezone.get_current_timezone()),
        # The bell's count; counted only when the page shows the bell.
        "agent_notifications_unread": (
            (lambda: unread_notification_count(membership.tenant, user)) if membership else 0
        ),
    }
