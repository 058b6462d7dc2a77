"""Sending through Chatwoot against the fake Chatwoot server: a notification finds the
Chatwoot contact by its exact phone (and Centro keeps its id), or creates it; the conversation
in the configured inbox is found or opened, and the next send to it is one API call; every
message carries our loop marker; errors are sorted (401 and 422 final with a sentence a person
can act on, 500 and 429 retried); campaigns may choose a Chatwoot inbox whose switch allows
it, and nobody opted out is sent to (frozen clock: quiet hours)."""

import datetime as dt

import pytest
import time_machine

from campaigns import engine
from campaigns.lifecycle import CampaignInvalid, do_launch_campaign, do_save_campaign
from campaigns.models import CampaignRecipient
from campaigns.selectors import builder_choices
from campaigns.services import do_save_template
from contacts.actions import do_set_consent
from contacts.lists import add_members, do_create_list
from contacts.models import Consent, Contact
from inbox.actions.inboxes import do_update_inbox_credentials
from inbox.actions.send import RetryDelivery, attempt_delivery, do_send_message
from inbox.models import Conversation, Delivery, Message
from inbox.tasks.delivery import deliver_message_task
from notifications.actions import do_post_event, do_save_rule
from notifications.models import EventType, Notification, NotificationRule
from notifications.sending import sweep_due_notifications
from omnichannel.channels import Channel
from tests.fakes.chatwoot import ACCOUNT_ID, INBOX_ID
from tests.inbox.chatwoot_helpers import api_calls

pytestmark = pytest.mark.clock

NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)
BASE = f"/api/v1/accounts/{ACCOUNT_ID}"


@pytest.fixture
def by_chatwoot(tenant):
    """The payment-received rule: Chatwoot first, then SMS."""
    rule = NotificationRule.objects.get(
        tenant=tenant, event_type=EventType.objects.get(tenant=tenant, key="payment.received")
    )
    return do_save_rule(
        tenant,
        name=rule.name,
        event_type=rule.event_type,
        template=rule.template,
        channels="chatwoot, sms",
        quiet_hours=False,
        rule=rule,
    )


def notify(tenant, contact, key: str) -> Notification:
    do_post_event(
        tenant,
        {
            "type": "payment.received",
            "contact": {"id": contact.pk},
            "data": {"booking_id": "B-1", "amount": "1200.00", "currency": "MXN"},
            "idempotency_key": key,
        },
    )
    assert sweep_due_notifications() == {"sent": 1}
    return Notification.objects.get(event__idempotency_key=key, status="sent")


def deliver(message: Message) -> Delivery:
    deliver_message_task.apply(args=[Delivery.objects.get(message=message).pk])
    return Delivery.objects.get(message=message)


@time_machine.travel(NOW, tick=False)
def test_a_notification_finds_the_contact_by_phone_and_the_next_send_is_one_call(
    tenant, contact, cw_inbox, cw_server, by_chatwoot
):
    # Chatwoot's search matches "contains": a longer number with the same digits comes first.
    cw_server.create_contact(ACCOUNT_ID, {"name": "Other", "phone_number": contact.phone + "2"})
    known = cw_server.create_contact(ACCOUNT_ID, {"name": "Ana", "phone_number": contact.phone})
    cw_server.requests.clear()

    notification = notify(tenant, contact, "p-1")
    delivery = deliver(notification.message)

    assert (notification.channel, notification.message.inbox_id) == ("chatwoot", cw_inbox.pk)
    [conversation] = cw_server.conversations.values()
    assert api_calls(cw_server) == [
        ("GET", f"{BASE}/contacts/search"),
        ("GET", f"{BASE}/contacts/{known['id']}/conversations"),
        ("POST", f"{BASE}/conversations"),
        ("POST", f"{BASE}/conversations/{conversation['id']}/messages"),
    ]
    assert cw_server.requests[0][2]["q"] == contact.phone  # "+" arrived encoded, not a space
    assert (conversation["contact_id"], conversation["inbox_id"]) == (known["id"], INBOX_ID)
    [posted] = cw_server.messages
    assert "1200.00" in posted["content"] and posted["message_type"] == "outgoing"
    assert posted["source_id"] == f"centro:{delivery.client_ref}"  # the loop marker
    assert (delivery.status, delivery.provider_message_id) == ("sent", str(posted["id"]))
    contact.refresh_from_db()
    assert contact.external_ids == {"chatwoot": str(known["id"])}
    centro_conversation = notification.message.conversation
    centro_conversation.refresh_from_db()
    assert centro_conversation.external_thread_id == str(conversation["id"])

    cw_server.requests.clear()
    reply = do_send_message(tenant, conversation=centro_conversation, body="See you soon")
    assert deliver(reply).status == "sent"

    assert api_calls(cw_server) == [("POST", f"{BASE}/conversations/{conversation['id']}/messages")]
    assert cw_server.messages[-1]["content"] == "See you soon"
    assert cw_server.messages[-1]["source_id"].startswith("centro:")


