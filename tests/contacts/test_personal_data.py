"""PersonalData: finding and masking one person's names, numbers and addresses in free text."""

import pytest

from contacts.models import HouseholdMember
from contacts.personal_data import PersonalData
from contacts.services import do_create_contact

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana(tenant):
    contact = do_create_contact(
        tenant,
        fields={"first_name": "Ana", "last_name": "García"},
        phones=["+14155550111", "+525512345678"],
        emails=["Ana.Garcia@Example.com"],
    )
    grandma = do_create_contact(tenant, fields={"name": "Grandma"})
    HouseholdMember.objects.create(
        tenant=tenant, contact=grandma, member=contact, name="Anita G.", relationship="grandchild"
    )
    return PersonalData.of(contact)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+14155550111", "[erased]"),
        ("whatsapp:+14155550111", "whatsapp:[erased]"),
        ("From=%2B14155550111&Body=hi", "From=%2B[erased]&Body=hi"),
        ("call (415) 555-0111 please", "call [erased] please"),
        ("+1 415.555.0111", "[erased]"),
        ("WaId 14155550111", "WaId [erased]"),
        ("+52 55 1234 5678", "[erased]"),
    ],
)
def test_it_masks_their_numbers_however_they_are_written(ana, text, masked):
    assert ana.mask(text) == masked


def test_it_masks_emails_in_any_case_and_form_encoded(ana):
    text = "To: ANA.GARCIA@example.COM, cc ana.garcia%40example.com"
    assert ana.mask(text) == "To: [erased], cc [erased]"


def test_it_masks_names_and_their_words_but_not_other_words(ana):
    assert ana.mask("Merged into Ana García; Ana called. Banana, Anabel.") == (
        "Merged into [erased]; [erased] called. Banana, Anabel."
    )
    assert ana.mask("Anita G. wrote") == "[erased] wrote"  # how a household lists them


def test_names_learned_later_are_masked_but_lowercase_words_of_them_are_not(ana):
    ana.add(names=["Ana (work)"])
    assert ana.mask("Ana (work) at work") == "[erased] at work"


def test_other_numbers_stay(ana):
    text = "+14155550112 and 4155550111999 and +14155550111"
    assert ana.mask(text) == "+14155550112 and 4155550111999 and [erased]"


def test_it_masks_every_string_in_json(ana):
    data = {"who": "Ana García", "n": 3, "items": [{"to": "+14155550111"}, True]}
    assert ana.mask_json(data) == {"who": "[erased]", "n": 3, "items": [{"to": "[erased]"}, True]}


def test_search_terms_are_numbers_and_addresses_never_names(ana):
    assert ana.search_terms() == [
        "4155550111",
        "5512345678",
        "ana.garcia%40example.com",
        "ana.garcia@example.com",
    ]
    assert ana.mentions("x 4155550111 y") and not ana.mentions("nothing here")


def test_without_names_only_numbers_and_addresses_are_masked(ana):
    text = "Ana: +14155550111, ana.garcia@example.com"
    assert ana.mask(text, names=False) == "Ana: [erased], [erased]"
    assert ana.mask_json({"reason": text}, names=False) == {"reason": "Ana: [erased], [erased]"}
