import pytest

from contacts.actions import do_set_consent, get_or_create_contact_by_phone, is_opted_out
from contacts.models import Consent, Contact
from contacts.phones import InvalidPhone

pytestmark = pytest.mark.django_db


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
