"""One clock on screen: times read in the person's zone (theirs, else the tenant's), named
where a bare time would be ambiguous; the preference that chooses it; pushed fragments in each
reader's zone. Instants sit just after midnight UTC, so a page still in UTC shows another day."""

import datetime
import html
import re
import zoneinfo

import pytest
import time_machine
from asgiref.sync import sync_to_async
from django.core import mail
from django.db import transaction
from django.test import Client
from django.utils import timezone

from omnichannel import audit, events
from omnichannel.actions import do_invite_member
from omnichannel.events import EventType
from omnichannel.models import AuditEvent, Invitation, Membership, Role, UserPreference
from omnichannel.zones import display_zone, recipient_zones, zone_label
from tests.sockets import socket

pytestmark = pytest.mark.clock

UTC = datetime.UTC
# 03:30 UTC on 5 Dec: 21:30 on 4 Dec in Mexico City (UTC-6), 16:30 on 5 Dec in Auckland (+13).
INSTANT = datetime.datetime(2026, 12, 5, 3, 30, tzinfo=UTC)


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def in_zone(tenant, name: str = "America/Mexico_City") -> None:
    tenant.timezone = name
    tenant.save(update_fields=["timezone"])


def prefer(user, name: str) -> None:
    UserPreference.objects.update_or_create(user=user, defaults={"timezone": name})


# --- Whose zone ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_persons_own_zone_wins_over_the_tenants_and_blank_follows_the_tenant(tenant, owner):
    in_zone(tenant)
    assert display_zone(owner, tenant).key == "America/Mexico_City"
    prefer(owner, "Pacific/Auckland")
    owner.refresh_from_db()
    assert display_zone(owner, tenant).key == "Pacific/Auckland"
    assert display_zone(None, None).key == "UTC"


def test_a_zone_is_named_with_its_abbreviation_where_it_has_one():
    winter = datetime.datetime(2026, 12, 5, tzinfo=UTC)
    assert zone_label(zoneinfo.ZoneInfo("America/Mexico_City"), winter) == (
        "America/Mexico_City (CST)"
    )
    assert zone_label(zoneinfo.ZoneInfo("UTC"), winter) == "UTC"
    # Zones without letters print an offset ("-03"): the name alone says more.
    assert zone_label(zoneinfo.ZoneInfo("America/Sao_Paulo"), winter) == "America/Sao_Paulo"


# --- The preference ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_person_chooses_their_zone_on_their_preferences_page(tenant, owner, login):
    in_zone(tenant)
    client = login(owner)
    page = client.get("/preferences/")
    assert page.status_code == 200
    assert "Your tenant's (America/Mexico_City)" in html.unescape(page.content.decode())
    assert 'href="/preferences/"' in page.content.decode()  # the topbar's link to it

    response = client.post("/preferences/", {"timezone": "Pacific/Auckland", "theme": "light"})
    assert response.status_code == 302
    preference = UserPreference.objects.get(user=owner)
    assert (preference.timezone, preference.theme) == ("Pacific/Auckland", "light")
    assert 'data-time-zone="Pacific/Auckland"' in client.get("/preferences/").content.decode()

    client.post("/preferences/", {"timezone": "", "theme": "light"})
    assert UserPreference.objects.get(user=owner).timezone == ""
    assert 'data-time-zone="America/Mexico_City"' in client.get("/preferences/").content.decode()


@pytest.mark.django_db
def test_an_unknown_zone_is_refused_with_words_a_person_can_act_on(tenant, owner, login):
    client = login(owner)
    response = client.post("/preferences/", {"timezone": "Mars/Olympus_Mons", "theme": "dark"})
    assert response.status_code == 400
    assert "“Mars/Olympus_Mons” is not a time zone we know" in response.content.decode()
    assert not UserPreference.objects.filter(user=owner).exclude(timezone="").exists()


# --- Pages of the core ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_audit_trail_reads_in_the_persons_zone_and_names_it(tenant, owner, login):
    in_zone(tenant)
    with time_machine.travel(INSTANT, tick=False):
        audit.record(AuditEvent.Action.TENANT_SETTINGS_CHANGED, tenant=tenant, actor=owner)
    client = login(owner)

    page = text_of(client.get("/settings/audit/"))
    assert "2026-12-04 21:30:00" in page
    assert "Times in America/Mexico_City (CST)" in page

    prefer(owner, "Pacific/Auckland")
    page = text_of(client.get("/settings/audit/"))
    assert "2026-12-05 16:30:00" in page
    assert "Times in Pacific/Auckland (NZDT)" in page


