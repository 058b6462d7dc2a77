"""Contacts layout and state faults a newcomer met (issue 16): a long name widening the
contacts table, and "Stop the import" left on screen once the import is over."""

import pytest
from playwright.sync_api import expect

from contacts.imports.services import do_create_import, do_start_import, run_import
from contacts.imports.sniff import sniff
from contacts.models import Contact
from tests.browser.test_inbox import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A hundred characters, once as words and once as a single unbroken string.
LONG_WORDS = ("Maria de los Angeles Fernandez Gutierrez " * 3)[:100]
LONG_STRING = "X" * 100


def test_a_long_contact_name_does_not_widen_the_contacts_table(browser, asgi_server, tenant, owner):
    for n, name in enumerate((LONG_WORDS, LONG_STRING)):
        Contact.objects.create(
            tenant=tenant, name=name, phone=f"+1415555{n:04d}", email=f"c{n}@example.com"
        )
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(10_000)
    sign_in(page, asgi_server, owner)
    page.goto(f"{asgi_server.url}/contacts/")
    table = page.locator("table.contact-table")
    expect(table.locator("tbody tr")).to_have_count(2)

    widths = table.evaluate("t => [t.getBoundingClientRect().width, t.parentElement.clientWidth]")
    assert widths[0] <= widths[1], f"the table is {widths[0]} px wide in {widths[1]} px"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    # Cut short on screen, the whole name is still there to read (and to select).
    link = table.get_by_role("link", name=LONG_STRING)
    expect(link).to_have_attribute("title", LONG_STRING)
    screenshot(page, "contacts-long-name.png")
    page.context.close()


def test_stop_the_import_goes_once_the_import_is_over(browser, asgi_server, tenant, owner):
    rows = "".join(f"Cliente {n};+1 415 555 {n:04d}\n" for n in range(120))
    data = ("Nombre;Teléfono\n" + rows).encode()
    job = do_create_import(
        tenant, filename="lote.csv", data=data, sniffed=sniff(data), acting_user=owner
    )
    do_start_import(
        job,
        mapping={"Nombre": "name", "Teléfono": "phone"},
        on_existing="update",
        acting_user=owner,
    )  # queued: no worker picks it up in this test

    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(10_000)
    sign_in(page, asgi_server, owner)
    page.goto(f"{asgi_server.url}/contacts/import/{job.pk}/")
    expect(page.locator("html")).to_have_attribute("data-realtime", "connected")
    stop = page.get_by_role("button", name="Stop the import")
    expect(stop).to_be_visible()

    # A worker (here, this process) finishes it: the page follows live, and the button goes.
    run_import(job.pk, batch_size=50)
    expect(page.locator("[data-import-state]")).to_have_attribute(
        "data-import-state", "done", timeout=3_000
    )
    expect(stop).to_be_hidden()
    page.context.close()
