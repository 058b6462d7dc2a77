"""The Chatwoot mirror: customers' messages stored inbound, Chatwoot agents' replies outbound
(named, via Chatwoot), private notes and Centro's own echoes never stored as new messages,
statuses kept in step both ways without bouncing, and the contact page's timeline of it all."""

import pytest
from django.test import Client

from contacts.models import Contact
from inbox.actions.conversations import do_update_conversation
from inbox.models import BridgeActivity, Conversation, Delivery, Message
from inbox.tasks.bridge import push_status_task
from tests.fakes.chatwoot import ACCOUNT_ID, INBOX_ID
from tests.inbox.chatwoot_helpers import fixture, make_chatwoot_inbox, post

pytestmark = pytest.mark.django_db

JANE = "+14155550123"
CLOCK_INDEPENDENT = "a snooze without a wake-up time is tested, never one that depends on now"


@pytest.fixture
def inbox(tenant, cw_server):
    """Mirroring into the fake Chatwoot, which has the fixtures' customer (contact 77) and
    conversation (123)."""
    with cw_server.lock:
        contact = cw_server.create_contact(
            ACCOUNT_ID, {"name": "Jane Doe", "phone_number": JANE}, fire=False
        )
        cw_server.create_conversation(ACCOUNT_ID, INBOX_ID, contact["id"])
    return make_chatwoot_inbox(
        tenant, mirror=True, api_url=cw_server.base_url, token=cw_server.token
    )


def status_pushes(server) -> list[tuple[str, dict]]:
    """(path, body) of every status change the fake Chatwoot was asked for."""
    return [(path, body) for method, path, body in server.requests if "toggle_status" in path]


@pytest.fixture
def jane(tenant):
    return Contact.objects.create(tenant=tenant, name="Jane D.", phone=JANE)


def test_a_customer_message_is_stored_inbound(inbox, jane):
    assert post(inbox, "message_created_incoming").status_code == 200

    message = Message.objects.get(inbox=inbox)
    assert (message.direction, message.sender_type, message.status) == ("in", "contact", "received")
    assert (message.body, message.external_id) == ("Hi, where is my order?", "4242")
    assert message.created_at.isoformat() == "2026-06-17T10:00:00+00:00"
    conversation = message.conversation
    assert (conversation.contact, conversation.external_thread_id) == (jane, "123")
    assert conversation.status == "open" and conversation.last_inbound_at == message.created_at


def test_without_mirror_the_contact_is_matched_but_nothing_is_mirrored(tenant, jane):
    inbox = make_chatwoot_inbox(tenant)

    assert post(inbox, "message_created_incoming").status_code == 200

    assert not Conversation.objects.exists() and not Message.objects.exists()
    jane.refresh_from_db()
    assert jane.external_ids == {"chatwoot": "77"}


def test_an_agent_reply_in_chatwoot_shows_as_outbound(inbox, jane):
    post(inbox, "message_created_incoming")
    post(inbox, "message_created_outgoing_agent")

    reply = Message.objects.get(inbox=inbox, direction="out")
    assert (reply.sender_type, reply.body, reply.status) == (
        "agent",
        "It ships tomorrow, Jane.",
        "sent",
    )
    assert reply.metadata["agent"] == "Ann Agent" and reply.metadata["via"] == "Chatwoot"
    assert reply.conversation == Message.objects.get(direction="in").conversation
    assert not Delivery.objects.exists()  # Centro sent nothing


def test_a_private_note_is_ignored(inbox, jane):
    assert post(inbox, "message_created_private_note").status_code == 200
    activity = fixture("message_created_incoming") | {"id": 4250, "message_type": "activity"}
    assert post(inbox, activity).status_code == 200

    assert not Message.objects.exists()


def test_our_own_echo_is_not_a_new_message(tenant, inbox, jane):
    post(inbox, "message_created_incoming")
    conversation = Conversation.objects.get(inbox=inbox)
    sent = Message.objects.create(
        tenant=tenant,
        conversation=conversation,
        inbox=inbox,
        direction="out",
        sender_type="agent",
        body="Your order shipped",
        status="sent",
    )
    delivery = Delivery.objects.create(
        tenant=tenant,
        message=sent,
        inbox=inbox,
        provider="chatwoot",
        recipient=JANE,
        status="sent",
        provider_message_id="4245",
        client_ref="REF",
    )

    assert post(inbox, "message_created_centro_echo").status_code == 200
    # One we no longer know (or of another Centro): still never stored.
    stranger = fixture("message_created_centro_echo") | {"id": 4246, "source_id": "centro:zzz"}
    assert post(inbox, stranger).status_code == 200

    assert Message.objects.filter(inbox=inbox).count() == 2  # the customer's and ours
    delivery.refresh_from_db()
    assert delivery.status == "sent"


