"""Response time in the messaging report: each customer message to the next agent reply, per
channel, per agent and overall, from a hand-built timeline under a frozen clock."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inbox.models import Message
from inbox.selectors import messaging_report
from tests.inbox.api_factories import bearer, make_conversation, make_inbox

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 10, 3, 30, tzinfo=UTC)  # the report's "now" (frozen)
SINCE = NOW - dt.timedelta(days=1)  # ?days=1


def at(base: dt.datetime, seconds: float = 0) -> dt.datetime:
    return base + dt.timedelta(seconds=seconds)


class Timeline:
    """Writes a conversation's messages at exact moments, the way the inbox stores them."""

    def __init__(self, inbox) -> None:
        self.conversation = make_conversation(inbox)

    def _write(self, moment, *, direction, sender_type, **fields) -> Message:
        conv = self.conversation
        return Message.objects.create(
            tenant=conv.tenant,
            conversation=conv,
            inbox=conv.inbox,
            direction=direction,
            sender_type=sender_type,
            status="received" if direction == "in" else "sent",
            body=fields.pop("body", "…"),
            created_at=moment,
            **fields,
        )

    def customer(self, moment) -> "Timeline":
        self._write(moment, direction="in", sender_type="contact")
        return self

    def agent(self, moment, user) -> "Timeline":
        self._write(moment, direction="out", sender_type="agent", author=user)
        return self

    def api(self, moment) -> "Timeline":  # an API token's reply: an agent with no person
        self._write(moment, direction="out", sender_type="agent", author=None)
        return self

    def note(self, moment, user) -> "Timeline":
        self._write(moment, direction="out", sender_type="agent", author=user, is_private=True)
        return self

    def system(self, moment, **metadata) -> "Timeline":  # campaigns, notifications, status lines
        self._write(moment, direction="out", sender_type="system", metadata=metadata)
        return self

    def bot(self, moment) -> "Timeline":
        self._write(moment, direction="out", sender_type="bot")
        return self


def build_timeline(tenant, alice, bob) -> None:
    sms, whatsapp = make_inbox(tenant), make_inbox(tenant, kind="whatsapp")
    t = NOW - dt.timedelta(hours=6)
    # Two customer messages, one reply: timed from the first (300 s, Alice). Then a campaign,
    # a private note, a bot answer: none is a reply; Bob's is (120 s). The last message waits.
    (
        Timeline(sms)
        .customer(at(t))
        .customer(at(t, 60))
        .agent(at(t, 300), alice)
        .system(at(t, 400), campaign_id=1)
        .customer(at(t, 500))
        .note(at(t, 520), bob)
        .bot(at(t, 530))
        .agent(at(t, 620), bob)
        .agent(at(t, 650), bob)  # a second reply answers nothing new
        .customer(at(t, 700))
    )
    # WhatsApp: an API token answers in 30 s; Alice in 900 s.
    t2 = NOW - dt.timedelta(hours=3)
    (
        Timeline(whatsapp)
        .customer(at(t2))
        .api(at(t2, 30))
        .customer(at(t2, 100))
        .agent(at(t2, 1000), alice)
    )
    # A run that began before the window is not timed from inside it; the next one is (40 s).
    (
        Timeline(sms)
        .customer(at(SINCE, -3600))
        .customer(at(SINCE, 3600))
        .agent(at(SINCE, 7200), alice)
        .customer(at(SINCE, 10800))
        .agent(at(SINCE, 10840), alice)
    )
    # Answered before the window; the first exchange inside it counts (200 s, Bob).
    (
        Timeline(sms)
        .customer(at(SINCE, -7200))
        .agent(at(SINCE, -3600), bob)
        .customer(at(SINCE, 600))
        .agent(at(SINCE, 800), bob)
    )
    # Asked before the window, answered inside it: not in this window's figures.
    Timeline(sms).customer(at(SINCE, -600)).agent(at(SINCE, 300), alice)
    # Only a notification after the customer: still unanswered.
    Timeline(sms).customer(at(t, 10)).system(at(t, 20), notification_id=7)


def by_channel(body: dict) -> dict:
    return {c["channel"]: (c["responses"], c["avg_response_seconds"]) for c in body["channels"]}


def by_agent(body: dict) -> dict:
    return {
        (a["agent"]["email"] if a["agent"] else None): (a["responses"], a["avg_response_seconds"])
        for a in body["agents"]
    }


