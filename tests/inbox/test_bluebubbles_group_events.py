"""A group chat's rename and members coming and going (``group-name-change``,
``participant-added``, ``participant-removed``, ``participant-left``): the conversation's title
and participants follow, and the thread says what happened, once."""

import pytest

from contacts.models import Contact
from inbox.models import Conversation, Message
from omnichannel.models import WebhookEvent
from tests.fakes.bluebubbles import fixture
from tests.inbox.bluebubbles_helpers import make_bb_inbox, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(bb_inbox):
    assert post(bb_inbox, fixture("new_message_group")).status_code == 200
    return Conversation.objects.get(inbox=bb_inbox, external_thread_id__contains=";+;")


def notes(conversation: Conversation) -> list[str]:
    return list(
        conversation.messages.filter(sender_type=Message.SenderType.SYSTEM)
        .order_by("id")
        .values_list("body", flat=True)
    )


def test_a_rename_retitles_the_conversation_with_a_note(bb_inbox, group):
    Contact.objects.filter(phone="+14155550122").update(name="Bea")

    response = post(bb_inbox, fixture("group_name_change"))

    assert response.status_code == 200
    group.refresh_from_db()
    assert group.subject == "Cake committee (345678)"
    assert notes(group) == ["Bea named the group “Cake committee”."]
    note = group.messages.get(sender_type=Message.SenderType.SYSTEM)
    assert note.is_private
    assert note.metadata == {"event": "group_renamed"}


def test_members_added_removed_and_leaving_update_the_participants(bb_inbox, group):
    assert group.participants == ["+14155550111", "+14155550122", "+14155550133"]

    post(bb_inbox, fixture("participant_added"))
    group.refresh_from_db()
    assert group.participants == ["+14155550111", "+14155550122", "+14155550133", "+14155550144"]

    post(bb_inbox, fixture("participant_removed"))
    group.refresh_from_db()
    assert group.participants == ["+14155550111", "+14155550122", "+14155550144"]

    post(bb_inbox, fixture("participant_left"))
    group.refresh_from_db()
    assert group.participants == ["+14155550111", "+14155550144"]
    assert notes(group) == [
        "(415) 555-0111 added (415) 555-0144 to the group.",
        "(415) 555-0111 removed (415) 555-0133 from the group.",
        "(415) 555-0122 left the group.",
    ]


def test_a_member_leaving_a_size_trimmed_payload_is_still_taken_off(bb_inbox, group):
    """The server empties ``participants`` in payloads over 4000 bytes: the one who left is
    the handle."""
    payload = fixture("participant_left")
    payload["data"]["chats"][0]["participants"] = []

    post(bb_inbox, payload)

    group.refresh_from_db()
    assert group.participants == ["+14155550111", "+14155550133"]
    assert notes(group) == ["(415) 555-0122 left the group."]


def test_a_repeated_group_event_changes_nothing(bb_inbox, group):
    post(bb_inbox, fixture("group_name_change"))
    renamed = fixture("group_name_change")
    renamed["data"]["groupTitle"] = "Something else"  # the same change (guid), replayed

    assert post(bb_inbox, renamed).status_code == 200

    group.refresh_from_db()
    assert group.subject == "Cake committee (345678)"
    assert len(notes(group)) == 1
    assert (
        WebhookEvent.objects.filter(inbox=bb_inbox)
        .latest("id")
        .error.startswith("Group change 7A7A7A7A-2222-4C4C-8D8D-GROUPNAME001 is already applied")
    )


def test_a_group_event_for_a_group_without_a_conversation_stores_nothing(bb_inbox):
    assert post(bb_inbox, fixture("participant_added")).status_code == 200

    assert not Conversation.objects.filter(inbox=bb_inbox).exists()
    assert not Message.objects.filter(inbox=bb_inbox).exists()


def test_an_icon_change_is_not_shown(bb_inbox, group):
    payload = fixture("participant_left")
    payload["type"] = "group-icon-changed"
    payload["data"].update(itemType=3, groupActionType=1)

    assert post(bb_inbox, payload).status_code == 200

    assert notes(group) == []


def test_a_group_event_with_a_bad_secret_is_refused_and_changes_nothing(bb_inbox, group):
    response = post(bb_inbox, fixture("group_name_change"), token="not-the-token")
    assert response.status_code == 404
    response = post(bb_inbox, fixture("group_name_change"), query="?password=wrong")
    assert response.status_code == 403

    group.refresh_from_db()
    assert "Party planning" in group.subject
    assert notes(group) == []


def test_another_tenants_inbox_on_the_same_server_cannot_touch_the_group(
    bb_inbox, bb_server, group, other_tenant
):
    theirs = make_bb_inbox(other_tenant, bb_server)

    assert post(theirs, fixture("group_name_change")).status_code == 200

    group.refresh_from_db()
    assert "Party planning" in group.subject
    assert notes(group) == []
