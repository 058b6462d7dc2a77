"""Connecting Google Calendar from the settings page: off without the deployment's client id
and secret; the OAuth web flow with offline access, a state checked on the way back, the
refresh token encrypted at rest; and who may see, map and disconnect what (a second tenant
nothing at all)."""

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.db import connection as db

from calendar_app.actions import do_save_resource
from calendar_app.google.models import GoogleCalendar, GoogleConnection
from omnichannel.models import AuditEvent, Membership
from tests.calendar_app.conftest import WEEKDAYS_9_TO_5
from tests.fakes.google_calendar import connect_and_map

pytestmark = pytest.mark.django_db


def test_without_client_credentials_the_feature_is_off(settings, owner, login):
    settings.GOOGLE_OAUTH_CLIENT_ID = settings.GOOGLE_OAUTH_CLIENT_SECRET = ""
    client = login(owner)
    page = client.get("/calendar/google/")
    assert page.status_code == 200
    assert 'id="google-off"' in page.content.decode()
    assert "Connect a Google account" not in page.content.decode()
    assert client.post("/calendar/google/connect/").status_code == 404


def test_the_oauth_flow_connects_an_account_with_its_refresh_token_encrypted(
    google_on, owner, tenant, login
):
    google_on.add_calendar("team@acme.test", "Team")
    client = login(owner)
    start = client.post("/calendar/google/connect/")
    assert start.status_code == 302
    url = urlsplit(start["Location"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert start["Location"].startswith(google_on.base_url + "/o/oauth2/auth?")
    assert query["access_type"] == "offline" and query["prompt"] == "consent"
    assert query["code_challenge_method"] == "S256" and query["state"]
    assert query["redirect_uri"].endswith("/calendar/google/callback/")
    # Google's consent page sends the browser back with a code and the same state.
    consent = httpx.get(start["Location"], follow_redirects=False)
    back = urlsplit(consent.headers["Location"])
    done = client.get(f"{back.path}?{back.query}")
    assert done.status_code == 302 and done["Location"] == "/calendar/google/"

    connection = GoogleConnection.objects.get(tenant=tenant)
    assert connection.email == google_on.email and connection.user == owner
    assert connection.refresh_token in google_on.refresh_tokens
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT refresh_token FROM calendar_app_googleconnection WHERE id = %s",
            [connection.pk],
        )
        raw = cursor.fetchone()[0]
    assert connection.refresh_token not in raw and raw.startswith("gAAAA")  # Fernet
    assert set(connection.calendars.values_list("calendar_id", flat=True)) == {
        google_on.email,
        "team@acme.test",
    }
    assert AuditEvent.objects.filter(
        tenant=tenant, action="credential.changed", target_id=str(connection.pk)
    ).exists()
    page = client.get("/calendar/google/").content.decode()
    assert google_on.email in page and "Team" in page


def test_a_callback_whose_state_does_not_match_is_refused(google_on, owner, tenant, login):
    client = login(owner)
    client.post("/calendar/google/connect/")
    answer = client.get(f"/calendar/google/callback/?code={google_on.grant()}&state=forged")
    assert answer.status_code == 400
    assert not GoogleConnection.objects.exists()
    # Without a flow started in this session at all.
    fresh = login(owner)
    answer = fresh.get(f"/calendar/google/callback/?code={google_on.grant()}&state=x")
    assert answer.status_code == 400


@pytest.fixture
def connected(tenant, owner, google_on, eager_tasks, django_capture_on_commit_callbacks):
    agent_resource = do_save_resource(tenant, name="Room", kind="room", weekly=WEEKDAYS_9_TO_5)
    with django_capture_on_commit_callbacks(execute=True):
        connection, calendar = connect_and_map(tenant, owner, agent_resource, google_on)
    calendar.refresh_from_db()
    return connection, calendar


def test_an_agent_maps_only_their_own_resource_and_sees_only_their_own_connection(
    connected, tenant, make_member, login, google_on, django_capture_on_commit_callbacks
):
    connection, calendar = connected
    user = make_member(tenant, "agent")
    mine = do_save_resource(tenant, name="Me", user=user, weekly=WEEKDAYS_9_TO_5)
    client = login(user)
    page = client.get("/calendar/google/").content.decode()
    assert connection.email not in page  # the owner's account
    # Another member's connection: the same 404 as a missing one.
    answer = client.post(f"/calendar/google/calendars/{calendar.pk}/map/", {"resource": mine.pk})
    assert answer.status_code == 404
    assert (
        client.post(f"/calendar/google/connections/{connection.pk}/disconnect/").status_code == 404
    )
    assert GoogleConnection.objects.filter(pk=connection.pk).exists()
    # Their own account, synced with their own resource: fine; with the room (not theirs): no.
    with django_capture_on_commit_callbacks(execute=True):
        own, own_calendar = connect_and_map(tenant, user, mine, google_on)
    assert own.user == user and own_calendar.resource == mine
    answer = client.post(
        f"/calendar/google/calendars/{own_calendar.pk}/map/", {"resource": calendar.resource_id}
    )
    assert answer.status_code == 404
    own_calendar.refresh_from_db()
    assert own_calendar.resource == mine


def test_another_tenant_cannot_see_map_or_disconnect_this_tenants_connection(
    connected, other_tenant, login
):
    connection, calendar = connected
    theirs = Membership.objects.get(tenant=other_tenant, role__builtin="owner").user
    their_resource = do_save_resource(other_tenant, name="Theirs", weekly=WEEKDAYS_9_TO_5)
    client = login(theirs)
    assert connection.email not in client.get("/calendar/google/").content.decode()
    answer = client.post(
        f"/calendar/google/calendars/{calendar.pk}/map/", {"resource": their_resource.pk}
    )
    assert answer.status_code == 404
    assert (
        client.post(
            f"/calendar/google/connections/{connection.pk}/rule/", {"rule": "keep"}
        ).status_code
        == 404
    )
    assert (
        client.post(f"/calendar/google/connections/{connection.pk}/disconnect/").status_code == 404
    )
    calendar.refresh_from_db()
    connection.refresh_from_db()
    assert calendar.resource.tenant_id == connection.tenant_id
    assert connection.on_google_change == GoogleConnection.OnGoogleChange.MOVE


def test_a_manager_cannot_map_a_calendar_to_another_tenants_resource(
    connected, owner, other_tenant, login
):
    _, calendar = connected
    their_resource = do_save_resource(other_tenant, name="Theirs", weekly=WEEKDAYS_9_TO_5)
    answer = login(owner).post(
        f"/calendar/google/calendars/{calendar.pk}/map/", {"resource": their_resource.pk}
    )
    assert answer.status_code == 404
    assert GoogleCalendar.objects.get(pk=calendar.pk).resource.name == "Room"


def test_disconnecting_stops_the_channel_and_forgets_the_account(
    connected, owner, google_on, tenant, login
):
    connection, calendar = connected
    assert calendar.channel_id in google_on.channels
    answer = login(owner).post(f"/calendar/google/connections/{connection.pk}/disconnect/")
    assert answer.status_code == 302
    assert not GoogleConnection.objects.exists() and not GoogleCalendar.objects.exists()
    assert calendar.channel_id not in google_on.channels
    assert AuditEvent.objects.filter(
        tenant=tenant, action="credential.changed", data__change="disconnected"
    ).exists()


def test_the_system_check_warns_about_half_a_client(settings):
    from calendar_app.google.checks import check_google_settings

    settings.GOOGLE_OAUTH_CLIENT_ID, settings.GOOGLE_OAUTH_CLIENT_SECRET = "id", ""
    assert [w.id for w in check_google_settings(None)] == ["centro.W101"]
    settings.GOOGLE_OAUTH_CLIENT_SECRET = "secret"
    settings.PUBLIC_BASE_URL = "https://centro.example"
    assert check_google_settings(None) == []
    settings.PUBLIC_BASE_URL = "http://localhost:8000"
    assert [w.id for w in check_google_settings(None)] == ["centro.W102"]