@time_machine.travel(NOW, tick=False)
def test_it_averages_each_customer_message_to_the_next_agent_reply(
    client, tenant, api_token, make_member
):
    alice = make_member(tenant, "agent", email="alice@acme.test")
    bob = make_member(tenant, "supervisor", email="bob@acme.test")
    build_timeline(tenant, alice, bob)

    response = client.get("/api/v1/reports/messaging?days=1", **bearer(api_token))
    assert response.status_code == 200, response.content
    body = response.json()
    # SMS: 300 (A), 120 (B), 40 (A), 200 (B); WhatsApp: 30 (API), 900 (A).
    assert by_channel(body) == {"sms": (4, 165.0), "whatsapp": (2, 465.0)}
    assert by_agent(body) == {
        "alice@acme.test": (3, 413.3),  # (300 + 40 + 900) / 3
        "bob@acme.test": (2, 160.0),
        None: (1, 30.0),
    }
    assert [a["agent"] and a["agent"]["email"] for a in body["agents"]] == [
        "alice@acme.test",
        "bob@acme.test",
        None,
    ]
    assert body["agents"][0]["agent"]["id"] == alice.pk
    assert (body["totals"]["responses"], body["totals"]["avg_response_seconds"]) == (6, 265.0)


@time_machine.travel(NOW, tick=False)
def test_the_window_moves_with_days(tenant, make_member):
    alice = make_member(tenant, "agent", email="alice@acme.test")
    sms = make_inbox(tenant)
    old = NOW - dt.timedelta(days=5)
    Timeline(sms).customer(old).agent(at(old, 50), alice).customer(at(NOW, -100)).agent(
        at(NOW, -90), alice
    )
    assert messaging_report(tenant, 1)["totals"]["responses"] == 1
    week = messaging_report(tenant, 7)
    assert (week["totals"]["responses"], week["totals"]["avg_response_seconds"]) == (2, 30.0)


@time_machine.travel(NOW, tick=False)
def test_no_reply_means_no_average(tenant):
    Timeline(make_inbox(tenant)).customer(at(NOW, -60)).system(at(NOW, -30), campaign_id=3)
    report = messaging_report(tenant, 30)
    (row,) = report["channels"]
    assert (row["responses"], row["avg_response_seconds"]) == (0, None)
    assert report["agents"] == []
    assert (report["totals"]["responses"], report["totals"]["avg_response_seconds"]) == (0, None)


@time_machine.travel(NOW, tick=False)
def test_another_tenants_messages_never_count(client, tenant, other_tenant, api_token, make_member):
    alice = make_member(tenant, "agent", email="alice@acme.test")
    build_timeline(tenant, alice, make_member(tenant, "supervisor", email="bob@acme.test"))
    # The other tenant answers in 1 s on SMS and WhatsApp, and its agent is busy too.
    carol = make_member(other_tenant, "agent", email="carol@globex.test")
    for kind in ("sms", "whatsapp"):
        Timeline(make_inbox(other_tenant, kind=kind)).customer(at(NOW, -50)).agent(
            at(NOW, -49), carol
        )

    body = client.get("/api/v1/reports/messaging?days=1", **bearer(api_token)).json()
    assert by_channel(body) == {"sms": (4, 165.0), "whatsapp": (2, 465.0)}
    assert "carol@globex.test" not in by_agent(body)
    assert body["totals"]["responses"] == 6

    theirs = messaging_report(other_tenant, 1)
    assert (theirs["totals"]["responses"], theirs["totals"]["avg_response_seconds"]) == (2, 1.0)
    assert [a["agent"]["email"] for a in theirs["agents"]] == ["carol@globex.test"]


@time_machine.travel(NOW, tick=False)
def test_response_times_take_one_query_whatever_the_data(tenant, make_member):
    agents = [make_member(tenant, "agent", email=f"agent{n}@acme.test") for n in range(3)]

    def seed(conversations: int) -> None:
        inbox = make_inbox(tenant)
        for n in range(conversations):
            t = NOW - dt.timedelta(hours=2, minutes=n)
            line = Timeline(inbox)
            for turn in range(3):
                line.customer(at(t, turn * 100)).agent(at(t, turn * 100 + 10), agents[n % 3])

    def run() -> tuple[dict, list[str]]:
        with CaptureQueriesContext(connection) as ctx:
            report = messaging_report(tenant, 1)
        return report, [q["sql"] for q in ctx.captured_queries]

    seed(2)
    small, few = run()
    seed(40)
    big, many = run()
    assert (small["totals"]["responses"], big["totals"]["responses"]) == (6, 126)
    assert big["totals"]["avg_response_seconds"] == 10.0
    assert len(many) == len(few) == 4
    assert sum("GROUPING SETS" in sql for sql in many) == 1
