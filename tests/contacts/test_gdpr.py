"""GDPR: export everything about a contact; erase the person and keep the counts."""

import io
import itertools

import pytest
from django.core.files.base import ContentFile

from contacts.actions import get_or_create_contact_by_phone
from contacts.gdpr import do_erase_contact, do_export_contact, export_contact
from contacts.models import (
    AttributeDefinition,
    Consent,
    ContactEmail,
    ContactLabel,
    ContactList,
    ContactPhone,
    HouseholdMember,
    ListMembership,
)
from contacts.services import do_create_contact
from inbox.models import Attachment, Conversation, Delivery, Message
from omnichannel.labels import do_create_label
from omnichannel.models import AuditEvent, WebhookEvent
from tests.inbox.api_factories import make_conversation, make_inbox, make_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana(tenant):
    AttributeDefinition.objects.create(tenant=tenant, key="plan", label="Plan")
    contact = do_create_contact(
        tenant,
        fields={
            "first_name": "Ana",
            "last_name": "García",
            "address_line1": "Calle 5 #12",
            "city": "Puebla",
            "external_ids": {"chatwoot": "77"},
        },
        phones=["+525512345678", "+14155550111"],
        emails=["ana@example.test"],
        attributes={"plan": "Gold"},
    )
    HouseholdMember.objects.create(
        tenant=tenant, contact=contact, name="Luis", relationship="spouse"
    )
    grandma = do_create_contact(tenant, fields={"name": "Grandma"})
    HouseholdMember.objects.create(
        tenant=tenant, contact=grandma, member=contact, name="Ana", relationship="grandchild"
    )
    Consent.objects.create(
        tenant=tenant,
        contact=contact,
        channel="sms",
        sender="+14155550100",
        status="opted_out",
        source="keyword",
        detail="STOP",
    )
    the_list = ContactList.objects.create(tenant=tenant, name="Newsletter")
    ListMembership.objects.create(tenant=tenant, contact_list=the_list, contact=contact)
    ContactLabel.objects.create(
        tenant=tenant, contact=contact, label=do_create_label(tenant, name="VIP")
    )
    return contact


_sids = itertools.count(1)


def conversation_with_messages(tenant, contact, inbox=None):
    inbox = inbox or make_inbox(tenant)
    inbound_sid, outbound_sid = (f"SM{next(_sids):032d}" for _ in range(2))
    conversation = make_conversation(inbox, contact)
    inbound = make_message(
        conversation,
        direction="in",
        body="Mi tarjeta termina en 4242",
        external_id=inbound_sid,
        metadata={"profile_name": "Ana G", "to": inbox.address},
    )
    outbound = make_message(conversation, direction="out", body="Gracias Ana")
    Delivery.objects.filter(message=outbound).update(
        provider_message_id=outbound_sid, error_code="21211", error_message="+14155550111 bad"
    )
    Message.objects.filter(pk=outbound.pk).update(error_code="21211", error_message="bad +1415…")
    note = make_message(conversation, direction="out", body="Called her", is_private=True)
    system = make_message(
        conversation,
        direction="out",
        sender_type="system",
        is_private=True,
        body="Closed by Owner.",
        metadata={"event": "status_changed"},
    )
    attachment = Attachment.objects.create(
        tenant=tenant,
        message=inbound,
        content_type="image/jpeg",
        filename="id-card.jpg",
        status="stored",
        size=4,
    )
    attachment.file.save("id-card.jpg", ContentFile(b"jpeg"), save=True)
    for external_id, kind in ((inbound_sid, "inbound"), (outbound_sid, "status")):
        WebhookEvent.objects.create(
            tenant=tenant,
            inbox=inbox,
            provider="twilio",
            kind=kind,
            url="/webhooks/x",
            body=f"From=%2B14155550111&Body=secret&MessageSid={external_id}",
            external_id=external_id,
            state="processed",
        )
    return conversation, inbound, outbound, note, system, attachment