def test_our_send_is_recognised_when_the_channel_replaced_its_source_id(tenant, inbox, jane):
    # Chatwoot builds the webhook after the WhatsApp send replaced source_id with its own id.
    post(inbox, "message_created_incoming")
    conversation = Conversation.objects.get(inbox=inbox)
    sent = Message.objects.create(
        tenant=tenant,
        conversation=conversation,
        inbox=inbox,
        direction="out",
        sender_type="agent",
        body="Your order shipped",
        status="sending",
    )
    delivery = Delivery.objects.create(
        tenant=tenant,
        message=sent,
        inbox=inbox,
        provider="chatwoot",
        recipient=JANE,
        status="sending",
    )
    echo = fixture("message_created_centro_echo") | {"source_id": "wamid.OURS"}

    assert post(inbox, echo).status_code == 200

    assert Message.objects.filter(inbox=inbox).count() == 2
    delivery.refresh_from_db()
    assert (delivery.provider_message_id, delivery.status) == ("4245", "sent")


def test_an_edit_in_chatwoot_changes_the_stored_text(inbox, jane):
    post(inbox, "message_created_incoming")
    edited = fixture("message_created_incoming") | {"event": "message_updated", "content": "Hi!"}

    assert post(inbox, edited).status_code == 200

    message = Message.objects.get(inbox=inbox)
    assert message.body == "Hi!" and message.metadata["original_body"] == "Hi, where is my order?"


def test_attachments_are_kept_as_media_to_fetch(inbox, jane):
    payload = fixture("message_created_incoming") | {
        "attachments": [
            {
                "id": 9,
                "message_id": 4242,
                "file_type": "image",
                "account_id": 1,
                "extension": None,
                "content_type": "image/jpeg",
                "data_url": "https://chatwoot.acme.test/rails/active_storage/blobs/photo.jpg",
                "thumb_url": "https://chatwoot.acme.test/thumb.jpg",
                "file_size": 52311,
                "width": 800,
                "height": 600,
            }
        ]
    }

    post(inbox, payload)

    attachment = Message.objects.get(inbox=inbox).attachments.get()
    assert attachment.status == "pending"
    assert attachment.remote_url.endswith("/photo.jpg")
    assert attachment.content_type == "image/jpeg"


def test_a_new_chatwoot_conversation_appears_for_a_known_contact(tenant, inbox):
    bob = Contact.objects.create(tenant=tenant, name="Bob", email="bob@example.com")

    assert post(inbox, "conversation_created").status_code == 200
    assert post(inbox, "conversation_updated").status_code == 200

    conversation = Conversation.objects.get(inbox=inbox)
    assert (conversation.contact, conversation.external_thread_id) == (bob, "124")


def test_a_second_active_chatwoot_conversation_is_kept_apart(inbox, jane):
    post(inbox, "message_created_incoming")
    other = fixture("message_created_incoming") | {"id": 5000, "content": "Also this"}
    other["conversation"] = other["conversation"] | {"id": 130}

    post(inbox, other)

    first, second = Conversation.objects.filter(inbox=inbox).order_by("id")
    assert (first.external_thread_id, second.external_thread_id) == ("123", "130")
    assert Message.objects.get(body="Also this").conversation == second


# --- status both ways ---------------------------------------------------------------------------


