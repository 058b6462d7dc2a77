"""Chatwoot webhooks in: the signature (the documented test vector, forged, stale, unsigned),
dedupe on the delivery id and on the event, the tenant from the URL alone, and contacts matched
to the tenant's (by Chatwoot id, phone — Mexico's old +52 1 included — or email), created only
when the inbox says so, else listed as unmatched and linked by hand."""

import time

import pytest
import time_machine

from contacts.models import Contact
from inbox.models import BridgeActivity, Conversation, Message, UnmatchedContact
from inbox.providers.base import Unverified
from inbox.providers.chatwoot import events
from omnichannel.models import WebhookEvent
from tests.inbox.chatwoot_helpers import fixture, make_chatwoot_inbox, post

pytestmark = pytest.mark.django_db

JANE = "+14155550123"
VECTOR = "sha256=3a8856fc4c922a6324ac9bd0e93e1e62e63834029ea02f9305a89b12953ec16d"


@pytest.fixture
def inbox(tenant):
    return make_chatwoot_inbox(tenant, mirror=True)


@pytest.fixture
def jane(tenant):
    return Contact.objects.create(tenant=tenant, name="Jane D.", phone=JANE)


# --- the signature ----------------------------------------------------------------------------


def test_the_documented_test_vector():
    body = b'{"event":"message_created","id":1}'
    assert events.signature("test-secret", "1781690400", body) == VECTOR


class _Request:
    def __init__(self, body: bytes, headers: dict) -> None:
        self.body, self.headers = body, headers


class _Provider:
    def __init__(self, inbox) -> None:
        self.inbox = inbox

    def _credentials(self) -> dict:
        return self.inbox.get_credentials()


@pytest.mark.clock
def test_verify_accepts_the_test_vector_at_its_time_and_refuses_it_later(tenant):
    inbox = make_chatwoot_inbox(tenant, secret="test-secret")
    request = _Request(
        b'{"event":"message_created","id":1}',
        {
            "X-Chatwoot-Timestamp": "1781690400",
            "X-Chatwoot-Signature": VECTOR,
        },
    )
    with time_machine.travel(1781690400 + 60, tick=False):
        assert events.verify(_Provider(inbox), request) is True
    stale = pytest.raises(Unverified, match="older than 5 minutes")
    with time_machine.travel(1781690400 + 301, tick=False), stale:
        events.verify(_Provider(inbox), request)
    ahead = pytest.raises(Unverified, match="in the future")
    with time_machine.travel(1781690400 - 400, tick=False), ahead:
        events.verify(_Provider(inbox), request)


def test_a_forged_signature_is_refused_and_nothing_is_stored(inbox, jane):
    response = post(inbox, "message_created_incoming", secret="not-the-secret")

    assert response.status_code == 403
    assert "does not match" in response.content.decode()
    assert not WebhookEvent.objects.exists()
    assert not Message.objects.exists()
    assert Contact.objects.get(pk=jane.pk).external_ids == {}


def test_a_stale_timestamp_is_refused(inbox, jane):
    response = post(inbox, "message_created_incoming", timestamp=int(time.time()) - 600)

    assert response.status_code == 403
    assert "refused as a possible replay" in response.content.decode()
    assert not WebhookEvent.objects.exists()
    assert not Message.objects.exists()


def test_an_unsigned_webhook_is_refused_unless_the_inbox_allows_old_chatwoot(tenant, inbox, jane):
    response = post(inbox, "message_created_incoming", signed=False)
    assert response.status_code == 403
    assert "upgrade Chatwoot" in response.content.decode()
    assert not WebhookEvent.objects.exists()

    inbox.settings = {**inbox.settings, "allow_unsigned": True}
    inbox.save()
    assert post(inbox, "message_created_incoming", signed=False).status_code == 200
    assert Message.objects.filter(inbox=inbox).count() == 1


def test_each_chatwoot_target_may_sign_with_its_own_secret(tenant, jane):
    # An account webhook and the API inbox sign with their own secrets.
    inbox = make_chatwoot_inbox(tenant, secret="account-secret, api-inbox-secret", mirror=True)

    assert post(inbox, "message_created_incoming", secret="api-inbox-secret").status_code == 200
    assert post(inbox, "message_created_incoming", secret="account-secret").status_code == 200
    assert post(inbox, "message_created_incoming", secret="account").status_code == 403
    assert Message.objects.filter(inbox=inbox).count() == 1


def test_a_signature_without_its_timestamp_is_refused(inbox):
    from django.test import Client
    from django.urls import reverse

    path = reverse("webhooks:receive", args=["chatwoot", inbox.webhook_token, "events"])
    response = Client().post(
        path,
        data=b'{"event":"message_created","id":1}',
        content_type="application/json",
        headers={"X-Chatwoot-Signature": "sha256=00"},
    )
    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


# --- dedupe -------------------------------------------------------------------------------------