def test_the_export_holds_everything_about_the_contact(tenant, ana):
    conversation, inbound, *_ = conversation_with_messages(tenant, ana)
    data = export_contact(ana)
    assert data["contact"]["first_name"] == "Ana" and data["contact"]["city"] == "Puebla"
    assert data["contact"]["external_ids"] == {"chatwoot": "77"}
    assert [p["number"] for p in data["phones"]] == ["+525512345678", "+14155550111"]
    assert data["emails"][0]["email"] == "ana@example.test"
    assert data["attributes"] == [{"key": "plan", "label": "Plan", "value": "Gold"}]
    assert data["household"][0]["name"] == "Luis"
    assert data["in_households_of"][0]["relationship"] == "grandchild"
    assert data["consents"][0]["status"] == "opted_out"
    assert data["lists"][0]["name"] == "Newsletter" and data["labels"] == ["VIP"]
    [exported] = data["conversations"]
    assert exported["id"] == conversation.pk
    bodies = [m["body"] for m in exported["messages"]]
    assert "Mi tarjeta termina en 4242" in bodies and "Called her" in bodies
    first = next(m for m in exported["messages"] if m["id"] == inbound.pk)
    assert first["attachments"] == [
        {"filename": "id-card.jpg", "content_type": "image/jpeg", "size": 4, "status": "stored"}
    ]


