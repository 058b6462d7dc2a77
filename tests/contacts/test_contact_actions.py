import pytest

from contacts.actions import do_set_consent, get_or_create_contact_by_phone, is_opted_out
from contacts.models import Consent, Contact
from contacts.phones import InvalidPhone
from tests.fakes.twilio import make_twilio_inbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def sms_inbox(tenant, fake_twilio):
    return make_twilio_inbox(tenant, sim=fake_twilio, kind="sms")


def test_it_finds_the_same_contact_whatever_the_format(tenant):
    tenant.default_region = "MX"
    first, created = get_or_create_contact_by_phone(tenant, phone="+52 1 55 1234 5678", name="Ana")
    again, created_again = get_or_create_contact_by_phone(tenant, phone="whatsapp:+525512345678")
    national, _ = get_or_create_contact_by_phone(tenant, phone="55 1234 5678")
    assert created and not created_again
    assert first == again == national
    assert first.phone == "+525512345678" and first.name == "Ana"


def test_it_keeps_contacts_of_each_tenant_apart(tenant, other_tenant):
    ours, _ = get_or_create_contact_by_phone(tenant, phone="+14155550111")
    theirs, created = get_or_create_contact_by_phone(other_tenant, phone="+14155550111")
    assert created and ours != theirs
    assert list(Contact.objects.for_tenant(tenant)) == [ours]


def test_it_does_not_create_when_told_not_to(tenant):
    contact, created = get_or_create_contact_by_phone(tenant, phone="+14155550111", create=False)
    assert contact is None and not created
    assert not Contact.objects.exists()


def test_it_refuses_an_invalid_phone(tenant):
    with pytest.raises(InvalidPhone):
        get_or_create_contact_by_phone(tenant, phone="not a phone")


def test_it_records_consent_per_channel_and_sender(tenant):
    contact, _ = get_or_create_contact_by_phone(tenant, phone="+14155550111")
    do_set_consent(
        contact,
        channel="sms",
        sender="+14155550100",
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.KEYWORD,
        detail="STOP",
    )
    assert is_opted_out(contact, channel="sms", sender="+14155550100")
    assert not is_opted_out(contact, channel="sms", sender="+14155550199")
    assert not is_opted_out(contact, channel="whatsapp", sender="+14155550100")
    do_set_consent(
        contact,
        channel="sms",
        sender="+14155550100",
        status=Consent.Status.OPTED_IN,
        source=Consent.Source.KEYWORD,
        detail="START",
    )
    assert not is_opted_out(contact, channel="sms", sender="+14155550100")
    assert Consent.objects.filter(contact=contact).count() == 1


def test_a_new_contact_gets_its_primary_phone_row_timezone_and_origin(tenant):
    contact, created = get_or_create_contact_by_phone(
        tenant, phone="whatsapp:+5215512345678", name="  Ana ", created_via="outbound"
    )
    assert created
    assert contact.created_via == "outbound" and contact.name == "Ana"
    assert contact.timezone == "America/Mexico_City"
    assert list(contact.phones.values_list("number", "is_primary")) == [("+525512345678", True)]


def test_it_creates_no_contact_for_a_blocklisted_number(tenant):
    from contacts.blocklist import do_block_address

    do_block_address(tenant, kind="phone", value="(415) 555-0111")
    contact, created = get_or_create_contact_by_phone(tenant, phone="+1 415 555 0111")
    assert contact is None and not created
    assert not Contact.objects.exists()


def test_it_finds_an_existing_contact_even_when_its_number_is_blocked(tenant):
    from contacts.blocklist import do_block_address

    existing, _ = get_or_create_contact_by_phone(tenant, phone="+14155550111")
    do_block_address(tenant, kind="phone", value="+14155550111")
    assert get_or_create_contact_by_phone(tenant, phone="415-555-0111") == (existing, False)


def test_last_contacted_at_moves_when_the_provider_accepts_a_message(
    tenant, sms_inbox, fake_twilio
):
    from inbox.actions.send import attempt_delivery, do_send_message

    message = do_send_message(tenant, inbox=sms_inbox, to="+14155550111", body="Hi")
    contact = message.conversation.contact
    assert contact.created_via == "outbound" and contact.last_contacted_at is None
    delivery = attempt_delivery(message.deliveries.get().pk)
    contact.refresh_from_db()
    assert contact.last_contacted_at == delivery.sent_at


def test_last_contacted_at_stays_when_the_send_fails(tenant, sms_inbox, fake_twilio):
    from inbox.actions.send import attempt_delivery, do_send_message

    fake_twilio.queue_response(status=400, code=21211)
    message = do_send_message(tenant, inbox=sms_inbox, to="+14155550111", body="Hi")
    attempt_delivery(message.deliveries.get().pk)
    message.conversation.contact.refresh_from_db()
    assert message.conversation.contact.last_contacted_at is None
