"""The campaign pages without JavaScript: the list, the builder and its preview, a campaign's
live page and its actions, tenant isolation and permissions."""

import datetime
import re
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns import engine
from campaigns.lifecycle import do_launch_campaign, do_save_campaign
from campaigns.models import Campaign
from campaigns.progress import progress_html
from campaigns.services import do_save_template
from campaigns.stats import campaign_stats
from contacts.actions import do_set_consent
from contacts.blocklist import do_block_address
from contacts.lists import add_members, do_create_list, do_create_segment
from contacts.models import BlockedAddress, Consent, Contact
from contacts.phones import format_phone
from omnichannel.channels import Channel
from omnichannel.models import AuditEvent
from tests.campaigns.conftest import make_contacts

pytestmark = pytest.mark.django_db

S = Campaign.Status


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def count(html: str, attribute: str, key: str) -> int:
    found = re.search(rf'{attribute}="{key}"[^>]*>\s*(\d+)\s*<', html)
    assert found, f"no {attribute}={key} in the page"
    return int(found.group(1))


def builder_post(inbox, template, lists=(), **fields) -> dict:
    data = {
        "name": "Spring sale",
        "inbox": inbox.pk,
        "template": template.pk,
        "lists": [lst.pk for lst in lists],
        "send_when": "now",
        "pacing": "none",
        "quiet_start": "21:00",
        "quiet_end": "08:00",
    }
    data.update(fields)
    return data


@pytest.fixture
def client(owner, login):
    return login(owner)


# --- The list ------------------------------------------------------------------------------


def test_it_lists_campaigns_newest_first_in_a_bounded_number_of_queries(
    tenant, client, audience, make_campaign, django_assert_max_num_queries
):
    people = audience(4)
    make_campaign(name="Oldest")
    launched = do_launch_campaign(make_campaign(name="Launched", lists=[people]))
    with CaptureQueriesContext(connection) as few:
        assert client.get("/campaigns/").status_code == 200
    for n in range(30):
        make_campaign(name=f"Campaign {n:02d}")

    with django_assert_max_num_queries(len(few) + 1):  # +1: the page count of a longer list
        response = client.get("/campaigns/")
    html = response.content.decode()
    names = re.findall(r'<a href="/campaigns/\d+/">([^<]+)</a>', html)
    assert len(names) == 25
    assert names[:2] == ["Campaign 29", "Campaign 28"]
    assert "New campaign" in html

    older = client.get("/campaigns/?page=2").content.decode()
    names = re.findall(r'<a href="/campaigns/\d+/">([^<]+)</a>', older)
    assert names[-2:] == ["Launched", "Oldest"]
    row = re.search(rf'<tr id="campaign-{launched.pk}">.*?</tr>', older, re.S).group(0)
    assert "Running" in row and "0.0 % · 0 / 4 sent" in row
    assert "SMS" in row and "Hello" in row  # inbox and template


def test_it_hides_the_new_campaign_button_from_people_who_cannot_edit(tenant, make_member, login):
    agent = login(make_member(tenant, "agent"))
    response = agent.get("/campaigns/")
    assert response.status_code == 200
    assert "New campaign" not in response.content.decode()
    assert "No campaigns yet." in response.content.decode()


def test_the_navigation_opens_the_campaigns_app(tenant, client):
    html = client.get("/campaigns/").content.decode()
    assert re.search(r'<a href="/campaigns/" aria-current="page">Campaigns', html)


# --- The builder ---------------------------------------------------------------------------