def test_a_repeated_delivery_id_is_a_no_op(inbox, jane):
    assert post(inbox, "message_created_incoming", delivery="d-1").status_code == 200
    payload = fixture("message_created_incoming")
    payload["id"] = 9999  # even another body: the delivery id was seen
    assert post(inbox, payload, delivery="d-1").status_code == 200

    assert Message.objects.filter(inbox=inbox).count() == 1
    first, second = WebhookEvent.objects.order_by("id")
    assert first.external_id == second.external_id == "d-1"
    assert second.state == "processed" and "Duplicate of webhook event" in second.error
    assert first.duration_ms is not None and second.duration_ms is None


def test_the_same_event_under_another_delivery_id_is_a_no_op(inbox, jane):
    # One event, two Chatwoot targets (the account webhook and the API inbox): two uuids.
    assert post(inbox, "message_created_incoming", delivery="account-hook").status_code == 200
    assert post(inbox, "message_created_incoming", delivery="api-inbox").status_code == 200

    assert Message.objects.filter(inbox=inbox).count() == 1
    assert BridgeActivity.objects.filter(kind="message_in").count() == 1
    assert WebhookEvent.objects.filter(error__startswith="Duplicate").count() == 1


def test_two_status_changes_of_one_conversation_are_two_events(inbox, jane):
    post(inbox, "message_created_incoming")
    resolved = fixture("conversation_status_changed")
    reopened = {**resolved, "status": "open", "updated_at": resolved["updated_at"] + 60}

    post(inbox, resolved)
    post(inbox, reopened)
    post(inbox, resolved | {"updated_at": resolved["updated_at"] + 120})

    assert Conversation.objects.get(inbox=inbox).status == "closed"
    assert not WebhookEvent.objects.filter(error__startswith="Duplicate").exists()


# --- the tenant comes from the URL -----------------------------------------------------------


def test_a_payload_without_account_works(inbox, jane):
    payload = fixture("message_created_incoming")
    del payload["account"], payload["conversation"]["account"], payload["sender"]["account"]

    assert post(inbox, payload).status_code == 200
    assert Message.objects.get(inbox=inbox).conversation.contact == jane


def test_a_payload_of_another_chatwoot_account_is_ignored(inbox, jane):
    payload = fixture("message_created_incoming")
    payload["account"] = {"id": 42, "name": "Someone else"}

    assert post(inbox, payload).status_code == 200
    assert not Message.objects.exists()
    assert "not this inbox's account" in WebhookEvent.objects.get().error


def test_tenant_b_cannot_write_into_tenant_a(tenant, other_tenant, inbox, jane):
    theirs = make_chatwoot_inbox(other_tenant, mirror=True)

    # A's URL signed with B's secret: refused.
    response = post(
        inbox, "message_created_incoming", secret=theirs.get_credentials()["webhook_secret"]
    )
    assert response.status_code == 403
    # B's own URL: lands in B, and A's contact with the same phone is never matched.
    assert post(theirs, "message_created_incoming").status_code == 200

    assert not Message.objects.filter(inbox=inbox).exists()
    assert Contact.objects.get(pk=jane.pk).external_ids == {}
    assert not Message.objects.filter(inbox=theirs).exists()  # B has no such contact
    unmatched = UnmatchedContact.objects.get()
    assert (unmatched.tenant, unmatched.inbox) == (other_tenant, theirs)


# --- matching ---------------------------------------------------------------------------------


def test_a_known_phone_lands_on_that_contact(inbox, jane):
    assert post(inbox, "message_created_incoming").status_code == 200

    message = Message.objects.get(inbox=inbox)
    assert message.conversation.contact == jane
    assert message.conversation.inbox == inbox
    assert message.conversation.external_thread_id == "123"
    jane.refresh_from_db()
    assert jane.external_ids == {"chatwoot": "77"}
    assert BridgeActivity.objects.filter(contact=jane, kind="linked").count() == 1


def test_the_chatwoot_id_wins_over_the_phone(tenant, inbox, jane):
    other = Contact.objects.create(tenant=tenant, name="Jane", external_ids={"chatwoot": "77"})

    post(inbox, "message_created_incoming")

    assert Message.objects.get(inbox=inbox).conversation.contact == other


def test_mexico_s_old_mobile_prefix_matches(tenant):
    inbox = make_chatwoot_inbox(tenant, mirror=True)
    maria = Contact.objects.create(tenant=tenant, name="María", phone="+525512345678")
    payload = fixture("message_created_incoming")
    for sender in (payload["sender"], payload["conversation"]["meta"]["sender"]):
        sender["phone_number"] = "+5215512345678"

    post(inbox, payload)

    assert Message.objects.get(inbox=inbox).conversation.contact == maria


