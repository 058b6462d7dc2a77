from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inbox.models import Conversation
from inbox.selectors import messaging_report
from tests.inbox.api_factories import (
    assert_error,
    bearer,
    make_conversation,
    make_inbox,
    make_message,
    token_for,
)

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


def channel(report: dict, name: str) -> dict:
    return next(c for c in report["channels"] if c["channel"] == name)


def seed_traffic(tenant, scale: int = 1) -> tuple:
    sms, whatsapp = make_inbox(tenant), make_inbox(tenant, kind="whatsapp")
    for _ in range(scale):
        conv = make_conversation(sms)
        for status in ("queued", "sent", "delivered", "failed", "undelivered"):
            make_message(conv, status=status)
        make_message(conv, direction="in")
        make_message(conv, direction="in")
        make_message(conv, status="delivered", days_ago=45)  # outside a 30-day window
        make_message(conv, status="sent", is_private=True, sender_type="agent")  # a note
        make_message(conv, status="sent", is_private=True, sender_type="system")
        chat = make_conversation(whatsapp, status="pending")
        make_message(chat, status="read")
        make_message(chat, status="delivered")
        make_message(chat, direction="in")
        make_conversation(sms, status="closed")
    return sms, whatsapp


def test_it_counts_messages_per_channel_in_the_window(tenant):
    seed_traffic(tenant)
    report = messaging_report(tenant, 30)
    assert [c["channel"] for c in report["channels"]] == ["sms", "whatsapp"]
    sms = channel(report, "sms")
    assert {k: sms[k] for k in ("sent", "delivered", "failed", "read", "inbound")} == {
        "sent": 5,
        "delivered": 1,
        "failed": 2,
        "read": 0,
        "inbound": 2,
    }
    assert (sms["open_conversations"], sms["pending_conversations"]) == (1, 0)
    whatsapp = channel(report, "whatsapp")
    assert {k: whatsapp[k] for k in ("sent", "delivered", "failed", "read", "inbound")} == {
        "sent": 2,
        "delivered": 2,  # read implies delivered
        "failed": 0,
        "read": 1,
        "inbound": 1,
    }
    assert (whatsapp["open_conversations"], whatsapp["pending_conversations"]) == (0, 1)
    assert report["totals"]["sent"] == 7 and report["totals"]["inbound"] == 3
    assert channel(messaging_report(tenant, 60), "sms")["sent"] == 6


def test_it_averages_first_response_time_over_conversations_of_the_window(tenant):
    sms, whatsapp = make_inbox(tenant), make_inbox(tenant, kind="whatsapp")
    now = timezone.now()

    def responded(inbox, created_days_ago: float, seconds: int, status="closed"):
        created = now - timedelta(days=created_days_ago)
        conv = make_conversation(inbox, status=status)
        Conversation.objects.filter(pk=conv.pk).update(
            created_at=created, first_response_at=created + timedelta(seconds=seconds)
        )

    responded(sms, 1, 60)
    responded(sms, 2, 180)
    responded(whatsapp, 3, 600)
    responded(sms, 40, 9999)  # created before the window
    make_conversation(sms)  # never answered: not in the average
    report = messaging_report(tenant, 30, now=now)
    assert channel(report, "sms")["avg_first_response_seconds"] == 120.0
    assert channel(report, "sms")["first_responses"] == 2
    assert channel(report, "whatsapp")["avg_first_response_seconds"] == 600.0
    assert report["totals"]["avg_first_response_seconds"] == 280.0  # (60 + 180 + 600) / 3
    assert report["totals"]["first_responses"] == 3


def test_it_reports_an_inbox_without_traffic_with_zeros(tenant):
    make_inbox(tenant, kind="whatsapp")
    (row,) = messaging_report(tenant, 7)["channels"]
    assert row["channel"] == "whatsapp" and row["sent"] == 0
    assert row["avg_first_response_seconds"] is None


def test_it_builds_the_report_in_the_same_queries_whatever_the_data(client, tenant, api_token):
    assert client.get("/api/v1/me", **bearer(api_token)).status_code == 200

    def run() -> tuple[dict, int]:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/api/v1/reports/messaging?days=30", **bearer(api_token))
        assert response.status_code == 200, response.content
        return response.json(), len(ctx)

    seed_traffic(tenant, scale=1)
    small, few = run()
    seed_traffic(tenant, scale=8)
    big, many = run()
    assert big["totals"]["sent"] > small["totals"]["sent"]
    assert many == few
    assert few <= 6  # the token lookup and the four report queries


def test_it_never_counts_another_tenants_traffic(client, tenant, other_tenant, api_token):
    seed_traffic(other_tenant, scale=2)
    body = client.get("/api/v1/reports/messaging", **bearer(api_token)).json()
    assert body["channels"] == []
    assert body["totals"]["sent"] == 0 and body["totals"]["inbound"] == 0
    assert body["days"] == 30


@pytest.mark.parametrize("days", [0, 366, -1])
def test_it_answers_422_for_days_out_of_range(client, tenant, api_token, days):
    response = client.get(f"/api/v1/reports/messaging?days={days}", **bearer(api_token))
    assert_error(response, 422, "invalid")


def test_it_needs_reports_view(client, tenant):
    response = client.get("/api/v1/reports/messaging", **bearer(token_for(tenant, "agent")))
    assert assert_error(response, 403, "forbidden")["permission"] == "reports.view"
