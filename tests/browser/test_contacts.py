"""The contacts CRM in headless Chromium: a CSV import from upload to report, the live
progress of an import running elsewhere, search, and a contact's attributes edited in place."""

import re

import pytest
from playwright.sync_api import expect

from contacts.imports.services import do_create_import, do_start_import, run_import
from contacts.imports.sniff import sniff
from contacts.models import AttributeDefinition, Contact
from tests.browser.test_inbox import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = (
    "Nombre;Apellido;Teléfono;Correo;Plan\n"
    "Ana;García;+52 1 55 1234 5678;ana@example.mx;gold\n"
    "Luis;Pérez;(415) 555-0199;luis@example.com;silver\n"
    "Marta;Ruiz;not a phone;;gold\n"
).encode("latin-1")


@pytest.fixture
def plan(tenant):
    return AttributeDefinition.objects.create(
        tenant=tenant, key="plan", label="Plan", type="choice", choices=["gold", "silver"]
    )


def test_an_admin_imports_a_csv_searches_and_edits_a_contact(
    browser, asgi_server, tenant, owner, plan
):
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    sign_in(page, asgi_server, owner)

    # Upload (Latin-1, semicolons): the preview and the guessed mapping come back.
    page.goto(f"{asgi_server.url}/contacts/import/")
    page.set_input_files(
        "#import-file", files=[{"name": "clientes.csv", "mimeType": "text/csv", "buffer": CSV}]
    )
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.locator("#import-mapping-form")).to_be_visible()
    expect(page.locator("table").first).to_contain_text("García")
    page.get_by_role("button", name="Import").click()

    # The job page: done, two contacts in, one row reported with its reason.
    expect(page.locator("[data-import-state]")).to_have_attribute("data-import-state", "done")
    progress = page.locator("[data-import-state]")
    expect(progress).to_contain_text(re.compile(r"Created\s*2"))
    expect(progress).to_contain_text(re.compile(r"Rows with errors\s*1"))
    report = page.get_by_role("link", name="Download the error report (CSV)")
    with page.expect_download() as download:
        report.click()
    text = download.value.path().read_text(encoding="utf-8-sig")
    assert ("4" in text and "not a phone" in text) or "phone" in text.lower()

    # Search by four digits of the phone, open the contact.
    page.goto(f"{asgi_server.url}/contacts/")
    page.fill("#contact-search", "0199")
    page.keyboard.press("Enter")
    expect(page.locator("#contact-rows tr")).to_have_count(1)
    expect(page.locator("#contact-rows")).to_contain_text("Luis")
    luis = Contact.objects.get(phone="+14155550199")
    page.locator(f"#contact-{luis.pk} a").first.click()
    expect(page).to_have_url(re.compile(rf"/contacts/{luis.pk}/$"))

    # Attributes are edited in place; a wrong value is refused next to its field.
    AttributeDefinition.objects.create(tenant=tenant, key="visits", label="Visits", type="number")
    page.reload()
    page.select_option("#attr-plan", "gold")
    page.fill("#attr-visits", "lots")
    with page.expect_response(lambda r: r.request.method == "POST"):
        page.get_by_role("button", name="Save attributes").click()
    expect(page.locator("#attr-visits-error")).to_contain_text("is not a number")
    expect(page.locator("#attr-visits")).to_have_attribute("aria-invalid", "true")
    luis.refresh_from_db()
    assert luis.attributes == {"plan": "silver"}  # nothing half-written
    page.fill("#attr-visits", "3")
    with page.expect_response(lambda r: r.request.method == "POST"):
        page.get_by_role("button", name="Save attributes").click()
    expect(page.locator("#attr-visits-error")).to_have_count(0)
    luis.refresh_from_db()
    assert luis.attributes == {"plan": "gold", "visits": 3}
    # The only error the browser logs is the refused save's own 422.
    assert [e for e in errors if "status of 422" not in e] == []
    page.context.close()


def test_the_progress_of_an_import_running_elsewhere_arrives_live(
    browser, asgi_server, tenant, owner, plan
):
    rows = "".join(f"Cliente {n};+1 415 555 {n:04d};gold\n" for n in range(300))
    data = ("Nombre;Teléfono;Plan\n" + rows).encode()
    job = do_create_import(
        tenant, filename="lote.csv", data=data, sniffed=sniff(data), acting_user=owner
    )
    do_start_import(
        job,
        mapping={"Nombre": "name", "Teléfono": "phone", "Plan": "attr:plan"},
        on_existing="update",
        acting_user=owner,
    )  # queued: no worker picks it up in this test

    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(10_000)
    sign_in(page, asgi_server, owner)
    page.goto(f"{asgi_server.url}/contacts/import/{job.pk}/")
    expect(page.locator("[data-import-state]")).to_have_attribute("data-import-state", "pending")
    expect(page.locator("html")).to_have_attribute("data-realtime", "connected")

    # A worker (here, this process) imports it: the page follows without a reload, sooner
    # than its fallback polling would.
    run_import(job.pk, batch_size=100)
    expect(page.locator("[data-import-state]")).to_have_attribute(
        "data-import-state", "done", timeout=3_000
    )
    assert Contact.objects.filter(tenant=tenant).count() == 300
    page.context.close()


def test_an_agent_edits_attributes_from_the_inbox_contact_panel(
    browser, asgi_server, tenant, owner, plan, twilio_inbox
):
    from inbox.models import Conversation
    from omnichannel.channels import Channel
    from tests.inbox.webhook_helpers import receive

    inbox = twilio_inbox(tenant, kind=Channel.SMS)
    receive(inbox, "+14155550111", "Hola", "Ana García")
    conversation = Conversation.objects.get()
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(10_000)
    sign_in(page, asgi_server, owner)
    page.click(f"#conv-{conversation.pk} a")
    page.evaluate("window.__loaded = true")
    panel = page.locator("#contact-panel")
    panel.locator("#attr-plan").select_option("silver")
    with page.expect_response(lambda r: r.request.method == "POST"):
        panel.get_by_role("button", name="Save attributes").click()
    expect(panel.locator("#attr-plan")).to_have_value("silver")
    conversation.contact.refresh_from_db()
    assert conversation.contact.attributes == {"plan": "silver"}
    assert page.evaluate("window.__loaded === true")  # no reload
    page.context.close()
