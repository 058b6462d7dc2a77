"""Opt-out keywords from the contact change their consent for that channel and sender."""

import pytest

from contacts.actions import is_opted_out
from contacts.models import Consent, Contact
from inbox.actions.send import do_send_message
from inbox.models import Conversation, Message
from omnichannel.actions import ActionError
from tests.inbox.webhook_helpers import assert_empty_twiml, post_twilio

pytestmark = pytest.mark.django_db

STOP_SID = "SM33333333333333333333333333333333"
START_SID = "SM" + "5" * 32


def consent_of(inbox) -> Consent:
    contact = Contact.objects.get(tenant=inbox.tenant, phone="+14155550111")
    return Consent.objects.get(contact=contact, channel=inbox.kind, sender=inbox.address)


def test_it_opts_out_on_stop_and_still_stores_the_message(sms_inbox):
    assert_empty_twiml(post_twilio(sms_inbox, "inbound_stop"))

    consent = consent_of(sms_inbox)
    assert consent.status == Consent.Status.OPTED_OUT
    assert (consent.source, consent.detail) == (Consent.Source.KEYWORD, "STOP")
    assert consent.tenant_id == sms_inbox.tenant_id
    message = Message.objects.get(external_id=STOP_SID)
    assert message.body == "STOP"
    assert message.metadata["keyword"] == "STOP"
    assert message.conversation.status == Conversation.Status.OPEN


def test_it_refuses_to_send_after_stop_and_allows_it_after_start(sms_inbox):
    post_twilio(sms_inbox, "inbound_stop")
    conversation = Conversation.objects.get(inbox=sms_inbox)

    with pytest.raises(ActionError) as refused:
        do_send_message(sms_inbox.tenant, conversation=conversation, body="Still there?")
    assert refused.value.code == "opted_out"

    assert_empty_twiml(post_twilio(sms_inbox, "inbound_stop", MessageSid=START_SID, Body="Start"))

    assert consent_of(sms_inbox).status == Consent.Status.OPTED_IN
    assert consent_of(sms_inbox).detail == "START"
    sent = do_send_message(sms_inbox.tenant, conversation=conversation, body="Welcome back")
    assert sent.status == Message.Status.QUEUED
    assert conversation.messages.count() == 3


@pytest.mark.parametrize(
    "body",
    [
        "STOP",
        "stop",
        "  Stop \n",
        "STOPALL",
        "UNSUBSCRIBE",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        "CANCEL",
    ],
)
def test_it_recognizes_every_opt_out_keyword(sms_inbox, body):
    post_twilio(sms_inbox, "inbound_stop", Body=body)

    assert consent_of(sms_inbox).status == Consent.Status.OPTED_OUT
    assert consent_of(sms_inbox).detail == body.strip().upper()


@pytest.mark.parametrize("body", ["START", "yes", "Unstop"])
def test_it_recognizes_every_opt_in_keyword(sms_inbox, body):
    post_twilio(sms_inbox, "inbound_stop")
    post_twilio(sms_inbox, "inbound_stop", MessageSid=START_SID, Body=body)

    assert consent_of(sms_inbox).status == Consent.Status.OPTED_IN


@pytest.mark.parametrize("body", ["STOP please", "please stop", "STOP!", "HELP"])
def test_it_only_stores_other_messages(sms_inbox, body):
    assert_empty_twiml(post_twilio(sms_inbox, "inbound_stop", Body=body))

    assert Message.objects.get(external_id=STOP_SID).body == body
    assert not Consent.objects.exists()


def test_it_scopes_consent_to_the_channel_and_sender(sms_inbox, whatsapp_inbox):
    post_twilio(sms_inbox, "inbound_stop")

    contact = Contact.objects.get(tenant=sms_inbox.tenant)
    assert is_opted_out(contact, channel="sms", sender=sms_inbox.address)
    assert not is_opted_out(contact, channel="whatsapp", sender=whatsapp_inbox.address)


def test_it_does_not_apply_a_duplicate_stop_after_a_later_start(sms_inbox):
    post_twilio(sms_inbox, "inbound_stop")
    post_twilio(sms_inbox, "inbound_stop", MessageSid=START_SID, Body="START")

    post_twilio(sms_inbox, "inbound_stop")  # Twilio retries the old STOP

    assert consent_of(sms_inbox).status == Consent.Status.OPTED_IN
