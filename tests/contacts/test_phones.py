import phonenumbers
import pytest
from django.template import Context, Template
from hypothesis import given
from hypothesis import strategies as st

from contacts.models import Contact
from contacts.phones import InvalidPhone, contact_display, format_phone, normalize_phone


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+14155550111", "US", "+14155550111"),
        ("(415) 555-0111", "US", "+14155550111"),
        ("415.555.0111", "US", "+14155550111"),
        ("whatsapp:+14155550111", "US", "+14155550111"),
        ("WhatsApp: +1 415 555 0111", "MX", "+14155550111"),
        ("55 1234 5678", "MX", "+525512345678"),
        ("+52 1 55 1234 5678", "US", "+525512345678"),
        ("+5215512345678", "US", "+525512345678"),
        ("612 34 56 78", "ES", "+34612345678"),
        ("tel:+34612345678", "US", "+34612345678"),
    ],
)
def test_it_normalizes_every_format_to_e164(raw, region, expected):
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("whatsapp:", "empty"),
        ("hello", "not a phone number"),
        ("+1 555", "not a valid phone number"),
        ("+999 1234567", "not a"),
    ],
)
def test_it_says_why_a_number_is_refused(raw, reason):
    with pytest.raises(InvalidPhone, match=reason):
        normalize_phone(raw, "US")


@given(st.text(max_size=40))
def test_it_returns_e164_or_raises_invalid_phone_for_any_text(text):
    try:
        result = normalize_phone(text, "US")
    except InvalidPhone:
        return
    assert result.startswith("+")
    assert phonenumbers.is_valid_number(phonenumbers.parse(result))
    assert normalize_phone(result, "GB") == result


# --- phones as people read them -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("e164", "region", "shown"),
    [
        # The tenant's own country: the national format its agents dial.
        ("+14155550111", "US", "(415) 555-0111"),
        ("+525512345678", "MX", "55 1234 5678"),
        ("+34612345678", "es", "612 34 56 78"),
        # Another country, or no region known: international.
        ("+14155550111", "MX", "+1 415-555-0111"),
        ("+525512345678", "US", "+52 55 1234 5678"),
        ("+16475550111", "US", "+1 647-555-0111"),  # Canada shares +1 but is not the US
        ("+14155550111", "", "+1 415-555-0111"),
    ],
)
def test_it_formats_a_phone_nationally_at_home_and_internationally_abroad(e164, region, shown):
    assert format_phone(e164, region) == shown


@pytest.mark.parametrize("value", ["", "ana@example.test", "+1", "+999 not a number"])
def test_it_leaves_what_is_not_an_e164_number_as_it_is(value):
    assert format_phone(value, "US") == value


def test_a_contact_reads_as_name_then_formatted_phone_then_email():
    assert contact_display(Contact(name="Ana", phone="+14155550111"), "US") == "Ana"
    assert contact_display(Contact(phone="+525512345678"), "MX") == "55 1234 5678"
    assert contact_display(Contact(phone="+525512345678"), "US") == "+52 55 1234 5678"
    assert contact_display(Contact(email="ana@example.test"), "US") == "ana@example.test"


def test_the_template_tags_format_for_the_tenant_of_the_request(tenant, rf):
    template = Template("{% load phones %}{% phone number %} · {% contact_label contact %}")
    contact = Contact(phone="+525512345678")
    request = rf.get("/")

    tenant.default_region = "MX"
    request.tenant = tenant
    mexican = template.render(
        Context({"request": request, "number": "+14155550111", "contact": contact})
    )
    # Without a request (no tenant to ask): international.
    anywhere = template.render(Context({"number": "+14155550111", "contact": contact}))

    assert mexican == "+1 415-555-0111 · 55 1234 5678"
    assert anywhere == "+1 415-555-0111 · +52 55 1234 5678"


def test_a_contact_without_a_name_reads_as_their_phone_in_international_format():
    assert str(Contact(phone="+525512345678")) == "+52 55 1234 5678"
    assert str(Contact(name="Ana", phone="+525512345678")) == "Ana"