def test_statuses_go_both_ways_without_bouncing(
    inbox, jane, owner, cw_server, eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post(inbox, "message_created_incoming")
    conversation = Conversation.objects.get(inbox=inbox)

    # Chatwoot resolves: Centro closes, and pushes nothing back.
    with django_capture_on_commit_callbacks(execute=True):
        assert post(inbox, "conversation_status_changed").status_code == 200
    conversation.refresh_from_db()
    assert conversation.status == "closed"
    assert status_pushes(cw_server) == []

    # An agent reopens in Centro: pushed to Chatwoot once.
    with django_capture_on_commit_callbacks(execute=True):
        do_update_conversation(conversation, status="open", acting_user=owner)
    assert status_pushes(cw_server) == [
        ("/api/v1/accounts/1/conversations/123/toggle_status", {"status": "open"})
    ]
    assert cw_server.conversations[(ACCOUNT_ID, 123)]["status"] == "open"

    # Chatwoot's webhook of that change bounces back: nothing changes, nothing is pushed.
    notes = Message.objects.filter(conversation=conversation, sender_type="system").count()
    reopened = fixture("conversation_status_changed") | {"status": "open", "updated_at": 1.5}
    with django_capture_on_commit_callbacks(execute=True):
        assert post(inbox, reopened).status_code == 200
    conversation.refresh_from_db()
    assert conversation.status == "open"
    assert Message.objects.filter(conversation=conversation, sender_type="system").count() == notes
    assert len(status_pushes(cw_server)) == 1

    # Centro closes (archives): Chatwoot hears "resolved", whose echo changes nothing.
    with django_capture_on_commit_callbacks(execute=True):
        do_update_conversation(conversation, status="archived", acting_user=owner)
    assert status_pushes(cw_server)[-1][1] == {"status": "resolved"}
    with django_capture_on_commit_callbacks(execute=True):
        post(inbox, fixture("conversation_status_changed") | {"updated_at": 2.5})
    conversation.refresh_from_db()
    assert conversation.status == "archived" and len(status_pushes(cw_server)) == 2

    kinds = list(
        BridgeActivity.objects.filter(contact=jane, kind="status").values_list(
            "direction", flat=True
        )
    )
    assert sorted(kinds) == ["in", "out", "out"]


def test_snoozed_without_a_wake_up_time_reads_as_pending(inbox, jane):
    post(inbox, "message_created_incoming")

    post(inbox, fixture("conversation_status_changed") | {"status": "snoozed"})

    assert Conversation.objects.get(inbox=inbox).status == "pending"


def test_a_push_is_retried_while_chatwoot_fails(inbox, jane, cw_server):
    post(inbox, "message_created_incoming")
    conversation = Conversation.objects.get(inbox=inbox)
    cw_server.fail_next(502, {"error": "Bad gateway"}, path="toggle_status")

    assert push_status_task.apply(args=[conversation.pk]).get() == "Pushed open."
    assert len(status_pushes(cw_server)) == 2

    cw_server.fail_next(404, {"error": "Resource could not be found"}, path="toggle_status")
    assert push_status_task.apply(args=[conversation.pk]).get().startswith("Not pushed")
    assert len(status_pushes(cw_server)) == 3


def test_conversations_of_other_providers_push_nothing(
    tenant, jane, owner, sms_inbox, eager_tasks, django_capture_on_commit_callbacks
):
    conversation = Conversation.objects.create(
        tenant=tenant, inbox=sms_inbox, contact=jane, external_thread_id="x"
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        do_update_conversation(conversation, status="closed", acting_user=owner)
    assert not [c for c in callbacks if "push_status" in repr(c.__code__.co_names)]


# --- the timeline -------------------------------------------------------------------------------


def test_the_contact_page_shows_the_bridged_events(tenant, other_tenant, inbox, jane, owner, login):
    post(inbox, "message_created_incoming")
    post(inbox, "message_created_outgoing_agent")
    post(inbox, "conversation_status_changed")

    html = login(owner).get(f"/contacts/{jane.pk}/").content.decode()
    assert 'id="contact-bridge"' in html
    assert "Message from the contact in Chatwoot conversation #123" in html
    assert "Reply by Ann Agent via Chatwoot" in html
    assert "went from open to closed" in html
    assert "Linked to Chatwoot contact 77" in html

    from omnichannel.models import Membership

    stranger = Membership.objects.get(tenant=other_tenant, role__builtin="owner").user
    assert login(stranger).get(f"/contacts/{jane.pk}/").status_code == 404
    assert Client().get(f"/contacts/{jane.pk}/").status_code == 302


def test_a_contact_without_bridged_events_has_no_section(tenant, jane, owner, login):
    assert 'id="contact-bridge"' not in login(owner).get(f"/contacts/{jane.pk}/").content.decode()
