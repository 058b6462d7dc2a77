"""Writing first: the composer's approved-template picker where WhatsApp's 24-hour window is
closed, and the "new conversation" dialog (pick a contact, an inbox that reaches them, write),
through the real views, actions and the fake Twilio."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.services import do_save_template
from contacts.actions import do_set_consent
from contacts.models import Consent, Contact
from inbox.actions.send import attempt_delivery
from inbox.models import Conversation, Message
from omnichannel.channels import Channel
from tests.inbox.conftest import make_email_inbox

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

HTMX = {"HX-Request": "true"}
SID = "HX" + "0123456789abcdef" * 2


@pytest.fixture
def ana(tenant):
    return Contact.objects.create(
        tenant=tenant, name="Ana García", first_name="Ana", phone="+14155550111"
    )


@pytest.fixture
def approved(tenant):
    return do_save_template(
        tenant,
        name="Booking reminder",
        channel=Channel.WHATSAPP,
        body='Hola {{firstName|default:"amigo"}}, your booking is confirmed.',
        content_sid=SID,
        variables={"1": "firstName"},
    )


def wrote(inbox, contact, *, hours_ago: float) -> Conversation:
    return Conversation.objects.create(
        tenant=inbox.tenant,
        inbox=inbox,
        contact=contact,
        last_inbound_at=timezone.now() - timedelta(hours=hours_ago),
        last_message_at=timezone.now() - timedelta(hours=hours_ago),
    )


def page(client, conversation) -> str:
    response = client.get(f"/inbox/c/{conversation.pk}/")
    assert response.status_code == 200
    return response.content.decode()


# --- the composer's template picker -------------------------------------------------------------


def test_the_composer_offers_approved_templates_filled_for_the_contact_once_the_window_closed(
    tenant, owner, login, whatsapp_inbox, ana, approved
):
    do_save_template(tenant, name="Free text", channel=Channel.WHATSAPP, body="Hi {{firstName}}")
    conversation = wrote(whatsapp_inbox, ana, hours_ago=25)

    html = page(login(owner), conversation)

    assert 'id="composer-template-picker"' in html
    assert "The 24-hour WhatsApp window closed at" in html
    assert "Until they write, WhatsApp delivers only an approved template" in html
    assert f'value="campaigns:{approved.pk}"' in html
    assert 'data-template-text="Hola Ana, your booking is confirmed."' in html
    assert "Free text" not in html  # no Content SID: not an approved template


def test_the_composer_writes_free_text_while_the_window_is_open_and_on_other_channels(
    tenant, owner, login, whatsapp_inbox, sms_inbox, ana, approved
):
    client = login(owner)
    assert "template-picker" not in page(client, wrote(whatsapp_inbox, ana, hours_ago=23))
    assert "template-picker" not in page(client, wrote(sms_inbox, ana, hours_ago=48))


def test_a_template_is_sent_from_the_composer_with_its_text_and_the_contacts_values(
    tenant, owner, login, whatsapp_inbox, ana, approved, fake_twilio
):
    conversation = wrote(whatsapp_inbox, ana, hours_ago=30)

    response = login(owner).post(
        f"/inbox/c/{conversation.pk}/messages/",
        {"mode": "reply", "body": "", "template": f"campaigns:{approved.pk}"},
        headers=HTMX,
    )

    assert response.status_code == 200, response.content.decode()
    message = Message.objects.get(conversation=conversation, direction="out")
    assert message.body == "Hola Ana, your booking is confirmed."
    assert message.metadata["template"] == {"content_sid": SID, "variables": {"1": "Ana"}}
    assert "Hola Ana, your booking is confirmed." in response.content.decode()
    attempt_delivery(message.deliveries.get().pk)
    (sent,) = fake_twilio.sent
    assert sent.params["ContentSid"] == SID
    assert sent.params["ContentVariables"] == '{"1": "Ana"}'
    assert "Body" not in sent.params
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


def test_free_text_outside_the_window_is_still_refused(
    tenant, owner, login, whatsapp_inbox, ana, approved
):
    conversation = wrote(whatsapp_inbox, ana, hours_ago=30)

    response = login(owner).post(
        f"/inbox/c/{conversation.pk}/messages/", {"mode": "reply", "body": "Hi"}, headers=HTMX
    )

    assert response.status_code == 400
    assert 'data-error-code="outside_window"' in response.content.decode()
    assert not Message.objects.filter(direction="out").exists()


def test_a_template_goes_out_on_its_own(tenant, owner, login, whatsapp_inbox, ana, approved):
    conversation = wrote(whatsapp_inbox, ana, hours_ago=30)

    response = login(owner).post(
        f"/inbox/c/{conversation.pk}/messages/",
        {"mode": "reply", "body": "and more", "template": f"campaigns:{approved.pk}"},
        headers=HTMX,
    )

    assert response.status_code == 400
    assert "clear the text box" in response.content.decode()
    assert not Message.objects.filter(direction="out").exists()


def test_another_tenants_template_cannot_be_sent(
    tenant, other_tenant, owner, login, whatsapp_inbox, ana
):
    theirs = do_save_template(
        other_tenant,
        name="Theirs",
        channel=Channel.WHATSAPP,
        content_sid=SID,
        variables={"1": "firstName"},
    )
    conversation = wrote(whatsapp_inbox, ana, hours_ago=30)
    client = login(owner)

    assert "Theirs" not in page(client, conversation)
    response = client.post(
        f"/inbox/c/{conversation.pk}/messages/",
        {"mode": "reply", "template": f"campaigns:{theirs.pk}"},
        headers=HTMX,
    )

    assert response.status_code == 404
    assert "approved templates for this channel" in response.content.decode()
    assert not Message.objects.filter(direction="out").exists()


def test_without_templates_it_says_where_to_add_one_to_whoever_may(
    tenant, owner, make_member, login, whatsapp_inbox, ana
):
    conversation = wrote(whatsapp_inbox, ana, hours_ago=30)

    as_owner = page(login(owner), conversation)
    as_agent = page(login(make_member(tenant, "agent")), conversation)

    assert "no approved WhatsApp template yet" in as_owner
    assert 'href="/campaigns/templates/new/">Add one in Campaigns → Message templates' in as_owner
    assert "no approved WhatsApp template yet" in as_agent
    assert "/campaigns/templates/new/" not in as_agent
    assert "An admin or supervisor can add one under Campaigns → Message templates" in as_agent


# --- the "new conversation" dialog -------------------------------------------------------------


def test_the_inbox_offers_a_new_conversation_to_those_who_may_reply(
    tenant, owner, make_member, login
):
    assert 'id="new-conversation-open"' in login(owner).get("/inbox/").content.decode()
    viewer = login(make_member(tenant, "viewer"))
    assert 'id="new-conversation-open"' not in viewer.get("/inbox/").content.decode()
    assert viewer.get("/inbox/new/").status_code == 403


def test_it_finds_the_tenants_contacts_as_you_type(tenant, other_tenant, owner, login, ana):
    Contact.objects.create(tenant=other_tenant, name="Ana Other", phone="+14155550199")

    response = login(owner).get(
        "/inbox/new/", {"q": "ana"}, headers={**HTMX, "HX-Target": "new-contacts"}
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="new-contacts"')
    assert f'name="contact" value="{ana.pk}"' in html and "Ana García" in html
    assert "Ana Other" not in html


def test_picking_a_contact_offers_the_inboxes_that_reach_them(
    tenant, owner, login, sms_inbox, whatsapp_inbox, ana
):
    email = make_email_inbox(tenant)
    do_set_consent(
        ana,
        channel=Channel.SMS,
        sender=sms_inbox.address,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.KEYWORD,
    )

    response = login(owner).get(
        "/inbox/new/",
        {"contact": ana.pk, "dialog": "1"},
        headers={**HTMX, "HX-Target": "new-conversation"},
    )

    html = response.content.decode()
    assert f'name="inbox" value="{sms_inbox.pk}"' in html
    assert f'name="inbox" value="{whatsapp_inbox.pk}"' in html
    assert f'name="inbox" value="{email.pk}"' not in html  # Ana has no email address
    assert "Opted out" in html and "Approved templates only" in html
    # Choosing is a GET: the CSRF token stays out of its URL until the step that posts.
    assert 'name="csrfmiddlewaretoken"' not in html
    assert 'hx-params="not csrfmiddlewaretoken"' in html


def test_a_new_conversation_is_started_and_opened(tenant, owner, login, sms_inbox, ana):
    response = login(owner).post(
        "/inbox/new/",
        {"contact": ana.pk, "inbox": sms_inbox.pk, "body": "Hola Ana", "dialog": "1"},
        headers=HTMX,
    )

    conversation = Conversation.objects.get(contact=ana, inbox=sms_inbox)
    assert response.status_code == 200
    assert f"/inbox/c/{conversation.pk}/" in response["HX-Location"]
    message = conversation.messages.get()
    assert (message.body, message.author, message.direction) == ("Hola Ana", owner, "out")
    assert conversation.status == Conversation.Status.OPEN


def test_a_new_message_continues_the_contacts_active_conversation(
    tenant, owner, login, sms_inbox, ana
):
    existing = wrote(sms_inbox, ana, hours_ago=2)

    response = login(owner).post(
        "/inbox/new/", {"contact": ana.pk, "inbox": sms_inbox.pk, "body": "Any news?"}
    )

    assert response.status_code == 302
    assert response["Location"].startswith(f"/inbox/c/{existing.pk}/")
    assert Conversation.objects.filter(contact=ana).count() == 1


def test_an_email_needs_a_subject_and_goes_to_the_contacts_address(tenant, owner, login):
    inbox = make_email_inbox(tenant)
    bea = Contact.objects.create(tenant=tenant, name="Bea", email="bea@example.com")
    client = login(owner)
    data = {"contact": bea.pk, "inbox": inbox.pk, "body": "Hello", "dialog": "1"}

    refused = client.post("/inbox/new/", data, headers=HTMX)
    assert refused.status_code == 400
    assert "An email needs a subject." in refused.content.decode()
    assert refused["HX-Retarget"] == "#new-conversation"

    sent = client.post("/inbox/new/", {**data, "subject": "Your trip"}, headers=HTMX)
    assert sent.status_code == 200
    message = Message.objects.get()
    assert (message.subject, message.deliveries.get().recipient) == ("Your trip", "bea@example.com")


def test_an_opted_out_contact_is_refused_in_words(tenant, owner, login, sms_inbox, ana):
    do_set_consent(
        ana,
        channel=Channel.SMS,
        sender=sms_inbox.address,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.KEYWORD,
    )

    response = login(owner).post(
        "/inbox/new/",
        {"contact": ana.pk, "inbox": sms_inbox.pk, "body": "Hola", "dialog": "1"},
        headers=HTMX,
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert "opted out of SMS messages" in html and "reply START" in html
    assert ">Hola</textarea>" in html  # the draft is kept
    assert not Message.objects.exists() and not Conversation.objects.exists()


def test_whatsapp_without_a_window_starts_with_a_template(
    tenant, owner, login, whatsapp_inbox, ana, approved, fake_twilio
):
    client = login(owner)
    form = client.get(
        "/inbox/new/", {"contact": ana.pk, "inbox": whatsapp_inbox.pk, "dialog": "1"}, headers=HTMX
    ).content.decode()
    assert "has not written to this WhatsApp number yet" in form
    assert 'id="new-body"' not in form

    response = client.post(
        "/inbox/new/",
        {"contact": ana.pk, "inbox": whatsapp_inbox.pk, "template": f"campaigns:{approved.pk}"},
        headers=HTMX,
    )

    assert response.status_code == 200
    message = Message.objects.get()
    assert message.body == "Hola Ana, your booking is confirmed."
    attempt_delivery(message.deliveries.get().pk)
    assert fake_twilio.sent[0].params["ContentSid"] == SID


def test_another_tenants_contact_or_inbox_cannot_be_used(
    tenant, other_tenant, owner, login, sms_inbox, ana, twilio_inbox
):
    theirs = Contact.objects.create(tenant=other_tenant, name="Carla", phone="+14155550177")
    their_inbox = twilio_inbox(other_tenant, kind=Channel.SMS)
    client = login(owner)

    for data in (
        {"contact": theirs.pk, "inbox": sms_inbox.pk, "body": "Hi"},
        {"contact": ana.pk, "inbox": their_inbox.pk, "body": "Hi"},
    ):
        assert client.post("/inbox/new/", data).status_code == 404
        assert client.get("/inbox/new/", data).status_code == 404
    assert not Message.objects.exists()


def test_an_inbox_that_does_not_reach_the_contact_is_not_used(tenant, owner, login, ana, sms_inbox):
    inbox = make_email_inbox(tenant)  # Ana has no email address; the SMS inbox is not chosen

    response = login(owner).post(
        "/inbox/new/", {"contact": ana.pk, "inbox": inbox.pk, "body": "Hi", "subject": "Hi"}
    )

    assert response.status_code == 400
    assert "Choose how to write to Ana García." in response.content.decode()
    assert f'name="inbox" value="{sms_inbox.pk}"' in response.content.decode()
    assert not Message.objects.exists()


def test_without_an_inbox_that_reaches_the_contact_it_says_what_is_missing(
    tenant, owner, login, ana
):
    make_email_inbox(tenant)

    html = login(owner).get("/inbox/new/", {"contact": ana.pk}).content.decode()

    assert "None of this account's inboxes can reach Ana García" in html
    assert "no email address an enabled inbox writes to" in html
    assert 'id="new-conversation-send"' not in html


def test_whatsapp_without_templates_says_where_to_add_one(
    tenant, owner, login, whatsapp_inbox, ana
):
    html = (
        login(owner)
        .get("/inbox/new/", {"contact": ana.pk, "inbox": whatsapp_inbox.pk})
        .content.decode()
    )

    assert "no approved WhatsApp template yet" in html
    assert 'id="new-conversation-send"' not in html
