"""What the contacts app tells connected systems about a contact: its page in Centro and the
channels it opted out of; a consent change tells the hooks once it commits."""

import pytest

from contacts import hooks
from contacts.actions import do_set_consent
from contacts.models import Consent, Contact
from contacts.shared_attributes import contact_attributes


@pytest.fixture
def contact(tenant):
    return Contact.objects.create(tenant=tenant, name="Ana", phone="+14155550111")


def opt(contact, channel, status, sender="+14155550100"):
    return do_set_consent(
        contact, channel=channel, sender=sender, status=status, source=Consent.Source.MANUAL
    )


def test_the_contact_page_link_and_its_opt_outs(settings, contact):
    settings.PUBLIC_BASE_URL = "https://centro.example"
    assert contact_attributes(contact) == {
        "centro_url": f"https://centro.example/contacts/{contact.pk}/",
        "centro_opt_outs": None,
    }
    opt(contact, "whatsapp", Consent.Status.OPTED_OUT)
    opt(contact, "sms", Consent.Status.OPTED_OUT)
    opt(contact, "sms", Consent.Status.OPTED_OUT, sender="+14155550199")
    opt(contact, "email", Consent.Status.OPTED_IN, sender="hi@acme.test")
    assert contact_attributes(contact)["centro_opt_outs"] == "SMS, WhatsApp"


def test_the_registry_merges_every_apps_attributes(contact):
    assert {"centro_url", "centro_opt_outs", "centro_last_booking"} <= set(
        hooks.shared_attributes(contact)
    )


@pytest.mark.django_db(transaction=True)
def test_a_consent_change_tells_the_hooks_once_and_a_repeat_does_not(contact):
    calls = []
    hooks.register_shared_attributes_changed(seen := lambda t, ids: calls.append((t, ids)))
    try:
        opt(contact, "sms", Consent.Status.OPTED_OUT)
        opt(contact, "sms", Consent.Status.OPTED_OUT)
    finally:
        hooks.on_shared_attributes_changed.remove(seen)
    assert calls == [(contact.tenant_id, [contact.pk])]
