"""Merging a duplicate into a contact: nothing lost, conflicts settled, one transaction."""

from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.actions import get_or_create_contact_by_phone
from contacts.merge import do_merge_contacts
from contacts.models import (
    AttributeDefinition,
    Consent,
    Contact,
    ContactLabel,
    ContactList,
    HouseholdMember,
    ListMembership,
)
from contacts.services import do_create_contact
from inbox.models import Conversation, Message
from omnichannel.actions import ActionError
from omnichannel.labels import do_create_label
from omnichannel.models import AuditEvent
from tests.inbox.api_factories import make_conversation, make_inbox, make_message

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


@pytest.fixture
def pair(tenant):
    AttributeDefinition.objects.create(tenant=tenant, key="plan", label="Plan")
    AttributeDefinition.objects.create(tenant=tenant, key="pet", label="Pet")
    winner = do_create_contact(
        tenant,
        fields={"first_name": "Ana", "city": "Puebla", "external_ids": {"chatwoot": "1"}},
        phones=["+525512345678"],
        emails=["ana@example.test"],
        attributes={"plan": "Gold"},
    )
    loser = do_create_contact(
        tenant,
        fields={
            "name": "Ana G (WhatsApp)",
            "city": "Oaxaca",
            "postal_code": "68000",
            "language": "es",
            "external_ids": {"chatwoot": "2", "hubspot": "h-9"},
        },
        phones=["+14155550111", "+14155550122"],
        emails=["ana.g@example.test"],
        attributes={"plan": "Silver", "pet": "Cat"},
    )
    return winner, loser


def test_phones_emails_fields_and_attributes_follow_the_winner_rules(pair, owner):
    winner, loser = pair
    merged = do_merge_contacts(winner, loser, acting_user=owner)
    assert not Contact.objects.filter(pk=loser.pk).exists()
    assert merged.phone == "+525512345678" and merged.email == "ana@example.test"
    assert list(merged.phones.values_list("number", "is_primary")) == [
        ("+525512345678", True),
        ("+14155550111", False),
        ("+14155550122", False),
    ]
    assert set(merged.emails.values_list("email", flat=True)) == {
        "ana@example.test",
        "ana.g@example.test",
    }
    merged.refresh_from_db()
    assert merged.name == "Ana" and merged.city == "Puebla"
    assert merged.postal_code == "68000" and merged.language == "es"
    assert merged.attributes == {"plan": "Gold", "pet": "Cat"}
    assert merged.external_ids == {"chatwoot": "1", "hubspot": "h-9"}
    # The old numbers now find the winner.
    assert get_or_create_contact_by_phone(winner.tenant, phone="(415) 555-0122") == (merged, False)
    event = AuditEvent.objects.get(action="contact.merged")
    assert event.actor == owner and event.target_id == str(winner.pk)
    assert event.data["merged_contact_id"] == loser.pk
    assert event.data["external_id_conflicts"] == {"chatwoot": {"kept": "1", "dropped": "2"}}


def test_the_losers_primary_becomes_primary_when_the_winner_had_none(tenant):
    winner = do_create_contact(tenant, fields={"name": "Only a name"})
    loser = do_create_contact(tenant, fields={"name": "x"}, phones=["+14155550111"])
    merged = do_merge_contacts(winner, loser)
    merged.refresh_from_db()
    assert merged.phone == "+14155550111"
    assert merged.phones.get().is_primary


NOW = timezone.now()


@pytest.mark.parametrize(
    ("ours", "theirs", "expected"),
    [
        # Opt-out is never lost, whichever is more recent.
        (("opted_out", 10), ("opted_in", 1), ("opted_out", "ours")),
        (("opted_in", 1), ("opted_out", 10), ("opted_out", "theirs")),
        # Otherwise the most recent change wins.
        (("opted_in", 10), ("opted_in", 1), ("opted_in", "theirs")),
        (("opted_out", 1), ("opted_out", 10), ("opted_out", "ours")),
    ],
)
def test_consent_conflicts_keep_an_opt_out_else_the_latest(pair, ours, theirs, expected):
    winner, loser = pair
    for contact, (status, days_ago), who in ((winner, ours, "ours"), (loser, theirs, "theirs")):
        Consent.objects.create(
            tenant=contact.tenant,
            contact=contact,
            channel="sms",
            sender="+14155550100",
            status=status,
            source="keyword",
            detail=who,
            changed_at=NOW - timedelta(days=days_ago),
        )
    Consent.objects.create(
        tenant=loser.tenant,
        contact=loser,
        channel="whatsapp",
        sender="+14155550100",
        status="opted_out",
        source="provider_error",
    )
    do_merge_contacts(winner, loser)
    sms = Consent.objects.get(contact=winner, channel="sms")
    assert (sms.status, sms.detail) == expected
    assert Consent.objects.get(contact=winner, channel="whatsapp").status == "opted_out"
    assert Consent.objects.count() == 2


