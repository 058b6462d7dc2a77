"""Campaigns' message templates as the inbox composer offers them (an inbox template source
registered in CampaignsConfig.ready): approved WhatsApp templates only, the tenant's own,
filled for the contact as campaigns fill them."""

import pytest

from campaigns.approved_templates import TEMPLATES
from campaigns.services import do_save_template
from contacts.models import Contact
from inbox import template_sources
from omnichannel.channels import Channel

pytestmark = pytest.mark.django_db

SID = "HX" + "ab" * 16


def test_campaigns_registers_its_templates_with_the_inbox():
    assert TEMPLATES in template_sources.sources
    assert template_sources.register(TEMPLATES) is TEMPLATES
    assert template_sources.sources.count(TEMPLATES) == 1


def test_only_the_tenants_approved_templates_for_the_channel_filled_for_the_contact(
    tenant, other_tenant
):
    ana = Contact.objects.create(tenant=tenant, name="Ana García", first_name="Ana", city="León")
    nameless = Contact.objects.create(tenant=tenant, name="", phone="+14155550123")
    reminder = do_save_template(
        tenant,
        name="Reminder",
        channel=Channel.WHATSAPP,
        body='Hola {{firstName|default:"amigo"}}, see you in {{city}}.',
        content_sid=SID,
        variables={"1": "firstName", "2": "city"},
    )
    sid_only = do_save_template(
        tenant, name="Bare", channel=Channel.WHATSAPP, content_sid=SID, variables={"1": "firstName"}
    )
    do_save_template(tenant, name="Free-form", channel=Channel.WHATSAPP, body="Hi {{firstName}}")
    do_save_template(tenant, name="SMS", channel=Channel.SMS, body="Hi")
    do_save_template(
        other_tenant, name="Theirs", channel=Channel.WHATSAPP, content_sid=SID, variables={}
    )

    found = template_sources.approved_templates(tenant, Channel.WHATSAPP, ana)

    assert [(t.key, t.name) for t in found] == [
        (f"campaigns:{sid_only.pk}", "Bare"),
        (f"campaigns:{reminder.pk}", "Reminder"),
    ]
    bare, filled = found
    assert (filled.text, filled.variables) == (
        "Hola Ana, see you in León.",
        {"1": "Ana", "2": "León"},
    )
    assert filled.as_send_template() == {"content_sid": SID, "variables": {"1": "Ana", "2": "León"}}
    assert bare.text == "“Bare” (approved template; {{1}} = Ana)"
    # Without the values: the body's fallbacks; the numbered variables empty.
    other = template_sources.approved_template(
        tenant, Channel.WHATSAPP, nameless, f"campaigns:{reminder.pk}"
    )
    assert (other.text, other.variables) == ("Hola amigo, see you in .", {"1": "", "2": ""})
    assert template_sources.approved_templates(tenant, Channel.SMS, ana) == []
