"""The Google Calendar simulator `make run` starts for the demo: it accepts only the OAuth
client it was given, and its calendar has a busy hour on each of the next workdays."""

import datetime as dt

import httpx
import pytest
import time_machine

from calendar_app.google.simulator import CLIENT_ID, CLIENT_SECRET, add_demo_events, start

pytestmark = pytest.mark.clock


@pytest.fixture
def demo_server():
    server = start(client=("centro-demo.apps.googleusercontent.com", "made-up-secret"))
    yield server
    server.shutdown()
    server.server_close()


def _exchange(server, client_id: str, client_secret: str) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/token",
        data={
            "grant_type": "authorization_code",
            "code": server.grant(),
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uri": "http://127.0.0.1/callback",
        },
    )


def test_the_token_endpoint_accepts_only_the_client_it_was_given(demo_server):
    refused = _exchange(demo_server, CLIENT_ID, CLIENT_SECRET)
    assert refused.status_code == 401
    assert refused.json() == {"error": "invalid_client"}

    accepted = _exchange(demo_server, "centro-demo.apps.googleusercontent.com", "made-up-secret")
    assert accepted.status_code == 200
    assert accepted.json()["refresh_token"]


@time_machine.travel(dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC), tick=False)  # a Friday
def test_the_demo_calendar_has_a_busy_hour_on_each_of_the_next_five_workdays(demo_server):
    add_demo_events(demo_server)

    events = sorted(
        demo_server.events[demo_server.email].values(), key=lambda e: e["start"]["dateTime"]
    )
    starts = [event["start"]["dateTime"] for event in events]
    assert starts == [
        "2026-12-07T15:00:00Z",
        "2026-12-08T15:00:00Z",
        "2026-12-09T15:00:00Z",
        "2026-12-10T15:00:00Z",
        "2026-12-11T15:00:00Z",
    ]
    assert {event["summary"] for event in events} == {"Busy (simulator)"}