@time_machine.travel(NOW, tick=False)
def test_an_unknown_phone_gets_a_new_chatwoot_contact_and_an_open_conversation_is_reused(
    tenant, contact, cw_inbox, cw_server, by_chatwoot
):
    other = Contact.objects.create(tenant=tenant, name="Luis Pérez", phone="+14155550122")
    # Luis already talks to the inbox in Chatwoot (an open conversation there).
    luis = cw_server.create_contact(ACCOUNT_ID, {"name": "Luis", "phone_number": other.phone})
    open_one = cw_server.create_conversation(ACCOUNT_ID, INBOX_ID, luis["id"])

    deliver(notify(tenant, contact, "p-1").message)
    deliver(notify(tenant, other, "p-2").message)

    ana = cw_server.contact_by_phone(contact.phone)
    assert ana["name"] == "Ana García"  # created with Centro's name for her
    contact.refresh_from_db()
    other.refresh_from_db()
    assert contact.external_ids == {"chatwoot": str(ana["id"])}
    assert other.external_ids == {"chatwoot": str(luis["id"])}
    assert [m["conversation_id"] for m in cw_server.messages] == [
        cw_server.open_conversation_of(ana["id"])["id"],
        open_one["id"],  # continued, not a second conversation
    ]
    assert len(cw_server.conversations) == 2
    assert Conversation.objects.get(contact=other).external_thread_id == str(open_one["id"])


@time_machine.travel(NOW, tick=False)
def test_a_stored_chatwoot_id_is_used_while_it_still_has_the_phone(
    tenant, contact, cw_inbox, cw_server
):
    mine = cw_server.create_contact(ACCOUNT_ID, {"name": "Ana", "phone_number": contact.phone})
    someone = cw_server.create_contact(ACCOUNT_ID, {"name": "X", "phone_number": "+14155550199"})
    contact.external_ids = {"chatwoot": str(mine["id"]), "crm": "A-1"}
    contact.save()
    cw_server.requests.clear()

    first = do_send_message(tenant, inbox=cw_inbox, contact=contact, body="Hola")
    deliver(first)

    assert api_calls(cw_server)[0] == ("GET", f"{BASE}/contacts/{mine['id']}")
    assert ("GET", f"{BASE}/contacts/search") not in api_calls(cw_server)
    # A stale id (the Chatwoot contact now has another phone) is not trusted: found by phone.
    Conversation.objects.filter(contact=contact).update(status=Conversation.Status.CLOSED)
    contact.external_ids = {"chatwoot": str(someone["id"]), "crm": "A-1"}
    contact.save()
    second = do_send_message(tenant, inbox=cw_inbox, contact=contact, body="Otra vez")
    deliver(second)

    contact.refresh_from_db()
    assert contact.external_ids == {"chatwoot": str(mine["id"]), "crm": "A-1"}
    assert {m["conversation_id"] for m in cw_server.messages} == {
        cw_server.open_conversation_of(mine["id"])["id"]
    }


def _queued(tenant, inbox, contact) -> Delivery:
    message = do_send_message(tenant, inbox=inbox, contact=contact, body="Your receipt")
    return Delivery.objects.get(message=message)


@time_machine.travel(NOW, tick=False)
def test_a_rejected_token_fails_for_good_with_what_to_do(tenant, contact, cw_inbox, cw_server):
    do_update_inbox_credentials(cw_inbox, changes={"api_access_token": "revoked-token"})
    delivery = attempt_delivery(_queued(tenant, cw_inbox, contact).pk)

    assert (delivery.status, delivery.error_code) == ("failed", "401")
    assert "access token" in delivery.error_message and "admin" in delivery.error_message
    assert not cw_server.messages


@pytest.mark.parametrize(
    ("status", "headers_retry"),
    [(500, None), (429, None)],
)
@time_machine.travel(NOW, tick=False)
def test_server_errors_and_rate_limits_are_retried(
    tenant, contact, cw_inbox, cw_server, status, headers_retry
):
    cw_server.fail_next(status, {"error": "busy"}, path="/messages")
    delivery = _queued(tenant, cw_inbox, contact)

    with pytest.raises(RetryDelivery):
        attempt_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.error_code) == ("queued", str(status))
    assert not cw_server.messages
    # The retry goes through, into the conversation the first attempt opened (not a second).
    assert attempt_delivery(delivery.pk).status == "sent"
    assert len(cw_server.conversations) == 1 and len(cw_server.messages) == 1


