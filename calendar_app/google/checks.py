"""System checks for the Google Calendar sync's settings (``manage.py check``)."""

from django.conf import settings
from django.core.checks import Warning


def check_google_settings(app_configs, **kwargs) -> list[Warning]:
    found = []
    if bool(settings.GOOGLE_OAUTH_CLIENT_ID) != bool(settings.GOOGLE_OAUTH_CLIENT_SECRET):
        found.append(
            Warning(
                "Only one of GOOGLE_OAUTH_CLIENT_ID and GOOGLE_OAUTH_CLIENT_SECRET is set: "
                "Google Calendar sync stays off.",
                hint="Set both (the OAuth client of type 'Web application'), or neither.",
                id="centro.W101",
            )
        )
    elif settings.GOOGLE_OAUTH_CLIENT_ID and not settings.PUBLIC_BASE_URL.startswith("https://"):
        found.append(
            Warning(
                "Google sends push notifications only to https:// addresses; with "
                f"PUBLIC_BASE_URL={settings.PUBLIC_BASE_URL} calendars sync only on beat's "
                "schedule (GOOGLE_CALENDAR_SYNC_SECONDS).",
                id="centro.W102",
            )
        )
    return found
