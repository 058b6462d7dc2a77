"""Phone numbers in E.164 everywhere: parsing with the tenant's default region."""

import phonenumbers

CHANNEL_PREFIXES = ("whatsapp:", "sms:", "tel:", "mms:")


class InvalidPhone(ValueError):
    pass


def normalize_phone(raw: str, region: str = "US") -> str:
    """``raw`` as E.164 (``+14155550111``), or :class:`InvalidPhone` saying why not.

    Accepts channel prefixes (``whatsapp:+1…``), national formats for ``region``, spaces,
    dashes and dots, and Mexico's retired mobile ``1`` after +52.
    """
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
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"“{raw}” is not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


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