def test_an_unknown_phone_creates_nothing_and_is_listed(tenant, inbox, owner, login):
    assert post(inbox, "message_created_incoming").status_code == 200
    post(inbox, fixture("message_created_incoming") | {"id": 4300})

    assert not Contact.objects.filter(tenant=tenant).exists()
    assert not Conversation.objects.exists() and not Message.objects.exists()
    unmatched = UnmatchedContact.objects.get()
    assert (unmatched.external_id, unmatched.name, unmatched.phone) == ("77", "Jane Doe", JANE)
    assert (unmatched.seen, unmatched.thread_ref) == (2, "123")

    page = login(owner).get(f"/settings/channels/{inbox.pk}/unmatched/")
    assert page.status_code == 200
    assert "Jane Doe" in page.content.decode() and JANE in page.content.decode()


def test_linking_by_hand_mirrors_the_next_event(tenant, inbox, owner, login):
    post(inbox, "message_created_incoming")
    unmatched = UnmatchedContact.objects.get()
    jane = Contact.objects.create(tenant=tenant, name="Jane", phone="+14155550199")
    client = login(owner)

    response = client.post(
        f"/settings/channels/{inbox.pk}/unmatched/{unmatched.pk}/link/", {"contact": str(jane.pk)}
    )

    assert response.status_code == 302
    jane.refresh_from_db()
    assert jane.external_ids == {"chatwoot": "77"}
    unmatched.refresh_from_db()
    assert unmatched.linked_contact == jane and unmatched.linked_at
    assert (unmatched.name, unmatched.phone) == ("", "")  # the contact holds them now
    page = client.get(f"/settings/channels/{inbox.pk}/unmatched/").content.decode()
    assert f'id="unmatched-{unmatched.pk}"' not in page and 'id="no-unmatched"' in page
    assert BridgeActivity.objects.filter(contact=jane, kind="linked").exists()

    post(inbox, fixture("message_created_incoming") | {"id": 4301, "content": "Hello?"})
    message = Message.objects.get(inbox=inbox)
    assert (message.body, message.conversation.contact) == ("Hello?", jane)
    assert message.conversation.external_thread_id == "123"


def test_the_channel_page_links_to_the_unmatched(inbox, owner, login):
    html = login(owner).get(f"/settings/channels/{inbox.pk}/").content.decode()
    assert f'href="/settings/channels/{inbox.pk}/unmatched/"' in html


def test_another_tenant_cannot_see_or_link_the_unmatched(tenant, other_tenant, inbox, login):
    from omnichannel.models import Membership

    post(inbox, "message_created_incoming")
    unmatched = UnmatchedContact.objects.get()
    theirs = Contact.objects.create(tenant=other_tenant, name="X", phone=JANE)
    stranger = Membership.objects.get(tenant=other_tenant, role__builtin="owner").user
    client = login(stranger)

    assert client.get(f"/settings/channels/{inbox.pk}/unmatched/").status_code == 404
    response = client.post(
        f"/settings/channels/{inbox.pk}/unmatched/{unmatched.pk}/link/", {"contact": str(theirs.pk)}
    )
    assert response.status_code == 404
    assert UnmatchedContact.objects.get().linked_at is None


def test_create_contacts_creates_the_contact(tenant):
    inbox = make_chatwoot_inbox(tenant, mirror=True, create_contacts=True)

    post(inbox, "message_created_incoming")

    contact = Contact.objects.get(tenant=tenant)
    assert (contact.name, contact.phone, contact.created_via) == ("Jane Doe", JANE, "chatwoot")
    assert contact.external_ids == {"chatwoot": "77"}
    assert Message.objects.get(inbox=inbox).conversation.contact == contact
    assert not UnmatchedContact.objects.exists()


def test_contact_events_run_the_same_matching(tenant, inbox):
    bob = Contact.objects.create(tenant=tenant, name="Bob", email="bob@example.com")

    assert post(inbox, "contact_created").status_code == 200
    bob.refresh_from_db()
    assert bob.external_ids == {"chatwoot": "78"}

    # contact_updated of someone unknown: listed, nothing created.
    stranger = fixture("contact_updated") | {
        "id": 79,
        "email": "x@example.com",
        "phone_number": None,
    }
    assert post(inbox, stranger).status_code == 200
    assert UnmatchedContact.objects.get().external_id == "79"
    assert Contact.objects.filter(tenant=tenant).count() == 1


def test_ignored_events_are_journaled_and_change_nothing(inbox):
    assert (
        post(inbox, {"event": "conversation_typing_on", "conversation": {"id": 1}}).status_code
        == 200
    )
    assert post(inbox, {"event": "webwidget_triggered", "id": 3}).status_code == 200
    assert WebhookEvent.objects.filter(state="processed").count() == 2
    assert post(inbox, {"event": "nope", "id": 3}).status_code == 400
    assert post(inbox, {"id": 3}).status_code == 400


def test_a_journaled_event_replays_without_applying_twice(inbox, jane):
    from omnichannel.webhooks import journal

    post(inbox, "message_created_incoming")
    event = WebhookEvent.objects.get()

    replayed = journal.replay(event)

    assert replayed.state == "processed" and "already stored" in replayed.error
    assert Message.objects.filter(inbox=inbox).count() == 1
