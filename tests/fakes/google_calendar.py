"""The fake Google Calendar is the simulator (``calendar_app.google.simulator``, also usable
for the demo): the real ``google-api-python-client`` and ``google-auth`` talk HTTP to it on
127.0.0.1. Fixtures for the tests of ``calendar_app.google`` (import them into a test module).
"""

import pytest

from calendar_app.google.simulator import (  # noqa: F401  (the tests' names)
    CLIENT_ID,
    CLIENT_SECRET,
    EMAIL,
    GoogleCalendarServer,
    start,
)


@pytest.fixture
def google():
    server = start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def google_on(settings, google):
    """The deployment's OAuth client set, every Google URL pointing at the fake."""
    settings.GOOGLE_OAUTH_CLIENT_ID = CLIENT_ID
    settings.GOOGLE_OAUTH_CLIENT_SECRET = CLIENT_SECRET
    settings.GOOGLE_OAUTH_AUTH_URL = f"{google.base_url}/o/oauth2/auth"
    settings.GOOGLE_OAUTH_TOKEN_URL = f"{google.base_url}/token"
    settings.GOOGLE_CALENDAR_API_URL = google.api_url
    return google


def event(start: str, end: str, **fields) -> dict:
    """An event as Google's UI makes it (times RFC 3339 in UTC)."""
    return {"summary": "Dentist", "start": {"dateTime": start}, "end": {"dateTime": end}, **fields}


def connect_and_map(tenant, user, resource, google, calendar_id: str | None = None):
    """Connect ``user``'s Google account (a code the consent page would give) and sync its
    calendar with ``resource``: the full sync and the push channel run at once (callers use
    the ``eager_tasks`` fixture and capture on-commit callbacks)."""
    from calendar_app.google.actions import do_connect_google, do_map_google_calendar
    from calendar_app.google.models import GoogleCalendar
    from omnichannel.models import Membership

    membership = Membership.objects.get(tenant=tenant, user=user)
    connection = do_connect_google(
        tenant,
        membership=membership,
        code=google.grant(),
        code_verifier="v" * 64,
        redirect_uri="http://localhost:8000/calendar/google/callback/",
    )
    calendar = GoogleCalendar.objects.get(
        connection=connection, calendar_id=calendar_id or google.email
    )
    do_map_google_calendar(calendar, membership=membership, resource=resource)
    calendar.refresh_from_db()
    return connection, calendar