@time_machine.travel(NOW, tick=False)
def test_a_refused_message_fails_for_good_with_chatwoots_reason(
    tenant, contact, cw_inbox, cw_server
):
    cw_server.fail_next(
        422, {"message": "Content is too long (maximum is 150000 characters)"}, path="/messages"
    )
    delivery = attempt_delivery(_queued(tenant, cw_inbox, contact).pk)

    assert (delivery.status, delivery.error_code) == ("failed", "422")
    assert delivery.error_message == (
        "Chatwoot refused the request: Content is too long (maximum is 150000 characters) "
        "(HTTP 422)."
    )
    assert delivery.message.status == "failed"


@time_machine.travel(NOW, tick=False)
def test_an_opt_out_of_chatwoot_after_it_was_queued_stops_it(
    tenant, contact, cw_inbox, cw_server, by_chatwoot
):
    notification = notify(tenant, contact, "p-1")
    do_set_consent(
        contact,
        channel=Channel.CHATWOOT,
        sender=cw_inbox.address,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.KEYWORD,
        detail="STOP",
    )

    delivery = deliver(notification.message)

    assert (delivery.status, delivery.error_code) == ("failed", "opted_out")
    assert not cw_server.requests


@time_machine.travel(NOW, tick=False)
def test_a_chatwoot_inbox_with_notifications_off_is_passed_over(
    tenant, contact, cw_inbox, cw_server, by_chatwoot, sms_inbox
):
    do_update_inbox_credentials(cw_inbox, changes={"notify": ""})
    cw_inbox.refresh_from_db()
    assert cw_inbox.option("notify", True) is False

    notification = notify(tenant, contact, "p-1")

    assert (notification.channel, notification.message.inbox_id) == ("sms", sms_inbox.pk)
    assert "Chatwoot: no active Chatwoot inbox" in notification.detail


@time_machine.travel(NOW, tick=False)
def test_a_campaign_goes_through_chatwoot_and_skips_the_opted_out(tenant, cw_inbox, cw_server):
    cw_inbox.settings = {**cw_inbox.settings, "messages_per_second": 1000}
    cw_inbox.save(update_fields=["settings"])
    template = do_save_template(
        tenant, name="Chatwoot hello", channel=Channel.CHATWOOT, body="Hi {{firstName}}!"
    )
    people = Contact.objects.bulk_create(
        [
            Contact(tenant=tenant, first_name=f"P{i}", name=f"P{i}", phone=f"+1415200000{i}")
            for i in range(3)
        ]
    )
    audience = do_create_list(tenant, name="Chatwoot people")
    add_members(audience, [p.pk for p in people])
    assert cw_inbox in builder_choices(tenant).inboxes
    campaign = do_launch_campaign(
        do_save_campaign(
            tenant,
            {
                "name": "Spring",
                "inbox": cw_inbox.pk,
                "template": template.pk,
                "lists": [audience.pk],
                "quiet_hours": False,
            },
        )
    )
    do_set_consent(
        people[0],
        channel=Channel.CHATWOOT,
        sender=cw_inbox.address,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.KEYWORD,
        detail="STOP",
    )

    assert engine.work(campaign.pk, seconds=20) == "finished"

    skipped = CampaignRecipient.objects.get(campaign=campaign, contact=people[0])
    assert (skipped.status, skipped.skip_reason) == ("skipped", "opted_out")
    reached = {
        cw_server.contacts[c["contact_id"]]["phone_number"]
        for c in cw_server.conversations.values()
    }
    assert reached == {people[1].phone, people[2].phone}
    assert sorted(m["content"] for m in cw_server.messages) == ["Hi P1!", "Hi P2!"]
    assert all(m["source_id"].startswith("centro:") for m in cw_server.messages)
    sent = CampaignRecipient.objects.filter(campaign=campaign, status="sent")
    assert {r.provider_message_id for r in sent} == {str(m["id"]) for m in cw_server.messages}


def test_a_campaign_cannot_use_a_chatwoot_inbox_with_notifications_off(tenant, cw_inbox):
    do_update_inbox_credentials(cw_inbox, changes={"notify": ""})
    cw_inbox.refresh_from_db()
    template = do_save_template(tenant, name="Hello", channel=Channel.CHATWOOT, body="Hi!")

    assert cw_inbox not in builder_choices(tenant).inboxes
    with pytest.raises(CampaignInvalid) as refused:
        do_save_campaign(tenant, {"name": "Spring", "inbox": cw_inbox.pk, "template": template.pk})
    assert "notifications and campaigns" in refused.value.errors["inbox"]
