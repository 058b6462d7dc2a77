"""The email digest of agent notifications: due by each member's frequency, listing unread
notifications once, never another member's, nothing for those who turned it off."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import mail

from omnichannel.agent_notifications import Kind, do_notify, register_kind
from omnichannel.models import AgentNotification, NotificationDigest
from omnichannel.tasks import send_notification_digests_task

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DIGESTED = Kind("test.digested", "Digested", "A test notification sent by email.", email=True)
IN_APP_ONLY = Kind("test.in_app", "In the app", "A test notification not sent by email.")
register_kind(DIGESTED, IN_APP_ONLY)


@pytest.fixture
def agent(tenant, make_member):
    return make_member(tenant, "agent", email="agent@acme.test")


def notify(tenant, user, key, *, kind=DIGESTED, title=None):
    return do_notify(
        tenant,
        kind=kind.key,
        recipients=[user],
        event_key=key,
        title=title or f"About {key}",
        url=f"/inbox/c/{key}/",
    )


@time_machine.travel(NOW, tick=False)
def test_an_hourly_digest_lists_unread_notifications_once(tenant, owner, agent):
    NotificationDigest.objects.create(user=agent, frequency="hourly")
    notify(tenant, agent, "1")
    [read] = notify(tenant, agent, "2")
    AgentNotification.objects.filter(pk=read.pk).update(read_at=NOW)
    notify(tenant, agent, "3", kind=IN_APP_ONLY)
    notify(tenant, owner, "4")  # the owner never asked for a digest

    assert send_notification_digests_task.apply().get() == 1

    [email] = mail.outbox
    assert email.to == ["agent@acme.test"]
    assert email.subject == "[Centro] 1 unread notification"
    assert "Acme Travel" in email.body
    assert "- About 1 (2026-03-02 09:00 UTC)" in email.body
    assert f"{settings.PUBLIC_BASE_URL}/inbox/c/1/" in email.body
    assert "About 2" not in email.body and "About 3" not in email.body
    assert "/me/notifications/preferences/" in email.body

    # Within the hour nothing is due; an hour later only what is new is sent.
    with time_machine.travel(NOW + timedelta(minutes=30), tick=False):
        notify(tenant, agent, "5")
        assert send_notification_digests_task.apply().get() == 0
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        assert send_notification_digests_task.apply().get() == 1
    assert len(mail.outbox) == 2
    assert "About 5" in mail.outbox[1].body and "About 1" not in mail.outbox[1].body

    with time_machine.travel(NOW + timedelta(hours=3), tick=False):
        assert send_notification_digests_task.apply().get() == 0  # nothing new, nothing sent
    assert len(mail.outbox) == 2


@time_machine.travel(NOW, tick=False)
def test_a_daily_digest_waits_a_day_and_off_sends_nothing(tenant, owner, agent):
    NotificationDigest.objects.create(user=agent, frequency="daily", last_sent_at=NOW)
    NotificationDigest.objects.create(user=owner, frequency="off")
    notify(tenant, agent, "1")
    notify(tenant, owner, "2")

    with time_machine.travel(NOW + timedelta(hours=23), tick=False):
        assert send_notification_digests_task.apply().get() == 0
    with time_machine.travel(NOW + timedelta(hours=24), tick=False):
        assert send_notification_digests_task.apply().get() == 1

    assert [email.to for email in mail.outbox] == [["agent@acme.test"]]


@time_machine.travel(NOW, tick=False)
def test_a_digest_leaves_out_tenants_the_member_has_left(tenant, other_tenant, agent):
    from omnichannel.models import Membership, Role

    Membership.objects.create(
        tenant=other_tenant,
        user=agent,
        role=Role.objects.get(tenant=other_tenant, builtin="agent"),
    )
    NotificationDigest.objects.create(user=agent, frequency="hourly")
    notify(tenant, agent, "1", title="From Acme")
    notify(other_tenant, agent, "2", title="From Globex")
    Membership.objects.filter(tenant=other_tenant, user=agent).delete()

    assert send_notification_digests_task.apply().get() == 1

    [email] = mail.outbox
    assert "From Acme" in email.body and "From Globex" not in email.body