def test_the_builder_shows_each_problem_next_to_its_field_and_keeps_the_values(
    tenant, client, sms_inbox, sms_template, audience
):
    people = audience(2)
    response = client.post(
        "/campaigns/new/",
        builder_post(
            sms_inbox,
            sms_template,
            lists=[people],
            name="  ",
            send_when="later",
            scheduled_at="",
            pacing="delay",
            delay_value="soon",
            delay_unit="minutes",
            quiet_hours="on",
            quiet_start="25:99",
        ),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "The draft was not saved" in html
    assert 'id="campaign-name-error">Name is required.' in html
    assert re.search(r'id="campaign-delay-error">The delay must be a number', html)
    assert re.search(r'id="campaign-scheduled-at-error">The start time must be a date', html)
    assert re.search(
        r'id="campaign-quiet-start-error">The start of quiet hours must be a time', html
    )
    # What was typed and chosen is still there.
    assert 'name="delay_value" value="soon"' in html
    assert re.search(r'<option value="minutes" selected>', html)
    assert re.search(rf'<option value="{people.pk}" selected>Audience \(2\)', html)
    assert re.search(rf'<option value="{sms_inbox.pk}" data-channel="sms" selected>', html)
    assert 'value="delay" checked' in html and 'value="later" checked' in html
    assert not Campaign.objects.exists()


def test_the_builder_refuses_a_template_of_another_channel_and_foreign_lists(
    tenant, other_tenant, client, sms_inbox
):
    whatsapp = do_save_template(
        tenant,
        name="WA promo",
        channel=Channel.WHATSAPP,
        content_sid="HX" + "a" * 32,
        variables={"1": "firstName"},
    )
    foreign = do_create_list(other_tenant, name="Globex customers")
    response = client.post("/campaigns/new/", builder_post(sms_inbox, whatsapp, lists=[foreign]))
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'id="campaign-template-error">Template is written for whatsapp', html)
    assert re.search(r'id="campaign-lists-error">Lists has ids that are not this tenant', html)
    assert "Globex customers" not in html


def test_it_creates_a_draft_with_its_schedule_in_the_tenants_time_zone(
    tenant, client, sms_inbox, sms_template, audience
):
    tenant.timezone = "America/Mexico_City"
    tenant.save()
    people = audience(3)
    response = client.post(
        "/campaigns/new/",
        builder_post(
            sms_inbox,
            sms_template,
            lists=[people],
            send_when="later",
            scheduled_at="2031-12-24T09:30",
            pacing="delay",
            delay_value="2",
            delay_unit="minutes",
            quiet_start="22:00",
            quiet_end="07:30",
            quiet_hours="on",
        ),
    )
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/campaigns/{campaign.pk}/"
    assert campaign.status == S.DRAFT
    assert campaign.name == "Spring sale"
    assert campaign.created_by.email == "owner@acme.test"
    zone = zoneinfo.ZoneInfo("America/Mexico_City")
    assert campaign.scheduled_at == datetime.datetime(2031, 12, 24, 9, 30, tzinfo=zone)
    assert (campaign.pacing, campaign.delay_seconds) == ("delay", 120.0)
    assert campaign.quiet_hours
    assert (campaign.quiet_start, campaign.quiet_end) == (
        datetime.time(22, 0),
        datetime.time(7, 30),
    )
    assert list(campaign.lists.all()) == [people]

    page = client.get(response["Location"])
    html = page.content.decode()
    assert "Saved the draft “Spring sale”." in messages_of(page)
    assert "24 Dec 2031, 09:30" in html and "America/Mexico_City" in html
    assert "One message every 120 s" in html
    assert ">Schedule</button>" in html


def test_it_turns_windows_and_rates_into_seconds_and_quiet_hours_off(
    tenant, client, sms_inbox, sms_template
):
    client.post(
        "/campaigns/new/",
        builder_post(
            sms_inbox, sms_template, pacing="window", window_value="1.5", window_unit="hours"
        ),
    )
    client.post(
        "/campaigns/new/",
        builder_post(sms_inbox, sms_template, name="Fast", pacing="rate", rate="2.5"),
    )
    window, rate = Campaign.objects.order_by("pk")
    assert (window.pacing, window.window_seconds, window.quiet_hours) == ("window", 5400, False)
    assert window.scheduled_at is None
    assert (rate.pacing, rate.rate_per_second) == ("rate", 2.5)


def test_it_edits_a_draft_and_sends_a_launched_campaign_back_to_its_page(
    tenant, client, audience, make_campaign, sms_inbox, sms_template
):
    people = audience(2)
    campaign = make_campaign(lists=[people], pacing="window", window_seconds=7200)
    html = client.get(f"/campaigns/{campaign.pk}/edit/").content.decode()
    assert 'name="window_value" value="2"' in html
    assert re.search(r'<option value="hours" selected>', html)
    assert 'value="window" checked' in html
    assert 'id="campaign-quiet"' in html and 'id="campaign-quiet" checked' not in html

    response = client.post(
        f"/campaigns/{campaign.pk}/edit/",
        builder_post(sms_inbox, sms_template, lists=[people], name="Renamed", pacing="none"),
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.name, campaign.pacing, campaign.window_seconds) == ("Renamed", "none", None)

    do_launch_campaign(campaign)
    response = client.get(f"/campaigns/{campaign.pk}/edit/", follow=True)
    assert response.redirect_chain[-1][0] == f"/campaigns/{campaign.pk}/"
    assert "Only drafts can be changed" in " ".join(messages_of(response))
    response = client.post(
        f"/campaigns/{campaign.pk}/edit/", builder_post(sms_inbox, sms_template, name="Again")
    )
    campaign.refresh_from_db()
    assert campaign.name == "Renamed"


