"""What the inbox tells agents: @mentions in private notes (stored, validated, highlighted,
notified), a conversation assigned to them, a contact's reply in their conversation."""

import pytest

from contacts.models import Contact
from inbox.actions.conversations import do_update_conversation
from inbox.actions.send import do_send_message
from inbox.models import Conversation, Message
from omnichannel.actions import ActionError
from omnichannel.models import AgentNotification, AgentNotificationPreference
from tests.inbox.webhook_helpers import receive

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def conversation(sms_inbox, contact) -> Conversation:
    return Conversation.objects.create(tenant=sms_inbox.tenant, inbox=sms_inbox, contact=contact)


@pytest.fixture
def bea(tenant, make_member):
    user = make_member(tenant, "agent", email="bea@acme.test")
    user.first_name, user.last_name = "Bea", "Ruiz"
    user.save()
    return user


def notifications_of(user, kind=None):
    rows = AgentNotification.objects.filter(recipient=user)
    return list(rows.filter(kind=kind) if kind else rows)


# --- mentions -------------------------------------------------------------------------------


def test_a_note_mentioning_a_colleague_records_and_notifies_them(tenant, owner, bea, conversation):
    note = do_send_message(
        tenant,
        conversation=conversation,
        body="@Bea Ruiz can you call her back?",
        is_private=True,
        mentions=[bea.pk],
        acting_user=owner,
    )

    assert note.metadata["mentions"] == [bea.pk]
    assert note.metadata["mention_names"] == ["@Bea Ruiz"]
    [notification] = notifications_of(bea, "inbox.mentioned")
    assert notification.tenant == tenant
    assert notification.actor == owner
    assert notification.title == f"{owner.email} mentioned you · Ana García"
    assert notification.text == "@Bea Ruiz can you call her back?"
    assert notification.url == f"/inbox/c/{conversation.pk}/#msg-{note.pk}"
    assert notification.target_type == "conversation"
    assert notification.target_id == conversation.pk
    assert notifications_of(owner) == []


def test_a_mention_of_someone_in_another_tenant_is_refused(
    tenant, other_tenant, owner, make_member, conversation
):
    outsider = make_member(other_tenant, "agent", email="outsider@globex.test")

    with pytest.raises(ActionError, match="only mention members of this tenant"):
        do_send_message(
            tenant,
            conversation=conversation,
            body="@outsider@globex.test look",
            is_private=True,
            mentions=[outsider.pk],
            acting_user=owner,
        )

    assert not Message.objects.filter(conversation=conversation).exists()
    assert AgentNotification.objects.count() == 0


def test_a_mention_whose_name_was_deleted_from_the_text_is_dropped(
    tenant, owner, bea, conversation
):
    note = do_send_message(
        tenant,
        conversation=conversation,
        body="Never mind",
        is_private=True,
        mentions=[bea.pk],
        acting_user=owner,
    )

    assert "mentions" not in note.metadata
    assert notifications_of(bea) == []


def test_only_notes_mention(tenant, owner, bea, conversation):
    with pytest.raises(ActionError, match="Only private notes mention"):
        do_send_message(
            tenant,
            conversation=conversation,
            body="@Bea Ruiz",
            mentions=[bea.pk],
            acting_user=owner,
        )


def test_mentioning_yourself_notifies_nobody(tenant, owner, conversation):
    do_send_message(
        tenant,
        conversation=conversation,
        body=f"@{owner.email} reminder",
        is_private=True,
        mentions=[owner.pk],
        acting_user=owner,
    )

    assert AgentNotification.objects.count() == 0


def test_the_composer_sends_mentions_and_the_bubble_highlights_them(
    tenant, owner, bea, login, conversation
):
    client = login(owner)
    response = client.post(
        f"/inbox/c/{conversation.pk}/messages/",
        {"mode": "note", "body": "Ask @Bea Ruiz <b>now</b>", "mentions": f"{bea.pk}"},
        headers=HTMX,
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert '<mark class="mention">@Bea Ruiz</mark> &lt;b&gt;now&lt;/b&gt;' in html
    assert len(notifications_of(bea, "inbox.mentioned")) == 1


def test_the_composer_refuses_a_mention_of_another_tenants_member(
    tenant, other_tenant, owner, make_member, login, conversation
):
    outsider = make_member(other_tenant, "agent", email="outsider@globex.test")
    client = login(owner)

    response = client.post(
        f"/inbox/c/{conversation.pk}/messages/",
        {"mode": "note", "body": "@outsider@globex.test", "mentions": str(outsider.pk)},
        headers=HTMX,
    )

    assert response.status_code == 400
    assert "only mention members of this tenant" in response.content.decode()
    assert AgentNotification.objects.count() == 0


def test_the_api_writes_notes_with_mentions(tenant, api_token, bea, conversation, client):
    response = client.post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        {"body": "@bea@acme.test please check", "private": True, "mentions": [bea.pk]},
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_token}"},
    )

    assert response.status_code in (200, 201), response.content
    assert response.json()["mentions"] == [bea.pk]
    [notification] = notifications_of(bea, "inbox.mentioned")
    assert notification.actor is None
    assert notification.title == "Someone mentioned you · Ana García"


