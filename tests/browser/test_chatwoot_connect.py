"""Connecting a Chatwoot in headless Chromium against the real ASGI server and the fake
Chatwoot server: an admin fills in Settings → Channels (the address is made from the
settings), and "Test connection" names the Chatwoot user and inbox it reached."""

import pytest
from playwright.sync_api import expect

from inbox.models import Inbox
from tests.browser.test_inbox import screenshot, sign_in
from tests.fakes import chatwoot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def cw_server():
    server = chatwoot.start()
    yield server
    server.shutdown()
    server.server_close()


def test_an_admin_connects_chatwoot_and_tests_the_connection(
    page, asgi_server, tenant, owner, cw_server
):
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    try:
        sign_in(page, asgi_server, owner)
        page.goto(f"{asgi_server.url}/settings/channels/")
        page.click("#connect-channel")
        page.locator("#provider-chatwoot").get_by_role("link", name="Chatwoot").click()
        page.fill("#channel-name", "Support Chatwoot")
        page.fill("#cred-api_url", cw_server.base_url)
        page.fill("#cred-api_access_token", cw_server.token)
        page.fill("#cred-account_id", str(chatwoot.ACCOUNT_ID))
        page.fill("#cred-inbox_id", str(chatwoot.INBOX_ID))
        page.fill("#cred-webhook_secret", "whsec-from-chatwoot")
        page.check("#cred-notify")
        page.click("#connect-form button[type=submit]")
        expect(page.locator("h1")).to_have_text("Support Chatwoot")

        inbox = Inbox.objects.get(tenant=tenant, kind="chatwoot")
        host = cw_server.base_url.removeprefix("http://")
        assert inbox.address == f"{host}#{chatwoot.ACCOUNT_ID}/{chatwoot.INBOX_ID}"
        assert inbox.option("notify", False) is True and inbox.option("mirror", True) is False
        page.click("#test-form button")
        expect(page.locator("#connection-check")).to_have_attribute("data-ok", "true")
        expect(page.locator("#connection-check")).to_contain_text(
            "Connected to Chatwoot as Ann Agent"
        )
        expect(page.locator("#connection-check")).to_contain_text("“Centro”")
        assert "/api/v1/profile" in cw_server.paths("GET")
        assert errors == []
    except Exception:
        screenshot(page, "chatwoot-connect")
        raise
