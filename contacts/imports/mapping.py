"""Which CSV column fills which contact field: the targets, a guess from the headers, checks.

A mapping is ``{column header: target}``. Targets are contact fields (``first_name``,
``phone``, ``phone_2``…, ``email``…, address fields, ``timezone``, ``language``,
``preferred_channel``), ``ext:<system>`` (an id in another system, e.g. ``ext:chatwoot``) or
``attr:<key>`` (a custom attribute), ``opted_in:<channel>:<sender>`` (consent to that channel
from that sender: yes = opted in, no = opted out) or ``consent:<channel>:<sender>`` (the other
way round: yes = opted out). A column left out, or mapped to ``""``, is ignored.
"""

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contacts.models import AttributeDefinition, ContactPhone
from contacts.services import EXTERNAL_ID_KEY
from omnichannel.actions import ActionError

IGNORE = ""
ATTR_PREFIX = "attr:"
EXT_PREFIX = "ext:"
# Both consent columns say yes or no, in opposite directions: "Opted out?" (the first kind,
# kept as it was for stored mappings and API clients) and "Opted in?".
CONSENT_PREFIX = "consent:"
OPTED_IN_PREFIX = "opted_in:"

# (target, label); the order is the form's order.
PHONE_TARGETS = {
    "phone": ("Phone", ContactPhone.Kind.MOBILE),
    "phone_2": ("Phone 2", ContactPhone.Kind.MOBILE),
    "phone_3": ("Phone 3", ContactPhone.Kind.MOBILE),
    "phone_home": ("Home phone", ContactPhone.Kind.HOME),
    "phone_work": ("Work phone", ContactPhone.Kind.WORK),
}
EMAIL_TARGETS = {"email": "Email", "email_2": "Email 2", "email_3": "Email 3"}
FIELD_TARGETS = {
    "first_name": "First name",
    "last_name": "Last name",
    "name": "Full name",
    "address_line1": "Address",
    "address_line2": "Address line 2",
    "city": "City",
    "region": "State / province",
    "postal_code": "Postal code",
    "country": "Country",
    "timezone": "Time zone",
    "language": "Language",
    "preferred_channel": "Preferred channel",
}
EXTERNAL_TARGETS = {"ext:chatwoot": "Chatwoot contact id", "ext:external": "External id"}

