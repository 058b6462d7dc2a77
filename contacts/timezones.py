"""A contact's time zone guessed from their phone number, for when nobody told us.

``phonenumbers`` knows the zones a number's prefix covers. One zone: that one. Several (a
Spanish mobile: Madrid or the Canaries; a Russian mobile: eleven zones): the zone of the
country's main geographic prefix when that is a single one (Madrid, Moscow, Sydney), which is
where most such numbers are. Still several (US toll-free numbers) or none: blank, because a
wrong guess would schedule reminders at night; an agent can set it on the contact page.
"""

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as phone_timezones

UNKNOWN = "Etc/Unknown"


def timezone_for_phone(e164: str) -> str:
    """The IANA zone most likely for ``e164`` (``+525512345678`` → ``America/Mexico_City``),
    or ``""`` when the number does not say."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ""
    return timezone_for_number(number, phonenumbers.number_type(number))


def timezone_for_number(number: phonenumbers.PhoneNumber, kind: int) -> str:
    """:func:`timezone_for_phone` of a parsed number whose type (``kind``) is known already."""
    zones = [z for z in _zones(number, kind) if z != UNKNOWN]
    if len(zones) == 1:
        return zones[0]
    if not zones:
        return ""
    geographic = [
        z for z in phone_timezones.time_zones_for_geographical_number(number) if z != UNKNOWN
    ]
    if len(geographic) == 1 and geographic[0] in zones:
        return geographic[0]
    return ""


def _zones(number: phonenumbers.PhoneNumber, kind: int) -> tuple[str, ...]:
    # phonenumbers' time_zones_for_number, minus working out the number's type a second time.
    if kind == PhoneNumberType.UNKNOWN:
        return ()
    if not phonenumbers.is_number_type_geographical(kind, number.country_code):
        return phone_timezones._country_level_time_zones_for_number(number)
    return phone_timezones.time_zones_for_geographical_number(number)
