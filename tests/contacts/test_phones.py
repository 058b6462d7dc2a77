import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contacts.phones import InvalidPhone, normalize_phone


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