# Header words (lower case, accents removed, words joined by "_") and the target they suggest,
# in English and Spanish.
SYNONYMS = {
    "first_name": (
        "first_name", "firstname", "first", "given_name", "forename", "name_first", "nombres",
        "primer_nombre", "nombre_pila",
    ),
    "last_name": (
        "last_name", "lastname", "last", "surname", "family_name", "name_last", "apellido",
        "apellidos", "apellido_paterno", "primer_apellido",
    ),
    "name": (
        "name", "full_name", "fullname", "display_name", "contact_name", "contact", "customer",
        "customer_name", "client", "nombre_completo", "nombre_y_apellido", "nombre_y_apellidos",
        "contacto", "cliente", "nombre_del_cliente", "razon_social",
    ),
    "phone": (
        "phone", "phone_number", "phonenumber", "telephone", "tel", "mobile", "mobile_phone",
        "mobile_number", "cell", "cellphone", "cell_phone", "whatsapp", "whatsapp_number",
        "msisdn", "number", "telefono", "numero", "numero_de_telefono", "numero_telefonico",
        "celular", "movil", "telefono_movil", "telefono_celular", "tel_movil", "whatsapp_numero",
    ),
    "phone_2": (
        "phone_2", "phone2", "telephone_2", "second_phone", "other_phone", "alt_phone",
        "alternate_phone", "mobile_2", "telefono_2", "otro_telefono", "celular_2",
    ),
    "phone_3": ("phone_3", "phone3", "telephone_3", "telefono_3", "celular_3"),
    "email_2": (
        "email_2", "email2", "e_mail_2", "second_email", "other_email", "alternate_email",
        "correo_2", "otro_correo",
    ),
    "email_3": ("email_3", "email3", "correo_3"),
    "phone_home": ("home_phone", "phone_home", "telefono_casa", "tel_casa", "telefono_fijo"),
    "phone_work": (
        "work_phone", "phone_work", "office_phone", "business_phone", "telefono_trabajo",
        "telefono_oficina", "tel_oficina",
    ),
    "email": (
        "email", "e_mail", "email_address", "mail", "correo", "correo_electronico", "correo_e",
        "emails", "mail_address",
    ),
    "address_line1": (
        "address", "address_line1", "address_line_1", "address1", "street", "street_address",
        "direccion", "calle", "domicilio",
    ),
    "address_line2": (
        "address_line2", "address_line_2", "address2", "apartment", "suite", "colonia",
        "direccion_2", "interior",
    ),
    "city": ("city", "town", "ciudad", "municipio", "localidad", "poblacion", "delegacion"),
    "region": ("state", "province", "region", "estado", "provincia", "departamento", "entidad"),
    "postal_code": (
        "zip", "zip_code", "zipcode", "postal_code", "postcode", "post_code", "codigo_postal",
        "cp", "c_p",
    ),
    "country": ("country", "country_code", "pais", "codigo_pais", "codigo_de_pais"),
    "timezone": ("timezone", "time_zone", "tz", "zona_horaria", "huso_horario"),
    "language": ("language", "lang", "locale", "idioma", "lengua"),
    "preferred_channel": ("preferred_channel", "channel", "canal", "canal_preferido"),
    "ext:chatwoot": ("chatwoot_id", "chatwoot_contact_id", "id_chatwoot"),
    "ext:external": ("external_id", "externalid", "id_externo", "crm_id", "customer_id"),
}  # fmt: skip
_BY_WORD = {word: target for target, words in SYNONYMS.items() for word in words}
# Phone and email columns beyond the first go to the next free numbered target.
_NEXT_PHONE = ("phone", "phone_2", "phone_3")
_NEXT_EMAIL = ("email", "email_2", "email_3")


class MappingInvalid(ActionError):
    """A mapping that cannot be used; ``errors`` maps a column (or ``"mapping"``) to why."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        details = "; ".join(f"{column}: {reason}" for column, reason in self.errors.items())
        super().__init__(f"The column mapping is not valid: {details}", code="invalid")


def fold(text: str) -> str:
    """``"Teléfono celular"`` → ``"telefono_celular"``: how headers are compared."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return re.sub(r"[^a-z0-9]+", "_", plain).strip("_")


def consent_target(channel: str, sender: str) -> str:
    """The column whose yes means opted out of ``channel`` from ``sender``."""
    return f"{CONSENT_PREFIX}{channel}:{sender}"


def opted_in_target(channel: str, sender: str) -> str:
    """The column whose yes means opted in to ``channel`` from ``sender``."""
    return f"{OPTED_IN_PREFIX}{channel}:{sender}"


@dataclass(frozen=True, slots=True)
class ConsentColumn:
    channel: str
    sender: str
    yes_means_opted_in: bool

    @property
    def key(self) -> tuple[str, str]:
        return (self.channel, self.sender)


def parse_consent_target(target: str) -> ConsentColumn | None:
    """What a consent target is about, or None when it is not one."""
    for prefix, yes_means_opted_in in ((CONSENT_PREFIX, False), (OPTED_IN_PREFIX, True)):
        if target.startswith(prefix):
            channel, _, sender = target[len(prefix) :].partition(":")
            return (
                ConsentColumn(channel, sender, yes_means_opted_in) if channel and sender else None
            )
    return None


# Cell values of a consent column, folded (see fold): yes and no in English and Spanish, and
# words that name the outcome outright whichever way the column reads.
CONSENT_YES = {"yes", "y", "si", "true", "1", "x"}
CONSENT_NO = {"no", "n", "false", "0"}
OPTED_IN_WORDS = {"opted_in", "opt_in"}
OPTED_OUT_WORDS = {"opted_out", "opt_out"}