def test_household_lists_and_labels_move_without_duplicates(pair, tenant):
    winner, loser = pair
    confirmed = HouseholdMember.objects.create(
        tenant=tenant, contact=winner, name="Luis", relationship="spouse", confirmed_at=NOW
    )
    HouseholdMember.objects.create(tenant=tenant, contact=loser, name="luis", relationship="spouse")
    HouseholdMember.objects.create(tenant=tenant, contact=loser, name="Sofía", relationship="child")
    # Someone else's household pointed at the duplicate; the two were also linked together.
    other = do_create_contact(tenant, fields={"name": "Grandma"})
    HouseholdMember.objects.create(
        tenant=tenant, contact=other, member=loser, name="Ana", relationship="grandchild"
    )
    HouseholdMember.objects.create(
        tenant=tenant, contact=winner, member=loser, name="Ana G", relationship="other"
    )
    both, only_loser = (ContactList.objects.create(tenant=tenant, name=n) for n in ("Both", "L"))
    for contact_list, contact in ((both, winner), (both, loser), (only_loser, loser)):
        ListMembership.objects.create(tenant=tenant, contact_list=contact_list, contact=contact)
    vip, new = do_create_label(tenant, name="VIP"), do_create_label(tenant, name="New")
    for label, contact in ((vip, winner), (vip, loser), (new, loser)):
        ContactLabel.objects.create(tenant=tenant, label=label, contact=contact)

    do_merge_contacts(winner, loser)

    names = sorted(winner.household.values_list("name", flat=True))
    assert names == ["Luis", "Sofía"]
    assert winner.household.get(name="Luis") == confirmed
    assert HouseholdMember.objects.get(contact=other).member == winner
    assert sorted(
        ListMembership.objects.filter(contact=winner).values_list("contact_list__name", flat=True)
    ) == ["Both", "L"]
    assert sorted(winner.label_links.values_list("label__name", flat=True)) == ["New", "VIP"]
    assert not ListMembership.objects.filter(contact_id=loser.pk).exists()


def test_conversations_move_and_a_duplicate_active_one_is_closed(pair, tenant, owner):
    winner, loser = pair
    sms, whatsapp = make_inbox(tenant), make_inbox(tenant, kind="whatsapp")
    ours = make_conversation(sms, winner)
    theirs = make_conversation(sms, loser)
    make_message(theirs, direction="in", body="Hola desde el otro número")
    theirs_old = make_conversation(sms, loser, status="closed")
    theirs_wa = make_conversation(whatsapp, loser)

    do_merge_contacts(winner, loser, acting_user=owner)

    for conversation in (ours, theirs, theirs_old, theirs_wa):
        conversation.refresh_from_db()
        assert conversation.contact_id == winner.pk
    assert ours.status == "open" and theirs_wa.status == "open"
    assert theirs.status == "closed"
    assert theirs.messages.filter(body="Hola desde el otro número").exists()
    note = theirs.messages.get(metadata__event="contact_merged")
    assert note.is_private and note.sender_type == "system"
    assert f"conversation {ours.pk}" in note.body
    assert theirs.messages.filter(metadata__event="status_changed").exists()
    # The person writes again on the duplicate's number: it lands in the winner's open one.
    contact, _ = get_or_create_contact_by_phone(tenant, phone="+14155550111")
    assert contact == winner
    assert Conversation.objects.get(contact=winner, inbox=sms, status__in=["open"]) == ours
    event = AuditEvent.objects.get(action="contact.merged")
    assert event.data["conversations"] == 3 and event.data["closed_conversations"] == [theirs.pk]
    assert Message.objects.filter(conversation__contact=winner).count() >= 3


def test_it_refuses_merging_a_contact_with_itself_another_tenant_or_an_erased_one(
    tenant, other_tenant
):
    ana = do_create_contact(tenant, fields={"name": "Ana"})
    with pytest.raises(ActionError):
        do_merge_contacts(ana, ana)
    stranger = do_create_contact(other_tenant, fields={"name": "Stranger"})
    with pytest.raises(ActionError) as refused:
        do_merge_contacts(ana, stranger)
    assert refused.value.code == "not_found"
    erased = do_create_contact(tenant, fields={"name": "Gone"})
    Contact.objects.filter(pk=erased.pk).update(erased_at=NOW)
    with pytest.raises(ActionError) as refused:
        do_merge_contacts(ana, erased)
    assert refused.value.code == "gone"
    assert Contact.objects.filter(pk__in=[ana.pk, stranger.pk, erased.pk]).count() == 3
