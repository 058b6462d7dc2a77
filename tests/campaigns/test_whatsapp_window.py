"""WhatsApp campaigns and the 24-hour window: free-form text reaches only people who wrote in
the last 24 hours, an approved template (Content SID) reaches everyone. The preview names and
counts who is outside, a free-form launch is refused while anyone is, and a window that closes
after the launch skips that person at hand-off."""

import datetime
import json

import pytest
from django.utils import timezone

from campaigns import engine
from campaigns.lifecycle import do_launch_campaign, do_save_campaign
from campaigns.models import Campaign, CampaignRecipient
from campaigns.services import do_save_template
from contacts.actions import do_set_consent
from contacts.lists import add_members, do_create_list
from contacts.models import Consent, Contact
from inbox.models import Conversation
from omnichannel.channels import Channel
from tests.campaigns.test_engine import counters_match_rows
from tests.inbox.api_factories import bearer

pytestmark = pytest.mark.django_db

SID = "HX" + "c0" * 16


@pytest.fixture
def wa_inbox(tenant, twilio_inbox):
    return twilio_inbox(tenant, kind=Channel.WHATSAPP, messages_per_second=1000)


@pytest.fixture
def free_form(tenant):
    return do_save_template(
        tenant, name="WA text", channel=Channel.WHATSAPP, body="Hi {{firstName}}, we miss you"
    )


@pytest.fixture
def approved(tenant):
    return do_save_template(
        tenant,
        name="WA approved",
        channel=Channel.WHATSAPP,
        content_sid=SID,
        variables={"1": "firstName"},
    )


def wrote(inbox, contact: Contact, hours_ago: float) -> None:
    Conversation.objects.create(
        tenant=inbox.tenant,
        inbox=inbox,
        contact=contact,
        last_inbound_at=timezone.now() - datetime.timedelta(hours=hours_ago),
    )


@pytest.fixture
def people(tenant, wa_inbox):
    """Five people: Ana and Bea wrote within the window, Carla 30 hours ago, Dora and Eva
    never; Fay opted out (skipped, not counted as outside)."""
    names = ["Ana", "Bea", "Carla", "Dora", "Eva", "Fay"]
    contacts = {
        name: Contact.objects.create(
            tenant=tenant, name=name, first_name=name, phone=f"+1415300{i:04d}"
        )
        for i, name in enumerate(names)
    }
    wrote(wa_inbox, contacts["Ana"], 1)
    wrote(wa_inbox, contacts["Bea"], 23)
    wrote(wa_inbox, contacts["Carla"], 30)
    do_set_consent(
        contacts["Fay"],
        channel=Channel.WHATSAPP,
        sender=wa_inbox.address,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.KEYWORD,
    )
    contact_list = do_create_list(tenant, name="Regulars")
    add_members(contact_list, [c.pk for c in contacts.values()])
    return contact_list, contacts


def api(client, method: str, path: str, token: str, body=None):
    return client.generic(
        method.upper(),
        f"/api/v1{path}",
        data=json.dumps(body) if body is not None else b"",
        content_type="application/json",
        **bearer(token),
    )


def test_the_api_preview_counts_and_names_who_is_outside_the_window(
    client, api_token, wa_inbox, people
):
    contact_list, contacts = people
    response = api(
        client,
        "post",
        "/campaigns/audience-preview",
        api_token,
        {"inbox": wa_inbox.pk, "lists": [contact_list.pk]},
    )
    assert response.status_code == 200, response.content
    preview = response.json()
    assert (preview["sendable"], preview["skipped_by_reason"]) == (5, {"opted_out": 1})
    assert (preview["window_hours"], preview["outside_window"]) == (24, 3)
    assert [e["name"] for e in preview["outside_window_examples"]] == ["Carla", "Dora", "Eva"]
    assert preview["outside_window_examples"][0] == {
        "contact_id": contacts["Carla"].pk,
        "name": "Carla",
        "address": contacts["Carla"].phone,
    }


def test_an_sms_preview_has_no_window(client, api_token, sms_inbox, audience):
    response = api(
        client,
        "post",
        "/campaigns/audience-preview",
        api_token,
        {"inbox": sms_inbox.pk, "lists": [audience(2).pk]},
    )
    preview = response.json()
    assert (preview["window_hours"], preview["outside_window"]) == (None, 0)
    assert preview["outside_window_examples"] == []


