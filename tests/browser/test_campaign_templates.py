"""The template editor in headless Chromium: the segment counter follows the typing, a
variable is inserted by click, and the preview renders for a chosen contact."""

import contextlib

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from campaigns.services import do_save_template
from contacts.services import do_create_contact
from tests.browser.test_inbox import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_typing_updates_the_counter_and_the_preview(browser, asgi_server, tenant, owner):
    template = do_save_template(tenant, name="Verano", channel="sms", body="Hola")
    lucia = do_create_contact(tenant, fields={"first_name": "Lucía", "name": "Lucía Pérez"})
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    sign_in(page, asgi_server, owner)

    page.goto(f"{asgi_server.url}/campaigns/templates/{template.pk}/")
    counter = page.locator("#segment-counter")
    expect(counter).to_have_attribute("data-encoding", "GSM-7")
    expect(counter).to_have_attribute("data-segments", "1")

    body = page.locator("#id_body")
    body.fill("")
    body.press_sequentially("Hola ")
    page.locator('[data-insert-variable="firstName"]').click()
    expect(body).to_have_value("Hola {{firstName}}")
    body.press_sequentially(" 🎉")
    expect(counter).to_have_attribute("data-encoding", "UCS-2")
    expect(counter).to_contain_text("because of")

    body.press("End")
    body.press_sequentially(" " + "x" * 60)
    expect(counter).to_have_attribute("data-segments", "2")

    page.select_option("#preview-contact", str(lucia.pk))
    expect(page.locator("#preview-text")).to_contain_text("Hola Lucía 🎉")

    # WhatsApp fields show only for WhatsApp.
    expect(page.locator("#field-content_sid")).to_be_hidden()
    page.select_option("#id_channel", "whatsapp")
    expect(page.locator("#field-content_sid")).to_be_visible()
    assert errors == []


def test_a_contact_chosen_while_a_preview_loads_is_the_one_previewed(
    browser, asgi_server, tenant, owner
):
    """The preview of what was typed is still loading when the agent picks a contact: the
    newer request replaces it, and its answer (with the contact) is the one shown."""
    template = do_save_template(tenant, name="Verano", channel="sms", body="Hola")
    lucia = do_create_contact(tenant, fields={"first_name": "Lucía", "name": "Lucía Pérez"})
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(10_000)
    sign_in(page, asgi_server, owner)
    page.goto(f"{asgi_server.url}/campaigns/templates/{template.pk}/")

    held = []

    def choose_while_loading(route) -> None:
        if held:
            route.continue_()
            return
        held.append(route)
        answer = route.fetch()  # the preview without a contact, not yet shown
        page.select_option("#preview-contact", str(lucia.pk))
        with contextlib.suppress(PlaywrightError):  # aborted by the newer request
            route.fulfill(response=answer)

    page.route("**/campaigns/templates/preview/", choose_while_loading)
    body = page.locator("#id_body")
    body.press("End")
    body.press_sequentially(" {{firstName}}")
    expect(page.locator("#preview-text")).to_contain_text("Hola Lucía")
    assert held, "the typing sent no preview request"
