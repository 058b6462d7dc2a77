"""The tenant blocklist: no send, no auto-created contact, inbound from it dropped."""

import json

import pytest

from contacts.blocklist import blocked_phones, do_block_address, do_unblock_address, is_blocked
from contacts.models import BlockedAddress, Contact
from contacts.services import do_create_contact
from inbox.actions.send import attempt_delivery, do_send_message
from inbox.models import Conversation, Message
from omnichannel.actions import ActionError
from omnichannel.models import AuditEvent, WebhookEvent
from tests.fakes.twilio import make_twilio_inbox
from tests.inbox.api_factories import bearer
from tests.inbox.webhook_helpers import assert_empty_twiml, post_twilio

pytestmark = pytest.mark.django_db


@pytest.fixture
def sms_inbox(tenant, fake_twilio):
    return make_twilio_inbox(tenant, sim=fake_twilio, kind="sms")


def test_it_blocks_a_number_in_any_format_and_an_email_in_any_case(tenant):
    tenant.default_region = "US"
    blocked, created = do_block_address(tenant, kind="phone", value="(415) 555-0111")
    assert created and blocked.value == "+14155550111"
    again, created_again = do_block_address(tenant, kind="phone", value="+1 415 555 0111")
    assert again == blocked and not created_again
    do_block_address(tenant, kind="email", value="Spam@Example.TEST")
    assert is_blocked(tenant, phone="whatsapp:+14155550111")
    assert is_blocked(tenant, email="spam@example.test")
    assert is_blocked(tenant, phone="+14155550199", email="SPAM@example.test")
    assert not is_blocked(tenant, phone="+14155550199")
    assert not is_blocked(tenant, phone="not a number")
    assert blocked_phones(tenant, ["+14155550111", "+14155550199"]) == {"+14155550111"}
    assert BlockedAddress.objects.count() == 2
    # One audit row per real change.
    assert AuditEvent.objects.filter(action="blocklist.added").count() == 2


def test_it_refuses_what_is_not_a_number_or_an_address(tenant):
    with pytest.raises(ActionError, match="not a phone number"):
        do_block_address(tenant, kind="phone", value="hello")
    with pytest.raises(ActionError, match="not an email address"):
        do_block_address(tenant, kind="email", value="nope")


def test_the_blocklist_is_per_tenant(tenant, other_tenant):
    do_block_address(tenant, kind="phone", value="+14155550111")
    assert not is_blocked(other_tenant, phone="+14155550111")


def test_it_refuses_to_send_to_a_blocked_number_and_creates_no_contact(tenant, sms_inbox):
    do_block_address(tenant, kind="phone", value="+14155550111")
    with pytest.raises(ActionError) as refused:
        do_send_message(tenant, inbox=sms_inbox, to="(415) 555-0111", body="Hi")
    assert refused.value.code == "blocked"
    assert "blocklist" in refused.value.message
    assert not Contact.objects.exists() and not Message.objects.exists()


def test_it_refuses_to_reply_in_a_conversation_with_a_blocked_contact(tenant, sms_inbox):
    contact = do_create_contact(tenant, fields={"name": "Ana"}, phones=["+14155550111"])
    conversation = Conversation.objects.create(tenant=tenant, inbox=sms_inbox, contact=contact)
    do_block_address(tenant, kind="phone", value=contact.phone)
    with pytest.raises(ActionError) as refused:
        do_send_message(tenant, conversation=conversation, body="Hi")
    assert refused.value.code == "blocked"
    # A private note is not a send.
    note = do_send_message(
        tenant, conversation=conversation, body="Blocked, see ticket", is_private=True
    )
    assert note.is_private