def test_the_builder_preview_warns_a_free_form_launch_will_be_refused(
    owner, login, wa_inbox, people, free_form, approved
):
    contact_list, _ = people
    browser = login(owner)

    def preview(template) -> str:
        response = browser.get(
            "/campaigns/preview/",
            {"inbox": wa_inbox.pk, "template": template.pk, "lists": [contact_list.pk]},
        )
        assert response.status_code == 200
        return response.content.decode()

    html = preview(free_form)
    assert 'data-count="outside-window">3<' in html
    assert all(name in html for name in ("Carla", "Dora", "Eva"))
    assert 'id="preview-window-problem"' in html
    assert "Launching will be refused: 3 people have not written" in html
    assert "Content SID" in html

    html = preview(approved)
    assert 'data-count="outside-window">3<' in html  # still said, but no problem
    assert 'id="preview-window-problem"' not in html


def test_a_free_form_launch_is_refused_and_an_approved_template_launches(
    tenant,
    client,
    api_token,
    owner,
    login,
    fake_twilio,
    wa_inbox,
    people,
    free_form,
    approved,
    make_campaign,
):
    contact_list, contacts = people
    campaign = make_campaign(lists=[contact_list], inbox=wa_inbox, template=free_form)

    response = api(client, "post", f"/campaigns/{campaign.pk}/launch", api_token)

    assert response.status_code == 422, response.content
    error = response.json()["error"]
    reason = error["errors"]["template"]
    assert reason.startswith("3 people have not written to this WhatsApp number in the last 24")
    assert "(Carla, Dora, Eva)" in reason
    assert "approved WhatsApp template (one with a Content SID)" in reason
    assert reason in error["message"]
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    assert not CampaignRecipient.objects.filter(campaign=campaign).exists()

    # The campaign's page says the same.
    response = login(owner).post(f"/campaigns/{campaign.pk}/launch/", follow=True)
    said = [str(m) for m in response.context["messages"]]
    assert any(m.startswith("The campaign cannot be launched: Template: 3 people") for m in said)

    # With the approved template, the same audience launches and everyone is reached.
    do_save_campaign(tenant, {"template": approved.pk}, campaign=campaign)
    response = api(client, "post", f"/campaigns/{campaign.pk}/launch", api_token)
    assert response.status_code == 200, response.content
    assert (response.json()["total"], response.json()["skipped"]) == (6, 1)
    assert engine.work(campaign.pk, seconds=30) == "finished"
    sent = {r.params["To"]: r.params for r in fake_twilio.sent}
    assert set(sent) == {f"whatsapp:{c.phone}" for name, c in contacts.items() if name != "Fay"}
    assert {params["ContentSid"] for params in sent.values()} == {SID}
    campaign.refresh_from_db()
    assert (campaign.sent, campaign.skipped) == (5, 1)


def test_a_window_that_closes_after_the_launch_skips_that_person(
    tenant, fake_twilio, wa_inbox, free_form, make_campaign
):
    contact_list = do_create_list(tenant, name="Talked today")
    contacts = []
    for i, name in enumerate(["Ana", "Bea", "Carla"]):
        contact = Contact.objects.create(
            tenant=tenant, name=name, first_name=name, phone=f"+1415301{i:04d}"
        )
        wrote(wa_inbox, contact, 2)
        contacts.append(contact)
    add_members(contact_list, [c.pk for c in contacts])
    campaign = do_launch_campaign(
        make_campaign(lists=[contact_list], inbox=wa_inbox, template=free_form)
    )
    assert (campaign.total, campaign.pending) == (3, 3)

    # Before the first message leaves, Bea's last message is more than 24 hours old.
    Conversation.objects.filter(contact=contacts[1]).update(
        last_inbound_at=timezone.now() - datetime.timedelta(hours=24, minutes=1)
    )
    assert engine.work(campaign.pk, seconds=30) == "finished"

    assert sorted(r.params["To"] for r in fake_twilio.sent) == [
        f"whatsapp:{contacts[0].phone}",
        f"whatsapp:{contacts[2].phone}",
    ]
    assert "ContentSid" not in fake_twilio.sent[0].params
    skipped = CampaignRecipient.objects.get(campaign=campaign, status="skipped")
    assert (skipped.contact_id, skipped.skip_reason) == (contacts[1].pk, "outside_window")
    counters_match_rows(campaign)