def consent_reading(target: str) -> str:
    """How a consent column's yes and no are read, in words (empty for other targets)."""
    consent = parse_consent_target(target)
    if consent is None:
        return ""
    if consent.yes_means_opted_in:
        return "yes → opted in, no → opted out"
    return "yes → opted out, no → opted in"


def read_consent(consent: ConsentColumn, value: str) -> bool:
    """Whether ``value`` (a non-blank cell of the column) means opted out; ValueError if it
    is neither yes, no, nor "opted in" / "opted out"."""
    word = fold(value)
    if word in OPTED_IN_WORDS:
        return False
    if word in OPTED_OUT_WORDS:
        return True
    if word in CONSENT_YES or word in CONSENT_NO:
        return (word in CONSENT_YES) != consent.yes_means_opted_in
    meaning = "opted in" if consent.yes_means_opted_in else "opted out"
    raise ValueError(f"“{value}” is not yes ({meaning}) or no")


def target_choices(
    definitions: Mapping[str, AttributeDefinition],
    senders: list[tuple[str, str, str]] = (),
) -> list[tuple[str, list[tuple[str, str]]]]:
    """The form's grouped choices (without "ignore"); ``senders`` are the tenant's inboxes as
    ``(channel, address, name)``, whose opt-outs a column may carry."""
    groups = [
        ("Name", [(k, FIELD_TARGETS[k]) for k in ("first_name", "last_name", "name")]),
        ("Phone and email", [(k, v[0]) for k, v in PHONE_TARGETS.items()] + list(
            EMAIL_TARGETS.items()
        )),
        ("Address", [(k, FIELD_TARGETS[k]) for k in (
            "address_line1", "address_line2", "city", "region", "postal_code", "country",
        )]),
        ("Preferences", [(k, FIELD_TARGETS[k]) for k in (
            "timezone", "language", "preferred_channel",
        )]),
        ("External ids", list(EXTERNAL_TARGETS.items())),
    ]  # fmt: skip
    if definitions:
        groups.append(
            (
                "Custom attributes",
                [(f"{ATTR_PREFIX}{key}", d.label) for key, d in definitions.items()],
            )
        )
    if senders:
        groups.append(
            (
                "Consent (yes/no)",
                [
                    option
                    for channel, address, name in senders
                    for option in (
                        (opted_in_target(channel, address), f"Opted in to {name} ({address})"),
                        (consent_target(channel, address), f"Opted out of {name} ({address})"),
                    )
                ],
            )
        )
    return groups


def target_label(target: str, definitions: Mapping[str, AttributeDefinition]) -> str:
    if target in FIELD_TARGETS:
        return FIELD_TARGETS[target]
    if target in PHONE_TARGETS:
        return PHONE_TARGETS[target][0]
    if target in EMAIL_TARGETS:
        return EMAIL_TARGETS[target]
    if target in EXTERNAL_TARGETS:
        return EXTERNAL_TARGETS[target]
    if target.startswith(ATTR_PREFIX):
        definition = definitions.get(target[len(ATTR_PREFIX) :])
        return definition.label if definition else target
    if target.startswith(EXT_PREFIX):
        return f"Id in {target[len(EXT_PREFIX) :]}"
    consent = parse_consent_target(target)
    if consent:
        way = "Opted in to" if consent.yes_means_opted_in else "Opted out of"
        return f"{way} {consent.channel} from {consent.sender}"
    return target


