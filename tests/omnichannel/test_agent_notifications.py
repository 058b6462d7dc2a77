"""The agent notification centre: who is notified (members only, never the actor, once per
event, by the media they chose), the member's own list and read marks (never another's, never
another tenant's), their preferences, and the bell pushed live over their socket."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction

from omnichannel.agent_notifications import (
    Kind,
    do_notify,
    get_kind,
    register_kind,
    unread_notification_count,
)
from omnichannel.models import AgentNotification, AgentNotificationPreference, NotificationDigest
from tests.sockets import QUIET, socket

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
PING = Kind("test.ping", "Pinged", "A test notification.", email=True)
register_kind(PING)


@pytest.fixture
def agent(tenant, make_member):
    return make_member(tenant, "agent", email="agent@acme.test")


def ping(tenant, recipients, *, key="event:1", actor=None, title="Ping"):
    return do_notify(
        tenant,
        kind=PING.key,
        recipients=recipients,
        event_key=key,
        title=title,
        url="/inbox/",
        actor=actor,
    )


def test_an_unknown_kind_is_refused(tenant, agent):
    with pytest.raises(ValueError, match="Unknown notification kind"):
        do_notify(tenant, kind="nope", recipients=[agent], event_key="x", title="x")
    with pytest.raises(ValueError, match="registered twice"):
        register_kind(Kind("test.ping", "Other", "Another meaning."))
    assert get_kind("test.ping") == PING


def test_it_notifies_members_once_per_event_and_never_the_actor(
    tenant, other_tenant, owner, agent, make_member
):
    outsider = make_member(other_tenant, "agent", email="outsider@globex.test")

    first = ping(tenant, [agent, owner, outsider.pk], actor=owner)
    again = ping(tenant, [agent], actor=owner)

    assert [n.recipient for n in first] == [agent]
    assert again == []
    assert AgentNotification.objects.count() == 1
    [row] = AgentNotification.objects.all()
    assert (row.in_app, row.browser, row.email) == (True, True, True)  # the kind's defaults


def test_the_media_chosen_are_kept_on_the_row_and_none_writes_nothing(tenant, agent, owner):
    AgentNotificationPreference.objects.create(
        user=agent, kind=PING.key, in_app=True, browser=False, email=False
    )
    AgentNotificationPreference.objects.create(
        user=owner, kind=PING.key, in_app=False, browser=False, email=False
    )

    [row] = ping(tenant, [agent, owner])

    assert row.recipient == agent
    assert (row.in_app, row.browser, row.email) == (True, False, False)


def test_the_list_is_the_members_own_in_this_tenant(
    tenant, other_tenant, owner, agent, make_member, login
):
    ping(tenant, [agent], title="For the agent")
    ping(tenant, [owner], title="For the owner")
    # The agent is also a member of another tenant, where they have their own.
    make_member(other_tenant, "agent", email="agent@acme.test")
    ping(other_tenant, [agent], title="Globex news")

    page = login(agent).get("/me/notifications/").content.decode()

    assert "For the agent" in page
    assert "For the owner" not in page
    assert "Globex news" not in page
    assert '<span id="notify-count" class="nav-badge">1<' in page


def test_opening_a_notification_marks_it_read_and_goes_to_its_page(tenant, agent, login):
    [row] = ping(tenant, [agent])
    client = login(agent)

    response = client.post(f"/me/notifications/{row.pk}/open/")

    assert response.status_code == 302
    assert response["Location"] == "/inbox/"
    row.refresh_from_db()
    assert row.read_at is not None
    assert unread_notification_count(tenant, agent) == 0


def test_nobody_opens_or_reads_another_members_notification(
    tenant, other_tenant, owner, agent, login
):
    [theirs] = ping(tenant, [owner])
    other_owner = other_tenant.memberships.get().user
    [elsewhere] = ping(other_tenant, [other_owner])
    client = login(agent)

    assert client.post(f"/me/notifications/{theirs.pk}/open/").status_code == 404
    assert client.post(f"/me/notifications/{elsewhere.pk}/open/").status_code == 404
    client.post("/me/notifications/read/")

    assert AgentNotification.objects.filter(read_at__isnull=False).count() == 0


def test_mark_all_read_answers_the_list_and_the_badge(tenant, agent, login):
    ping(tenant, [agent], key="a")
    ping(tenant, [agent], key="b")

    response = login(agent).post("/me/notifications/read/", headers=HTMX)

    html = response.content.decode()
    assert 'id="notify-list"' in html
    assert '<span id="notify-count" class="nav-badge" hx-swap-oob="true" hidden>' in html
    assert unread_notification_count(tenant, agent) == 0


def test_the_panel_lists_a_bounded_page_in_a_fixed_number_of_queries(
    tenant, agent, owner, login, django_assert_max_num_queries
):
    for n in range(30):
        ping(tenant, [agent], key=f"event:{n}", actor=owner, title=f"Ping {n}")
    client = login(agent)
    client.get("/me/notifications/", headers=HTMX)  # the session and the like, warmed up

    with django_assert_max_num_queries(8):
        html = client.get("/me/notifications/", headers=HTMX).content.decode()

    assert html.count('class="notify-item unread"') == 20
    assert "Ping 29" in html and "Ping 9" not in html


def test_members_choose_their_media_and_digest(tenant, agent, login):
    client = login(agent)
    page = client.get("/me/notifications/preferences/").content.decode()
    assert "Mentioned" in page and "Assigned to me" in page

    response = client.post(
        "/me/notifications/preferences/",
        {"inbox.mentioned.in_app": "on", "inbox.mentioned.email": "on", "digest": "daily"},
    )

    assert response.status_code == 302
    pref = AgentNotificationPreference.objects.get(user=agent, kind="inbox.mentioned")
    assert (pref.in_app, pref.browser, pref.email) == (True, False, True)
    off = AgentNotificationPreference.objects.get(user=agent, kind="inbox.assigned")
    assert (off.in_app, off.browser, off.email) == (False, False, False)
    assert NotificationDigest.objects.get(user=agent).frequency == "daily"


def test_an_unknown_digest_frequency_is_refused_with_the_choices(tenant, agent, login):
    client = login(agent)

    page = client.post(
        "/me/notifications/preferences/", {"digest": "weekly"}, follow=True
    ).content.decode()

    assert "Unknown digest frequency “weekly”; use one of off, hourly, daily." in page
    assert not NotificationDigest.objects.exists()


# --- realtime -------------------------------------------------------------------------------


def _ping_committed(tenant, recipients, **kwargs):
    with transaction.atomic():
        return ping(tenant, recipients, **kwargs)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_prefix")
async def test_a_notification_reaches_only_its_recipients_socket(
    tenant, other_tenant, owner, make_member, signed_in
):
    agent = await sync_to_async(make_member)(tenant, "agent", email="agent@acme.test")
    other_owner = await sync_to_async(lambda: other_tenant.memberships.get().user)()
    clients = [await sync_to_async(signed_in)(u) for u in (agent, owner, other_owner)]

    async with (
        socket(clients[0]) as agents,
        socket(clients[1]) as owners,
        socket(clients[2]) as theirs,
    ):
        [row] = await sync_to_async(_ping_committed)(tenant, [agent], actor=owner)

        message = json.loads(await agents.receive_from(timeout=2))
        assert message["type"] == "agent_notification.created"
        assert message["payload"]["id"] == row.pk
        assert message["payload"]["title"] == "Ping"
        assert await owners.receive_nothing(timeout=QUIET)
        assert await theirs.receive_nothing(timeout=QUIET)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_prefix")
async def test_a_browser_socket_gets_the_bell_and_the_announcement(tenant, make_member, signed_in):
    agent = await sync_to_async(make_member)(tenant, "agent", email="agent@acme.test")
    client = await sync_to_async(signed_in)(agent)

    async with socket(client, path="/ws/?format=html") as browser:
        await sync_to_async(_ping_committed)(tenant, [agent], title="Ping <now>")

        html = await browser.receive_from(timeout=2)

    assert '<span id="notify-count" class="nav-badge" hx-swap-oob="true">1<' in html
    assert 'id="notify-list"' in html and "Ping &lt;now&gt;" in html
    assert 'data-notify-title="Ping &lt;now&gt;"' in html
    assert 'data-notify-browser="1"' in html


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_prefix")
async def test_a_member_of_two_tenants_gets_each_tenants_notifications_on_its_own_socket(
    tenant, other_tenant, make_member, signed_in
):
    agent = await sync_to_async(make_member)(tenant, "agent", email="agent@acme.test")
    await sync_to_async(make_member)(other_tenant, "agent", email="agent@acme.test")
    on_acme = await sync_to_async(signed_in)(agent, tenant)
    on_globex = await sync_to_async(signed_in)(agent, other_tenant)

    async with socket(on_acme) as acme, socket(on_globex) as globex:
        await sync_to_async(_ping_committed)(other_tenant, [agent], title="Globex news")

        message = json.loads(await globex.receive_from(timeout=2))
        assert message["payload"]["title"] == "Globex news"
        assert await acme.receive_nothing(timeout=QUIET)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_prefix")
async def test_reading_in_one_tab_updates_the_bell_in_the_others(tenant, make_member, signed_in):
    from omnichannel.agent_notifications import do_mark_all_notifications_read

    agent = await sync_to_async(make_member)(tenant, "agent", email="agent@acme.test")
    await sync_to_async(_ping_committed)(tenant, [agent])
    client = await sync_to_async(signed_in)(agent)

    async with socket(client, path="/ws/?format=html") as other_tab:
        assert await sync_to_async(do_mark_all_notifications_read)(tenant, agent) == 1

        html = await other_tab.receive_from(timeout=2)

    assert '<span id="notify-count" class="nav-badge" hx-swap-oob="true" hidden>' in html
    assert 'id="notify-alert"' not in html  # nothing new to announce
