"""Saving templates and previewing them against a real contact."""

import pytest

from campaigns.models import MessageTemplate
from campaigns.services import TemplateInvalid, do_save_template, preview
from contacts.models import AttributeDefinition
from contacts.services import do_create_contact
from omnichannel.actions import ActionError

pytestmark = pytest.mark.django_db

SID = "HX" + "0123456789abcdef" * 2


@pytest.fixture
def plan(tenant):
    return AttributeDefinition.objects.create(tenant=tenant, key="plan", label="Plan")


def test_it_saves_an_sms_template_with_variables_and_attributes(tenant, plan):
    template = do_save_template(
        tenant,
        name="  Renewal   reminder ",
        channel="sms",
        body='Hola {{firstName|default:"amigo"}}, tu plan {{plan}} vence pronto.',
    )
    assert template.name == "Renewal reminder"
    contact = do_create_contact(
        tenant,
        fields={"first_name": "Lucía"},
        phones=["+525512345678"],
        attributes={"plan": "gold"},
    )
    text, info = preview(template, contact)
    assert text == "Hola Lucía, tu plan gold vence pronto."
    # "í" is not in the GSM-7 alphabet: the whole message goes as UCS-2.
    assert (info.encoding, info.segments, info.non_gsm) == ("UCS-2", 1, "í")


def test_it_reports_every_problem_per_field_and_saves_nothing(tenant):
    with pytest.raises(TemplateInvalid) as exc:
        do_save_template(tenant, name="", channel="fax", body="Hola {{plan}}")
    assert set(exc.value.errors) == {"name", "channel", "body"}
    assert "unknown variable “plan”" in exc.value.errors["body"]
    assert not MessageTemplate.objects.exists()


def test_whatsapp_templates_carry_the_content_sid_and_variable_mapping(tenant, plan):
    template = do_save_template(
        tenant,
        name="Booking",
        channel="whatsapp",
        content_sid=SID,
        variables={"1": "firstName", "2": "plan"},
    )
    assert template.variables == {"1": "firstName", "2": "plan"}
    with pytest.raises(TemplateInvalid) as exc:
        do_save_template(
            tenant, name="Other", channel="whatsapp", content_sid="HX12", variables={"1": "nope"}
        )
    assert set(exc.value.errors) == {"content_sid", "variables"}


def test_a_whatsapp_template_without_a_content_sid_is_free_form_text(tenant, plan):
    template = do_save_template(
        tenant, name="Thanks", channel="whatsapp", body="Gracias {{firstName}}, tu plan {{plan}}"
    )
    assert (template.content_sid, template.variables) == ("", {})
    with pytest.raises(TemplateInvalid) as exc:
        do_save_template(tenant, name="Empty", channel="whatsapp", variables={"1": "firstName"})
    assert exc.value.errors == {
        "body": "is required, or give an approved template's Content SID",
        "variables": "are for approved templates (with a Content SID); free-form text puts "
        "{{variables}} in its body",
    }


def test_names_are_unique_per_tenant(tenant, other_tenant):
    do_save_template(tenant, name="Promo", channel="sms", body="Hola")
    do_save_template(other_tenant, name="Promo", channel="sms", body="Hola")
    with pytest.raises(TemplateInvalid) as exc:
        do_save_template(tenant, name="Promo", channel="sms", body="Otra")
    assert exc.value.errors == {"name": "“Promo” is already the name of a template"}


def test_another_tenants_contact_or_template_is_out_of_reach(tenant, other_tenant):
    template = do_save_template(tenant, name="Promo", channel="sms", body="Hola {{firstName}}")
    theirs = do_create_contact(other_tenant, phones=["+14155550111"])
    with pytest.raises(ActionError):
        preview(template, theirs)
    with pytest.raises(ActionError):
        do_save_template(other_tenant, name="Hijack", channel="sms", body="x", template=template)
    template.refresh_from_db()
    assert template.name == "Promo"