def auto_map(headers: list[str], definitions: Mapping[str, AttributeDefinition]) -> dict[str, str]:
    """A first guess from the header names (English and Spanish); unknown columns are left out.

    "Nombre" is a first name when the file also has a last-name column, else the full name.
    A second phone or email column becomes "Phone 2" / "Email 2".
    """
    attributes = {}
    for key, definition in definitions.items():
        attributes.setdefault(fold(key), f"{ATTR_PREFIX}{key}")
        attributes.setdefault(fold(definition.label), f"{ATTR_PREFIX}{key}")
    folded = [fold(h) for h in headers]
    has_last_name = any(_BY_WORD.get(f) == "last_name" for f in folded)
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for header, word in zip(headers, folded, strict=True):
        target = attributes.get(word) or _BY_WORD.get(word)
        if word in ("nombre", "nombre_s"):
            target = "first_name" if has_last_name else "name"
        if target is None:
            continue
        if target in used and target in _NEXT_PHONE + _NEXT_EMAIL:
            pool = _NEXT_PHONE if target in _NEXT_PHONE else _NEXT_EMAIL
            target = next((t for t in pool if t not in used), None)
        if target is None or target in used:
            continue
        mapping[header] = target
        used.add(target)
    return mapping


def is_identity(target: str) -> bool:
    return target in PHONE_TARGETS or target in EMAIL_TARGETS


def check_mapping(
    mapping: Any, headers: list[str], definitions: Mapping[str, AttributeDefinition]
) -> dict[str, str]:
    """``mapping`` without ignored columns, or :class:`MappingInvalid` listing every problem.

    Each target once, and one consent column per sender; at least one phone or email column
    (they identify contacts); required custom attributes must be mapped, since every new
    contact needs them.
    """
    if not isinstance(mapping, Mapping):
        raise MappingInvalid({"mapping": 'expects an object such as {"Phone": "phone"}'})
    errors: dict[str, str] = {}
    cleaned: dict[str, str] = {}
    taken: dict[str, str] = {}
    known = set(headers)
    for column, target in mapping.items():
        if not isinstance(column, str) or column not in known:
            errors[str(column)] = "is not a column of the file"
            continue
        if target is None or target == IGNORE:
            continue
        if not isinstance(target, str):
            errors[column] = "expects a field name such as phone or attr:plan"
            continue
        target = target.strip()
        reason = _target_problem(target, definitions)
        if reason:
            errors[column] = reason
            continue
        consent = parse_consent_target(target)
        slot = consent.key if consent else target
        if slot in taken:
            label = target_label(target, definitions)
            errors[column] = f"“{label}” is already filled from the column “{taken[slot]}”"
            continue
        taken[slot] = column
        cleaned[column] = target
    problems = []
    if not any(is_identity(t) for t in cleaned.values()):
        problems.append(
            "map at least one column to a phone or an email: they identify each contact"
        )
    for key, definition in definitions.items():
        if definition.is_required and f"{ATTR_PREFIX}{key}" not in cleaned.values():
            problems.append(f"the required attribute “{definition.label}” needs a column")
    if problems:
        errors["mapping"] = "; ".join(problems)
    if errors:
        raise MappingInvalid(errors)
    return cleaned


def _target_problem(target: str, definitions: Mapping[str, AttributeDefinition]) -> str:
    if target in FIELD_TARGETS or target in PHONE_TARGETS or target in EMAIL_TARGETS:
        return ""
    if target.startswith(ATTR_PREFIX):
        key = target[len(ATTR_PREFIX) :]
        return "" if key in definitions else f"“{key}” is not a defined custom attribute"
    if target.startswith(EXT_PREFIX):
        system = target[len(EXT_PREFIX) :]
        return "" if EXTERNAL_ID_KEY.match(system) else "an external system name is letters"
    if target.startswith((CONSENT_PREFIX, OPTED_IN_PREFIX)):
        from omnichannel.channels import Channel

        consent = parse_consent_target(target)
        if consent is None or consent.channel not in Channel.values or len(consent.sender) > 200:
            return (
                "a consent column is opted_in:<channel>:<sender> (yes = opted in) or "
                "consent:<channel>:<sender> (yes = opted out), e.g. opted_in:sms:+15005550006"
            )
        return ""
    return f"“{target}” is not a contact field"
