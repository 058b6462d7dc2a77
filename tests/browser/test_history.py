"""Back into the inbox from another page: the whole page comes back, not the piece htmx
fetched for that URL (which the browser cached under it)."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_csp import watched_page, workday  # noqa: F401  (fixture)
from tests.browser.test_inbox import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_back_from_another_page_restores_the_whole_inbox_page(
    browser,
    asgi_server,
    owner,
    workday,  # noqa: F811
):
    page = watched_page(browser)
    sign_in(page, asgi_server, owner)
    expect(page.locator("html")).to_have_attribute("data-realtime", "connected")
    page.locator("#conversation-list a[data-row-link]").first.click()  # htmx: a piece
    expect(page.locator("#thread")).to_be_visible()
    conversation_url = page.url

    page.goto(f"{asgi_server.url}/contacts/")
    page.go_back()

    assert page.url == conversation_url
    expect(page).to_have_title("+1 415-555-0199 · Inbox · Centro")
    expect(page.locator("html")).to_have_attribute("data-realtime", "connected")
    assert page.evaluate("typeof htmx") == "object"
    assert page.problems == []
