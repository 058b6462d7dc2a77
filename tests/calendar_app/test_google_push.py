"""Google push notifications through the webhook journal: a notification with its channel's
token is journaled and queues an incremental sync; a wrong token, another tenant's token or an
unknown channel is refused and stores nothing; beat renews channels before they expire."""

import datetime as dt

import pytest
import time_machine
from django.test import Client

from calendar_app.google.models import GoogleCalendar, GoogleEvent
from calendar_app.google.tasks import renew_google_channels_task
from omnichannel.models import WebhookEvent
from tests.calendar_app.conftest import NOW, make_agent
from tests.fakes.google_calendar import connect_and_map, event

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


@pytest.fixture
def synced(tenant, owner, agent, google_on, eager_tasks, django_capture_on_commit_callbacks):
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        _, calendar = connect_and_map(tenant, owner, agent, google_on)
    calendar.refresh_from_db()
    return calendar


def push(channel_id: str, headers: dict):
    return Client().post(
        f"/calendar/google/push/{channel_id}/", data=b"", content_type="", headers=headers
    )


def test_mapping_a_calendar_opens_a_push_channel_to_our_receiver(synced, google):
    assert synced.channel_id and synced.channel_token
    channel = google.channels[synced.channel_id]
    assert channel["address"].endswith(f"/calendar/google/push/{synced.channel_id}/")
    assert channel["token"] == synced.channel_token
    assert synced.channel_resource_id == channel["resourceId"]


def test_a_push_notification_is_journaled_and_triggers_an_incremental_sync(
    synced, google, django_capture_on_commit_callbacks
):
    google.put_event(google.email, event("2026-12-02T10:00:00Z", "2026-12-02T11:00:00Z", id="p1"))
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        answer = push(synced.channel_id, google.push_headers(synced.channel_id, "exists"))
    assert answer.status_code == 200
    journaled = WebhookEvent.objects.get(tenant=synced.tenant, kind="exists")
    assert journaled.state == WebhookEvent.State.PROCESSED
    assert "sync" in journaled.error.lower()
    assert journaled.headers["X-Goog-Channel-Token"] == "***"  # the secret is not kept
    last = [q for m, p, q, _ in google.requests if m == "GET" and p.endswith("/events")][-1]
    assert last["syncToken"]  # incremental
    assert GoogleEvent.objects.get(calendar=synced, event_id="p1").busy


def test_the_channels_first_message_is_acknowledged_without_a_sync(
    synced, google, django_capture_on_commit_callbacks
):
    before = len(google.requests)
    with django_capture_on_commit_callbacks(execute=True):
        answer = push(synced.channel_id, google.push_headers(synced.channel_id, "sync"))
    assert answer.status_code == 200
    assert WebhookEvent.objects.get(kind="sync").state == WebhookEvent.State.PROCESSED
    assert len(google.requests) == before


def test_a_wrong_token_or_an_unknown_channel_is_refused_and_nothing_is_stored(synced, google):
    headers = google.push_headers(synced.channel_id) | {"X-Goog-Channel-Token": "guess"}
    assert push(synced.channel_id, headers).status_code == 403
    headers = google.push_headers(synced.channel_id)
    assert push("0" * 32, headers | {"X-Goog-Channel-ID": "0" * 32}).status_code == 404
    # A token without the matching channel id header is refused too.
    assert push(synced.channel_id, headers | {"X-Goog-Channel-ID": "other"}).status_code == 403
    assert not WebhookEvent.objects.exists()


def test_a_new_channels_handshake_before_its_id_is_saved_is_answered_and_ignored(synced, google):
    headers = {
        "X-Goog-Channel-ID": "f" * 32,
        "X-Goog-Channel-Token": "t",
        "X-Goog-Resource-State": "sync",
    }
    assert push("f" * 32, headers).status_code == 200
    assert not WebhookEvent.objects.exists()


def test_another_tenants_channel_cannot_trigger_this_tenants_sync(
    synced,
    google,
    other_tenant,
    eager_tasks,
    django_capture_on_commit_callbacks,
):
    from omnichannel.models import Membership

    other_owner = Membership.objects.get(tenant=other_tenant, role__builtin="owner").user
    other_agent = make_agent(other_tenant, name="Gus")
    google.add_calendar("globex@acme.test", "Globex")
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        _, theirs = connect_and_map(
            other_tenant, other_owner, other_agent, google, calendar_id="globex@acme.test"
        )
    theirs.refresh_from_db()
    assert theirs.tenant_id != synced.tenant_id
    # Their channel's token on our channel's URL: refused.
    headers = google.push_headers(theirs.channel_id) | {"X-Goog-Channel-ID": synced.channel_id}
    assert push(synced.channel_id, headers).status_code == 403
    assert not WebhookEvent.objects.filter(tenant=synced.tenant).exists()
    # Their own notification is journaled under their tenant only.
    assert push(theirs.channel_id, google.push_headers(theirs.channel_id)).status_code == 200
    assert WebhookEvent.objects.get().tenant_id == other_tenant.pk


def test_beat_renews_a_channel_a_day_before_it_expires_and_stops_the_old_one(
    synced, google, settings
):
    beat = settings.CELERY_BEAT_SCHEDULE["renew-google-calendar-channels"]
    assert beat["task"] == renew_google_channels_task.name
    old = synced.channel_id
    expires = NOW + dt.timedelta(days=3)
    GoogleCalendar.objects.filter(pk=synced.pk).update(channel_expires_at=expires)
    with time_machine.travel(expires - dt.timedelta(hours=25), tick=False):
        assert renew_google_channels_task.apply().get() == 0  # not yet
    with time_machine.travel(expires - dt.timedelta(hours=23), tick=False):
        assert renew_google_channels_task.apply().get() == 1
    synced.refresh_from_db()
    assert synced.channel_id != old
    assert old not in google.channels and synced.channel_id in google.channels
    # The old channel's notifications now find nothing.
    assert push(old, {"X-Goog-Channel-ID": old, "X-Goog-Channel-Token": "x"}).status_code == 404


def test_a_journaled_notification_replays_into_a_sync(
    synced, google, django_capture_on_commit_callbacks
):
    from omnichannel.webhooks import journal

    with django_capture_on_commit_callbacks(execute=False):
        assert push(synced.channel_id, google.push_headers(synced.channel_id)).status_code == 200
    journaled = WebhookEvent.objects.get(kind="exists")
    google.put_event(google.email, event("2026-12-02T12:00:00Z", "2026-12-02T13:00:00Z", id="r1"))
    # Replayed from the journal (no headers: the channel comes from the stored URL).
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        replayed = journal.replay(journaled)
    assert replayed.state == WebhookEvent.State.PROCESSED and replayed.attempts == 2
    assert GoogleEvent.objects.get(calendar=synced, event_id="r1").busy
