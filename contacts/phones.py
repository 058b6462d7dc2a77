"""Phone numbers in E.164 everywhere: parsing with the tenant's default region."""

from typing import NamedTuple

import phonenumbers

CHANNEL_PREFIXES = ("whatsapp:", "sms:", "tel:", "mms:")


class InvalidPhone(ValueError):
    pass


class ParsedPhone(NamedTuple):
    e164: str
    number: phonenumbers.PhoneNumber
    type: int  # a phonenumbers.PhoneNumberType, never UNKNOWN


def normalize_phone(raw: str, region: str = "US") -> str:
    """``raw`` as E.164 (``+14155550111``), or :class:`InvalidPhone` saying why not.

    Accepts channel prefixes (``whatsapp:+1…``), national formats for ``region``, spaces,
    dashes and dots, and Mexico's retired mobile ``1`` after +52.
    """
    return parse_phone(raw, region).e164


def parse_phone(raw: str, region: str = "US") -> ParsedPhone:
    """:func:`normalize_phone`, with the parsed number and its type for whoever needs more (the
    time zone): the type is the costly part of checking a number, worth working out once."""
    text = (raw or "").strip()
    lowered = text.lower()
    for prefix in CHANNEL_PREFIXES:
        if lowered.startswith(prefix):
            text = text[len(prefix) :].strip()
            break
    if not text:
        raise InvalidPhone("The phone number is empty.")
    try:
        number = phonenumbers.parse(text, region.upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"“{raw}” is not a phone number.") from exc
    if number.country_code == 52:
        national = str(number.national_number)
        if len(national) == 11 and national.startswith("1"):
            number.national_number = int(national[1:])
    # What is_valid_number decides: a number is valid when its region's patterns give it a type.
    kind = phonenumbers.number_type(number)
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        raise InvalidPhone(f"“{raw}” is not a valid phone number.")
    return ParsedPhone(
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), number, kind
    )


def format_phone(value: str, region: str = "") -> str:
    """An E.164 number as people write it: national (``55 1234 5678``) when it belongs to
    ``region`` (the tenant's default region, where agents dial it that way), international
    (``+1 415-555-0111``) otherwise. Anything that is not an E.164 number (an email address,
    a channel's other kind of address) comes back as it is."""
    text = (value or "").strip()
    if not text.startswith("+"):
        return value or ""
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return value
    local = phonenumbers.is_valid_number(number) and (
        phonenumbers.region_code_for_number(number) == (region or "").upper()
    )
    if local:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def contact_display(contact, region: str = "") -> str:
    """The contact as people know them: the name, else the formatted phone, else the email."""
    if contact.name:
        return contact.name
    if contact.phone:
        return format_phone(contact.phone, region)
    return contact.email or f"Contact {contact.pk}"