@pytest.mark.django_db
def test_invitation_expiry_reads_in_the_persons_zone(tenant, owner, login):
    in_zone(tenant)
    acting = Membership.objects.get(tenant=tenant, user=owner)
    agent = Role.objects.get(tenant=tenant, builtin="agent")
    with time_machine.travel(INSTANT, tick=False):
        invitation, _ = do_invite_member(
            tenant, email="new@example.test", role=agent, acting=acting
        )
    local = timezone.localtime(invitation.expires_at, zoneinfo.ZoneInfo("America/Mexico_City"))
    assert local.hour == 21  # the instant stays just past midnight UTC

    with time_machine.travel(INSTANT, tick=False):
        page = text_of(login(owner).get("/settings/members/"))
    assert f"{local:%Y-%m-%d} 21:30" in page
    assert f"{invitation.expires_at:%Y-%m-%d} 03:30" not in page


@pytest.mark.django_db
def test_the_invitation_names_the_tenants_zone_for_the_invitee(
    tenant, owner, login, django_capture_on_commit_callbacks
):
    """The invitee has no zone yet: the email and the page use the tenant's, and say so —
    not the inviter's own zone, nor a bare UTC."""
    in_zone(tenant)
    prefer(owner, "Pacific/Auckland")
    client = login(owner)
    agent = Role.objects.get(tenant=tenant, builtin="agent")
    with time_machine.travel(INSTANT, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            client.post(
                "/settings/members/invite/", {"email": "new@example.test", "role": agent.pk}
            )
        (message,) = mail.outbox
        invitation = Invitation.objects.get(tenant=tenant)
        day = timezone.localtime(invitation.expires_at, zoneinfo.ZoneInfo("America/Mexico_City"))
        assert f"{day.day} {day:%b %Y}, 21:30 America/Mexico_City (CST)" in message.body
        assert "UTC" not in message.body

        link = re.search(r"http://testserver(/invitations/[^/\s]+/)", message.body).group(1)
        page = text_of(Client().get(link))
    assert f"{day.day} {day:%b %Y}, 21:30 America/Mexico_City (CST)" in page


# --- Pushed fragments ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_zones_of_an_events_readers_are_theirs_and_the_tenants(
    tenant, owner, make_member, other_tenant
):
    in_zone(tenant)
    agent = make_member(tenant, "agent")
    prefer(make_member(other_tenant, "agent"), "Asia/Tokyo")  # not a reader of this tenant
    assert recipient_zones(tenant) == {"America/Mexico_City"}
    prefer(agent, "Pacific/Auckland")
    assert recipient_zones(tenant) == {"America/Mexico_City", "Pacific/Auckland"}
    prefer(owner, "Not/A_Zone")  # an old or hand-edited row is ignored, not rendered in
    assert recipient_zones(tenant, users=[agent]) == {"America/Mexico_City", "Pacific/Auckland"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_prefix")
async def test_each_browser_gets_a_pushed_fragment_in_its_readers_zone(
    tenant, owner, make_member, signed_in
):
    agent = await sync_to_async(make_member)(tenant, "agent")

    def setup() -> None:
        in_zone(tenant)
        prefer(agent, "Pacific/Auckland")

    await sync_to_async(setup)()
    owner_client = await sync_to_async(signed_in)(owner)
    agent_client = await sync_to_async(signed_in)(agent)

    def publish() -> None:
        with transaction.atomic():
            events.publish(
                tenant,
                EventType.AGENT_STATUS_CHANGED,
                {},
                render_html=lambda: f"<p>{timezone.localtime(INSTANT):%d %H:%M}</p>",
            )

    async with (
        socket(owner_client, path="/ws/?format=html") as owners,
        socket(agent_client, path="/ws/?format=html") as agents,
    ):
        await sync_to_async(publish)()
        assert await owners.receive_from(timeout=2) == "<p>04 21:30</p>"
        assert await agents.receive_from(timeout=2) == "<p>05 16:30</p>"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_prefix")
async def test_a_socket_whose_reader_changed_zone_gets_the_tenants_piece(tenant, owner, signed_in):
    await sync_to_async(in_zone)(tenant)
    await sync_to_async(prefer)(owner, "Asia/Tokyo")
    client = await sync_to_async(signed_in)(owner)

    def publish() -> None:
        with transaction.atomic():
            events.publish(
                tenant,
                EventType.AGENT_STATUS_CHANGED,
                {},
                render_html=lambda: f"<p>{timezone.get_current_timezone_name()}</p>",
            )

    async with socket(client, path="/ws/?format=html") as browser:
        await sync_to_async(publish)()
        assert await browser.receive_from(timeout=2) == "<p>Asia/Tokyo</p>"
        # Changed in another tab: this socket still reads Tokyo, which no piece is for now.
        await sync_to_async(prefer)(owner, "Pacific/Auckland")
        await sync_to_async(publish)()
        assert await browser.receive_from(timeout=2) == "<p>America/Mexico_City</p>"