# --- The builder's preview -----------------------------------------------------------------


def test_the_preview_counts_who_gets_it_and_who_is_skipped_and_why(
    tenant, other_tenant, client, sms_inbox, sms_template, audience
):
    vip = audience(6, name="VIP")
    contacts = list(Contact.objects.filter(tenant=tenant).order_by("pk"))
    do_set_consent(
        contacts[0],
        channel="sms",
        sender=sms_inbox.address,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.KEYWORD,
    )
    do_block_address(tenant, kind=BlockedAddress.Kind.PHONE, value=contacts[1].phone)
    no_phone = Contact.objects.create(tenant=tenant, name="No phone")
    add_members(vip, [no_phone.pk])
    newsletter = do_create_list(tenant, name="Newsletter")
    add_members(newsletter, [contacts[2].pk, contacts[3].pk])
    person2 = do_create_segment(tenant, name="Person2", filters={"q": "Person2"})
    foreign = do_create_list(other_tenant, name="Globex")
    add_members(foreign, [c.pk for c in make_contacts(other_tenant, 5, start=100)])

    response = client.get(
        "/campaigns/preview/",
        {
            "inbox": sms_inbox.pk,
            "template": sms_template.pk,
            "lists": [vip.pk, newsletter.pk, foreign.pk],
            "segments": [person2.pk],
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="campaign-preview"')
    assert "<html" not in html
    assert count(html, "data-count", "sendable") == 4
    assert "10 in the audience, 6 skipped." in text_of(response)
    assert {
        reason: count(html, "data-skip", reason)
        for reason in ("opted_out", "blocked", "invalid", "duplicate")
    } == {
        "opted_out": 1,
        "blocked": 1,
        "invalid": 1,
        "duplicate": 3,
    }
    assert (
        format_phone(contacts[0].phone, "US") in html and "Opted out" in html
    )  # an example, with its reason
    assert f'href="/contacts/{contacts[0].pk}/"' in html
    # The message as the first person of the audience gets it, and its SMS segments.
    assert "Hi Person0!" in html
    assert re.search(
        r"1 SMS segment per message .*GSM-7.*: about 4 segments in all", text_of(response)
    )


def test_the_preview_waits_for_an_inbox_a_template_and_an_audience(tenant, client, sms_inbox):
    template = do_save_template(tenant, name="Long", channel=Channel.SMS, body="Olá " + "x" * 70)
    html = client.get(
        "/campaigns/preview/", {"inbox": sms_inbox.pk, "template": template.pk}
    ).content.decode()
    assert 'id="preview-empty"' in html
    assert "As written" in html
    assert re.search(r"2 SMS segments per message", html)
    assert "UCS-2" in html and 'class="non-gsm">á<' in html


def test_the_preview_names_its_sample_contact_without_a_name_by_their_formatted_phone(
    tenant, client, sms_inbox, sms_template, audience
):
    people = audience(1)
    Contact.objects.filter(tenant=tenant).update(name="", first_name="")
    html = client.get(
        "/campaigns/preview/",
        {"inbox": sms_inbox.pk, "template": sms_template.pk, "lists": [people.pk]},
    ).content.decode()
    assert "As (415) 200-0000 would get it." in html


def test_the_preview_reports_a_segment_that_no_longer_works(
    tenant, client, sms_inbox, sms_template
):
    broken = do_create_segment(tenant, name="Broken", filters={"q": "x"})
    type(broken).objects.filter(pk=broken.pk).update(
        filters={"attributes": [{"key": "gone", "op": "eq", "value": "1"}]}
    )
    html = client.get(
        "/campaigns/preview/",
        {"inbox": sms_inbox.pk, "template": sms_template.pk, "segments": [broken.pk]},
    ).content.decode()
    assert "The segment “Broken” no longer works" in html


# --- A campaign's page and its actions -----------------------------------------------------


def test_it_launches_a_draft_once_and_says_so_the_second_time(
    tenant, client, audience, make_campaign
):
    campaign = make_campaign(lists=[audience(3)])
    html = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert ">Launch</button>" in html and ">Edit</a>" in html and ">Delete</button>" in html

    response = client.post(f"/campaigns/{campaign.pk}/launch/", follow=True)
    campaign.refresh_from_db()
    assert campaign.status == S.RUNNING
    assert "Launched: 3 messages to send." in messages_of(response)
    assert AuditEvent.objects.filter(action="campaign.launched", actor__isnull=False).exists()
    html = response.content.decode()
    assert ">Pause</button>" in html and ">Cancel campaign</button>" in html
    assert ">Launch</button>" not in html and ">Delete</button>" not in html

    response = client.post(f"/campaigns/{campaign.pk}/launch/", follow=True)
    assert any("already launched" in m for m in messages_of(response))
    assert campaign.recipients.count() == 3


def test_a_launch_without_an_audience_is_refused_with_the_reason(tenant, client, make_campaign):
    campaign = make_campaign()
    response = client.post(f"/campaigns/{campaign.pk}/launch/", follow=True)
    assert (
        "The campaign cannot be launched: Audience: choose at least one list or segment."
        in messages_of(response)
    )
    campaign.refresh_from_db()
    assert campaign.status == S.DRAFT


def test_it_pauses_resumes_and_cancels_a_campaign(tenant, owner, client, audience, make_campaign):
    campaign = do_launch_campaign(make_campaign(lists=[audience(4)]))
    url = f"/campaigns/{campaign.pk}"

    response = client.post(f"{url}/pause/", {"reason": "Wrong link in the text"}, follow=True)
    campaign.refresh_from_db()
    assert campaign.status == S.PAUSED
    assert "Paused: Wrong link in the text" in text_of(response)
    assert ">Resume</button>" in response.content.decode()

    response = client.post(f"{url}/pause/", follow=True)
    assert any("Only a scheduled or running campaign" in m for m in messages_of(response))

    client.post(f"{url}/resume/")
    campaign.refresh_from_db()
    assert (campaign.status, campaign.pause_reason) == (S.RUNNING, "")

    client.post(f"{url}/pause/")
    campaign.refresh_from_db()
    assert campaign.pause_reason == "Paused by owner@acme.test."

    response = client.post(f"{url}/cancel/", follow=True)
    campaign.refresh_from_db()
    assert campaign.status == S.CANCELLED
    audited = AuditEvent.objects.filter(tenant=tenant, actor=owner).values_list("action", flat=True)
    assert {"campaign.resumed", "campaign.cancelled"} <= set(audited)
    assert any(
        m.startswith("Cancelled: 4 messages will not be sent") for m in messages_of(response)
    )
    assert ">Delete</button>" in response.content.decode()

    response = client.post(f"{url}/resume/", follow=True)
    assert any("Only a paused campaign" in m for m in messages_of(response))
    response = client.post(f"{url}/delete/", follow=True)
    assert response.redirect_chain[-1][0] == "/campaigns/"
    assert not Campaign.objects.filter(pk=campaign.pk).exists()


def test_a_running_campaign_cannot_be_deleted(tenant, client, audience, make_campaign):
    campaign = do_launch_campaign(make_campaign(lists=[audience(1)]))
    response = client.post(f"/campaigns/{campaign.pk}/delete/", follow=True)
    assert "Cancel the campaign before deleting it." in messages_of(response)
    assert Campaign.objects.filter(pk=campaign.pk).exists()


def test_the_page_says_when_the_circuit_breaker_paused_the_campaign(
    tenant, client, audience, make_campaign
):
    campaign = do_launch_campaign(make_campaign(lists=[audience(2)]))
    Campaign.objects.filter(pk=campaign.pk).update(
        status=S.PAUSED,
        paused_by_breaker=True,
        pause_reason="The provider refused 5 messages in a row (20003: authentication).",
    )
    response = client.get(f"/campaigns/{campaign.pk}/live/")
    assert re.search(
        r"Paused automatically: The provider refused 5 messages in a row .* It resumes by "
        r"itself",
        text_of(response),
    )


def test_the_live_piece_shows_the_numbers_errors_and_charts(
    tenant, client, fake_twilio, audience, make_campaign
):
    people = audience(5)
    Contact.objects.create(tenant=tenant, name="No phone")
    add_members(people, [Contact.objects.get(name="No phone").pk])
    campaign = do_launch_campaign(make_campaign(lists=[people]))
    fake_twilio.queue_response(status=400, code=21211)
    assert engine.work(campaign.pk, seconds=30) == "finished"

    response = client.get(f"/campaigns/{campaign.pk}/live/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<section id="campaign-{campaign.pk}-live"')
    assert "hx-swap-oob" not in html and "data-poll-url" not in html  # finished: no polling
    assert 'data-campaign-state="completed"' in html
    numbers = {
        key: count(html, "data-count", key) for key in ("queued", "sent", "failed", "skipped")
    }
    assert numbers == {"queued": 0, "sent": 4, "failed": 1, "skipped": 1}
    assert count(html, "data-skip", "invalid") == 1
    assert count(html, "data-error-count", "21211") == 1
    assert "100.0 %" in html
    assert '<svg class="chart"' in html and '<svg class="chart funnel"' in html
    assert 'data-rate="delivery">0.0 %' in html  # sent, but no delivery callback yet


def test_the_pushed_piece_is_the_same_piece_marked_out_of_band(
    tenant, client, audience, make_campaign
):
    campaign = do_launch_campaign(make_campaign(lists=[audience(2)]))
    pushed = progress_html(campaign, campaign_stats(campaign))
    assert f'id="campaign-{campaign.pk}-live"' in pushed
    assert 'hx-swap-oob="true"' in pushed
    assert f'data-poll-url="/campaigns/{campaign.pk}/live/"' in pushed
    assert "csrfmiddlewaretoken" not in pushed and "<button" not in pushed

    html = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert f'id="campaign-{campaign.pk}-live"' in html
    assert f'id="campaign-{campaign.pk}-head"' in html
    assert 'data-page="campaign"' in html
    head = client.get(f"/campaigns/{campaign.pk}/head/").content.decode()
    assert head.lstrip().startswith(f'<header id="campaign-{campaign.pk}-head"')
    assert 'data-head-state="running"' in head and "csrfmiddlewaretoken" in head


# --- Isolation and permissions -------------------------------------------------------------


def test_every_campaign_view_answers_404_for_another_tenants_campaign(
    tenant, other_tenant, client, twilio_inbox
):
    inbox = twilio_inbox(other_tenant, kind=Channel.SMS)
    template = do_save_template(other_tenant, name="Theirs", channel=Channel.SMS, body="Hi")
    theirs = do_save_campaign(
        other_tenant, {"name": "Globex sale", "inbox": inbox.pk, "template": template.pk}
    )
    base = f"/campaigns/{theirs.pk}"
    for path in ("/", "/live/", "/head/", "/edit/"):
        assert client.get(base + path).status_code == 404, path
    for path in ("/edit/", "/launch/", "/pause/", "/resume/", "/cancel/", "/delete/"):
        assert client.post(base + path, {"name": "Pwned"}).status_code == 404, path
    theirs.refresh_from_db()
    assert (theirs.name, theirs.status) == ("Globex sale", S.DRAFT)
    assert "Globex sale" not in client.get("/campaigns/").content.decode()


def test_an_agent_sees_campaigns_but_cannot_build_or_launch_them(
    tenant, make_member, login, audience, make_campaign
):
    campaign = make_campaign(lists=[audience(1)])
    agent = login(make_member(tenant, "agent"))
    assert agent.get(f"/campaigns/{campaign.pk}/").status_code == 200
    html = agent.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "<button" not in html.split('id="campaign-', 1)[1].split("</header>")[0]
    assert agent.get("/campaigns/new/").status_code == 403
    assert agent.get(f"/campaigns/{campaign.pk}/edit/").status_code == 403
    # The audience preview is a read, allowed like POST /api/v1/campaigns/audience-preview.
    assert agent.get("/campaigns/preview/").status_code == 200
    for action in ("launch", "pause", "resume", "cancel", "delete"):
        assert agent.post(f"/campaigns/{campaign.pk}/{action}/").status_code == 403, action
    campaign.refresh_from_db()
    assert campaign.status == S.DRAFT