def test_the_api_answers_422_blocked(client, tenant, sms_inbox, api_token):
    do_block_address(tenant, kind="phone", value="+14155550111")
    response = client.post(
        "/api/v1/messages",
        data=json.dumps({"channel": "sms", "to": "+14155550111", "body": "Hi"}),
        content_type="application/json",
        **bearer(api_token),
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "blocked"


def test_a_delivery_queued_before_the_block_is_not_sent(tenant, sms_inbox, fake_twilio):
    message = do_send_message(tenant, inbox=sms_inbox, to="+14155550111", body="Hi")
    do_block_address(tenant, kind="phone", value="+14155550111")
    delivery = attempt_delivery(message.deliveries.get().pk)
    assert delivery.status == Message.Status.FAILED and delivery.error_code == "blocked"
    assert fake_twilio.sent == []


def test_inbound_from_a_blocked_number_is_dropped_and_kept_in_the_journal(tenant, sms_inbox):
    do_block_address(tenant, kind="phone", value="+14155550111")
    assert_empty_twiml(post_twilio(sms_inbox, "inbound_sms"))
    assert not Contact.objects.exists()
    assert not Message.objects.exists()
    event = WebhookEvent.objects.get(inbox=sms_inbox)
    assert event.state == WebhookEvent.State.PROCESSED
    assert "From=%2B14155550111" in event.body  # the raw request: nothing is lost
    assert event.error == "Dropped: the sender is on the tenant's blocklist."


def test_inbound_after_unblocking_is_stored_again(tenant, sms_inbox):
    blocked, _ = do_block_address(tenant, kind="phone", value="+14155550111")
    do_unblock_address(blocked)
    assert_empty_twiml(post_twilio(sms_inbox, "inbound_sms"))
    assert Message.objects.count() == 1
    assert Contact.objects.get().created_via == "inbound"
    assert AuditEvent.objects.filter(action="blocklist.removed").count() == 1


def test_the_page_lists_adds_and_removes_with_manage_consent(
    tenant, make_member, login, django_assert_max_num_queries
):
    supervisor = make_member(tenant, "supervisor")
    client = login(supervisor)
    for i in range(30):
        BlockedAddress.objects.create(
            tenant=tenant, kind="phone", value=f"+1415555{i:04d}", created_by=supervisor
        )
    client.get("/contacts/blocklist/")
    with django_assert_max_num_queries(12):
        response = client.get("/contacts/blocklist/")
    assert response.status_code == 200 and "(415) 555-0029" in response.content.decode()
    response = client.post(
        "/contacts/blocklist/", {"kind": "email", "value": "Spam@x.test", "reason": "abuse"}
    )
    assert response.status_code == 302
    blocked = BlockedAddress.objects.get(kind="email")
    assert (blocked.value, blocked.reason, blocked.created_by) == (
        "spam@x.test",
        "abuse",
        supervisor,
    )
    response = client.post("/contacts/blocklist/", {"kind": "phone", "value": "12"})
    assert response.status_code == 422 and "not a" in response.content.decode()
    assert client.post(f"/contacts/blocklist/{blocked.pk}/remove/").status_code == 302
    assert not BlockedAddress.objects.filter(kind="email").exists()
    event = AuditEvent.objects.get(action="blocklist.removed")
    assert event.actor == supervisor and event.data["value"] == "spam@x.test"


def test_agents_cannot_manage_the_blocklist(tenant, make_member, login):
    client = login(make_member(tenant, "agent"))
    assert client.get("/contacts/blocklist/").status_code == 403
    assert (
        client.post("/contacts/blocklist/", {"kind": "phone", "value": "+14155550111"}).status_code
        == 403
    )
    assert not BlockedAddress.objects.exists()


def test_another_tenant_cannot_unblock_our_numbers(tenant, other_tenant, make_member, login):
    blocked, _ = do_block_address(tenant, kind="phone", value="+14155550111")
    client = login(make_member(other_tenant, "owner", email="boss@globex.test"))
    assert client.post(f"/contacts/blocklist/{blocked.pk}/remove/").status_code == 404
    assert "+14155550111" not in client.get("/contacts/blocklist/").content.decode()
    assert BlockedAddress.objects.filter(pk=blocked.pk).exists()
