"""The contacts pages read times in the person's zone: the list and a contact's page show the
same day for the same instant, and the import pages are not in UTC."""

import datetime
import re

import pytest
import time_machine

from omnichannel.models import UserPreference
from tests.contacts.test_filters import make_contact
from tests.contacts.test_import_support import (
    csv_bytes,
    import_now,
    media_root,  # noqa: F401  (fixture)
)

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

# 03:30 UTC on 5 Dec: 21:30 on 4 Dec in Mexico City, 16:30 on 5 Dec in Auckland.
INSTANT = datetime.datetime(2026, 12, 5, 3, 30, tzinfo=datetime.UTC)


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.fixture
def mexico(tenant):
    tenant.timezone = "America/Mexico_City"
    tenant.save(update_fields=["timezone"])
    return tenant


def listed_day(client, contact) -> str:
    row = client.get("/contacts/").content.decode().split(f'id="contact-{contact.pk}"')[1]
    return re.search(r"<time [^>]*>([^<]+)</time>", row).group(1)


def page_day(client, contact) -> str:
    return re.search(
        r"added (\d+ \w+ \d{4})", text_of(client.get(f"/contacts/{contact.pk}/"))
    ).group(1)


def test_the_list_and_the_contact_page_show_the_same_day(mexico, owner, login):
    contact = make_contact(mexico, "Ana García", created_at=INSTANT)
    client = login(owner)
    assert listed_day(client, contact) == page_day(client, contact) == "4 Dec 2026"


def test_a_persons_own_zone_moves_both_to_their_day(mexico, owner, login):
    contact = make_contact(mexico, "Ana García", created_at=INSTANT)
    UserPreference.objects.update_or_create(user=owner, defaults={"timezone": "Pacific/Auckland"})
    client = login(owner)
    assert listed_day(client, contact) == page_day(client, contact) == "5 Dec 2026"


@pytest.mark.usefixtures("media_root")
def test_the_import_pages_read_in_the_persons_zone(mexico, owner, login):
    data = csv_bytes([["Nombre", "Celular"], ["Ana", "+14155550101"]])
    with time_machine.travel(INSTANT, tick=False):
        job = import_now(mexico, data, user=owner)
    client = login(owner)

    uploads = text_of(client.get("/contacts/import/"))
    assert "2026-12-04 21:30" in uploads
    assert "Times in America/Mexico_City (CST)" in uploads

    page = text_of(client.get(f"/contacts/import/{job.pk}/"))
    assert "Uploaded 2026-12-04 21:30" in page
    assert "Done at 21:30:00" in page