def test_the_export_costs_the_same_queries_for_many_conversations(
    tenant, ana, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    conversation_with_messages(tenant, ana)
    with CaptureQueriesContext(connection) as few:
        export_contact(ana)
    for _ in range(4):
        conversation_with_messages(tenant, ana, inbox=make_inbox(tenant))
    with django_assert_num_queries(len(few)):
        export_contact(ana)


def test_exporting_is_audited(tenant, ana, owner):
    do_export_contact(ana, acting_user=owner)
    event = AuditEvent.objects.get(action="data.exported")
    assert event.actor == owner and event.data["contact_id"] == ana.pk


def test_erasure_removes_the_person_and_keeps_the_counts(
    tenant, ana, owner, django_capture_on_commit_callbacks
):
    conversation, inbound, outbound, note, system, attachment = conversation_with_messages(
        tenant, ana
    )
    storage, file_name = attachment.file.storage, attachment.file.name
    messages_before = Message.objects.filter(conversation__contact=ana).count()

    with django_capture_on_commit_callbacks(execute=True):
        do_erase_contact(ana, acting_user=owner)

    ana.refresh_from_db()
    assert ana.erased_at is not None
    for field in ("name", "first_name", "last_name", "phone", "email", "address_line1", "city"):
        assert getattr(ana, field) == "", field
    assert ana.attributes == {} and ana.external_ids == {}
    assert str(ana) == f"Contact {ana.pk}"
    assert not ContactPhone.objects.filter(contact=ana).exists()
    assert not ContactEmail.objects.filter(contact=ana).exists()
    assert not HouseholdMember.objects.filter(contact=ana).exists()
    assert not HouseholdMember.objects.filter(member=ana).exists()
    assert not ListMembership.objects.filter(contact=ana).exists()
    assert not ContactLabel.objects.filter(contact=ana).exists()
    # Kept: the contact, its conversation, every message and the consent history.
    assert Conversation.objects.filter(pk=conversation.pk, contact=ana).exists()
    assert Message.objects.filter(conversation__contact=ana).count() == messages_before
    assert Consent.objects.get(contact=ana).status == "opted_out"
    for message in (inbound, outbound, note):
        message.refresh_from_db()
        assert message.body == "[erased]" and message.metadata == {"erased": True}
    system.refresh_from_db()
    assert system.body == "Closed by Owner."
    assert not Attachment.objects.filter(pk=attachment.pk).exists()
    assert not storage.exists(file_name)
    delivery = Delivery.objects.get(message=outbound)
    assert (delivery.recipient, delivery.error_message, delivery.error_code) == ("", "", "21211")
    assert (outbound.error_message, outbound.error_code) == ("", "21211")
    assert set(WebhookEvent.objects.values_list("body", flat=True)) == {""}
    assert not Message.objects.filter(search_vector="tarjeta").exists()
    event = AuditEvent.objects.get(action="contact.erased")
    assert event.actor == owner and event.target_repr == f"Contact {ana.pk}"
    assert event.data["messages_redacted"] == 3 and event.data["attachments_deleted"] == 1


def test_erasing_twice_changes_nothing(tenant, ana):
    do_erase_contact(ana)
    ana.refresh_from_db()
    erased_at = ana.erased_at
    do_erase_contact(ana)
    ana.refresh_from_db()
    assert ana.erased_at == erased_at
    assert AuditEvent.objects.filter(action="contact.erased").count() == 1


def test_the_number_of_an_erased_contact_starts_a_new_contact(tenant, ana):
    do_erase_contact(ana)
    contact, created = get_or_create_contact_by_phone(tenant, phone="+525512345678")
    assert created and contact != ana


def test_erasure_leaves_other_contacts_alone(tenant, ana):
    bob = do_create_contact(tenant, fields={"name": "Bob"}, phones=["+14155550199"])
    _, bob_message, *_ = conversation_with_messages(tenant, bob)
    do_erase_contact(ana)
    bob_message.refresh_from_db()
    bob.refresh_from_db()
    assert bob_message.body == "Mi tarjeta termina en 4242" and bob.name == "Bob"


@pytest.mark.parametrize(
    "fixture",
    ["es_semicolon_latin1.csv", "en_comma_utf8_bom.csv", "tab_utf16.csv", "utf8_stray_byte.csv"],
)
def test_erasure_blanks_their_rows_of_stored_imports_in_the_files_encoding(
    tenant, fixture, django_capture_on_commit_callbacks, settings, tmp_path
):
    from contacts.imports.sniff import read_records
    from contacts.models import Contact, ImportJob
    from tests.contacts.test_import_support import FIXTURES, import_now

    settings.MEDIA_ROOT = str(tmp_path)
    original = (FIXTURES / fixture).read_bytes()
    job = import_now(tenant, original)
    jose = Contact.objects.get(tenant=tenant, name="José Núñez")
    old_name = job.file.name

    with django_capture_on_commit_callbacks(execute=True):
        do_erase_contact(jose)

    job = ImportJob.objects.get(pk=job.pk)
    assert job.file.name != old_name and not job.file.storage.exists(old_name)
    stored = job.file.read()
    assert stored[:2] == original[:2]  # a byte-order mark stays
    job.file.seek(0)
    records = [r for r in read_records(job.file, job.encoding, job.delimiter) if any(r)]
    before = [r for r in read_records(io.BytesIO(original), job.encoding, job.delimiter) if any(r)]
    assert len(records) == len(before) - 1  # José's row is blank
    assert records[0] == before[0] and before[2] in records  # the header and María's row stay
    assert not any("José" in cell or "Núñez" in cell for record in records for cell in record)
    assert export_contact(jose)["imports"] == []


def test_erasure_is_one_transaction_with_the_apps_parts(
    tenant, ana, django_capture_on_commit_callbacks
):
    """A part that fails undoes every other part, and no file is deleted."""
    from contacts import hooks

    _, inbound, *_, attachment = conversation_with_messages(tenant, ana)

    def broken(contact, personal):
        raise RuntimeError("a hook failed")

    hooks.on_erase.append(broken)
    try:
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
            do_erase_contact(ana)
    finally:
        hooks.on_erase.remove(broken)

    ana.refresh_from_db()
    inbound.refresh_from_db()
    assert ana.erased_at is None and ana.first_name == "Ana"
    assert inbound.body == "Mi tarjeta termina en 4242"
    assert Attachment.objects.filter(pk=attachment.pk).exists()
    assert attachment.file.storage.exists(attachment.file.name)
    assert not AuditEvent.objects.filter(action="contact.erased").exists()


def test_audit_entries_about_them_keep_the_action_and_lose_the_person(tenant, ana, owner):
    do_export_contact(ana, acting_user=owner)
    do_erase_contact(ana, acting_user=owner)
    exported = AuditEvent.objects.get(action="data.exported")
    assert (exported.actor, exported.target_repr) == (owner, f"Contact {ana.pk}")
    erased = AuditEvent.objects.get(action="contact.erased")
    # Her creation (audited by do_create_contact) and the export.
    assert erased.data["audit_entries_masked"] == 2
    created = AuditEvent.objects.get(action="contact.created", target_id=str(ana.pk))
    assert created.target_repr == f"Contact {ana.pk}"
