"""What identifies one person in stored text, and masking it there (GDPR erasure and export).

A :class:`PersonalData` holds a contact's names, numbers and email addresses, collected before
the erasure blanks them; the apps that take part in an erasure (``contacts.hooks``) add what
their channels told them (a WhatsApp profile name, an email display name) and use it to find
their rows (:meth:`PersonalData.search_terms`) and to mask free text that stays (audit entries,
provider error notes, timeline lines): :meth:`PersonalData.mask`.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from contacts.models import Contact, ContactEmail, ContactPhone, HouseholdMember

ERASED = "[erased]"
# Between the digits of a written number: "(415) 555-0111", "+1 415.555.0111".
_SEPARATORS = r"[\s.\-()]*"
# Words of a name masked on their own ("Ana" of "Ana García"): from the first and last name,
# and the capitalised words of other names (so "(work)" of "Ana (work)" is not one).
_MIN_WORD = 3


def _phone_pattern(number: str) -> str | None:
    """A regex for ``number`` (E.164) as people and providers write it: with or without the
    country code, with spaces, dots, dashes or brackets between the digits."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    national = str(parsed.national_number)
    digits = _SEPARATORS.join(national)
    return rf"(?<!\d)(?:\+?{parsed.country_code}{_SEPARATORS})?\(?{digits}(?!\d)"


def national_digits(number: str) -> str:
    """The national digits of an E.164 number (``4155550111`` of ``+14155550111``): a substring
    of every way the number is stored (E.164, ``whatsapp:+1…``, ``%2B1…``, WhatsApp ids)."""
    try:
        return str(phonenumbers.parse(number, None).national_number)
    except phonenumbers.NumberParseException:
        return number.lstrip("+")


@dataclass
class PersonalData:
    """A person's names, phone numbers (E.164) and email addresses (lower-case)."""

    contact_id: int
    tenant_id: int
    region: str = "US"
    names: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    _pattern: re.Pattern | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, contact: Contact) -> "PersonalData":
        """What the contact's own rows say about them (three queries)."""
        personal = cls(
            contact_id=contact.pk,
            tenant_id=contact.tenant_id,
            region=contact.tenant.default_region or "US",
        )
        personal.add(
            names=[contact.name, f"{contact.first_name} {contact.last_name}"],
            words=[contact.first_name, contact.last_name],
            phones=[
                contact.phone,
                *ContactPhone.objects.filter(contact=contact).values_list("number", flat=True),
            ],
            emails=[
                contact.email,
                *ContactEmail.objects.filter(contact=contact).values_list("email", flat=True),
            ],
        )
        # How other households list them ("Ana", "Grandma").
        personal.add(
            names=HouseholdMember.objects.filter(member=contact).values_list("name", flat=True)
        )
        return personal

    def add(
        self,
        *,
        names: Iterable[str | None] = (),
        words: Iterable[str | None] = (),
        phones: Iterable[str | None] = (),
        emails: Iterable[str | None] = (),
    ) -> None:
        """Learn more of what identifies them (blank values are ignored)."""
        for name in names:
            name = " ".join((name or "").split())
            if len(name) < 2:
                continue
            self.names.add(name)
            self.words.update(
                w for w in re.findall(r"\w+", name) if len(w) >= _MIN_WORD and w[0].isupper()
            )
        for word in words:
            self.words.update(w for w in re.findall(r"\w+", word or "") if len(w) >= _MIN_WORD)
        self.phones.update(p.strip() for p in phones if p and p.strip().startswith("+"))
        self.emails.update(e.strip().lower() for e in emails if e and "@" in e)
        self._pattern = None

    def search_terms(self) -> list[str]:
        """Substrings that find rows naming them (case-insensitively): each number's national
        digits and each email address, also form-encoded. Names are left out on purpose: a
        name alone would find other people's rows."""
        terms = {national_digits(p) for p in self.phones}
        for email in self.emails:
            terms |= {email, email.replace("@", "%40")}
        return sorted(t for t in terms if t)

    def _compile(self, *, names: bool) -> re.Pattern | None:
        parts = [p for p in map(_phone_pattern, self.phones) if p]
        for email in self.emails:
            parts += [re.escape(email), re.escape(email.replace("@", "%40"))]
        if names:
            for text in sorted(self.names | self.words, key=len, reverse=True):
                parts.append(rf"(?<!\w){re.escape(text)}(?!\w)")
        return re.compile("|".join(parts), re.IGNORECASE) if parts else None

    @property
    def pattern(self) -> re.Pattern | None:
        if self._pattern is None:
            self._pattern = self._compile(names=True)
        return self._pattern

    def mentions(self, text: str | None) -> bool:
        return bool(text and self.pattern and self.pattern.search(text))

    def mask(self, text: str, *, names: bool = True) -> str:
        """``text`` with their names, numbers and addresses replaced by ``[erased]``;
        ``names=False`` for text not known to be about them, where a first name alone could
        be someone else's."""
        pattern = self.pattern if names else self._compile(names=False)
        if not text or pattern is None:
            return text
        return pattern.sub(ERASED, text)

    def mask_json(self, value: Any, *, names: bool = True) -> Any:
        """``value`` (decoded JSON) with every string masked."""
        if isinstance(value, str):
            return self.mask(value, names=names)
        if isinstance(value, dict):
            return {key: self.mask_json(item, names=names) for key, item in value.items()}
        if isinstance(value, list):
            return [self.mask_json(item, names=names) for item in value]
        return value