def test_mention_suggestions_list_only_this_tenants_members(
    tenant, other_tenant, owner, bea, make_member, login
):
    make_member(other_tenant, "agent", email="bea.other@globex.test")
    client = login(owner)

    html = client.get("/inbox/mentions/", {"q": "bea"}).content.decode()

    assert f'data-mention-id="{bea.pk}"' in html
    assert 'data-mention-label="Bea Ruiz"' in html
    assert "globex" not in html


def test_mention_suggestions_leave_out_members_who_cannot_see_conversations(
    tenant, owner, make_member, login
):
    viewer_without_inbox = make_member(tenant, "agent", email="nobody@acme.test")
    from omnichannel.models import Membership, Role

    role = Role.objects.create(tenant=tenant, name="Billing only", permissions=["billing.view"])
    Membership.objects.filter(user=viewer_without_inbox).update(role=role)

    html = login(owner).get("/inbox/mentions/", {"q": "nobody"}).content.decode()

    assert "nobody@acme.test" not in html
    assert "No member matches" in html


# --- assignment and replies -----------------------------------------------------------------


def test_assigning_a_conversation_notifies_the_assignee_once(tenant, owner, bea, conversation):
    do_update_conversation(conversation, assignee=bea, acting_user=owner)
    do_update_conversation(conversation, assignee=bea, acting_user=owner)  # no change

    [notification] = notifications_of(bea, "inbox.assigned")
    assert notification.title == f"Assigned to you by {owner.email} · Ana García"
    assert notification.url == f"/inbox/c/{conversation.pk}/"


def test_taking_a_conversation_yourself_notifies_nobody(tenant, bea, conversation):
    do_update_conversation(conversation, assignee=bea, acting_user=bea)

    assert AgentNotification.objects.count() == 0


def test_a_contacts_reply_notifies_the_assignee(tenant, owner, bea, sms_inbox, contact):
    first = receive(sms_inbox, contact.phone, "Hola")
    conversation = first.conversation
    do_update_conversation(conversation, assignee=bea, acting_user=owner)

    reply = receive(sms_inbox, contact.phone, "¿Sigue disponible?")

    [notification] = notifications_of(bea, "inbox.reply")
    assert notification.title == "Ana García replied"
    assert notification.text == "¿Sigue disponible?"
    assert notification.url == f"/inbox/c/{conversation.pk}/#msg-{reply.pk}"
    # The reply kind is not a browser notification unless the agent asks for it.
    assert notification.browser is False
    assert notifications_of(owner) == []


def test_an_agent_who_turned_a_kind_off_gets_nothing(tenant, owner, bea, conversation):
    AgentNotificationPreference.objects.create(
        user=bea, kind="inbox.assigned", in_app=False, browser=False, email=False
    )

    do_update_conversation(conversation, assignee=bea, acting_user=owner)

    assert notifications_of(bea) == []


def test_opening_the_conversation_reads_what_the_agent_was_told_about_it(
    tenant, owner, bea, sms_inbox, contact, login
):
    conversation = receive(sms_inbox, contact.phone, "Hola").conversation
    do_update_conversation(conversation, assignee=bea, acting_user=owner)
    receive(sms_inbox, contact.phone, "¿Sigue disponible?")
    other = Conversation.objects.create(
        tenant=tenant,
        inbox=sms_inbox,
        contact=Contact.objects.create(tenant=tenant, name="Luis", phone="+14155550122"),
    )
    do_update_conversation(other, assignee=bea, acting_user=owner)
    # Another member's notifications about the same conversation stay unread.
    do_send_message(
        tenant,
        conversation=conversation,
        body=f"@{owner.email} fyi",
        is_private=True,
        mentions=[owner.pk],
        acting_user=bea,
    )

    assert login(bea).get(f"/inbox/c/{conversation.pk}/").status_code == 200

    unread = AgentNotification.objects.filter(read_at__isnull=True)
    assert sorted((n.recipient_id, n.target_id) for n in unread) == sorted(
        [(bea.pk, other.pk), (owner.pk, conversation.pk)]
    )


def test_deleting_a_conversation_or_erasing_its_contact_forgets_its_notifications(
    tenant, owner, bea, sms_inbox, contact
):
    from contacts.gdpr import do_erase_contact
    from inbox.actions.conversations import do_delete_conversation

    first = receive(sms_inbox, contact.phone, "Hola").conversation
    do_update_conversation(first, assignee=bea, acting_user=owner)
    other_contact = Contact.objects.create(tenant=tenant, name="Luis", phone="+14155550122")
    second = receive(sms_inbox, other_contact.phone, "Hi").conversation
    do_update_conversation(second, assignee=bea, acting_user=owner)
    assert AgentNotification.objects.count() == 2

    do_erase_contact(contact, acting_user=owner)
    assert [n.target_id for n in AgentNotification.objects.all()] == [second.pk]

    do_delete_conversation(second, acting_user=owner)
    assert not AgentNotification.objects.exists()
