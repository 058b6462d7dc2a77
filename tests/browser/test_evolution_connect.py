"""Connecting WhatsApp through Evolution API in headless Chromium against the real ASGI
server and the fake Evolution server: an admin connects the instance in Settings → Channels,
shows its QR code, and the page follows the state until the phone has scanned it."""

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from inbox.models import Inbox
from tests.browser.test_inbox import screenshot, sign_in
from tests.fakes import evolution

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADDRESS = "+5511988888888"


@pytest.fixture
def evo_server():
    server = evolution.start()
    yield server
    server.shutdown()
    server.server_close()


def test_an_admin_connects_an_evolution_instance_by_its_qr_code(
    page, asgi_server, tenant, owner, evo_server
):
    cache.clear()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    try:
        sign_in(page, asgi_server, owner)
        page.goto(f"{asgi_server.url}/settings/channels/")
        page.click("#connect-channel")
        page.locator("#provider-evolution").get_by_role("link", name="WhatsApp").click()
        page.fill("#channel-name", "WhatsApp da loja")
        page.fill("#channel-address", ADDRESS)
        page.fill("#cred-instance_url", evo_server.base_url)
        page.fill("#cred-instance_name", evo_server.instance)
        page.fill("#cred-api_key", evo_server.api_key)
        page.click("#connect-form button[type=submit]")
        expect(page.locator("h1")).to_have_text("WhatsApp da loja")
        inbox = Inbox.objects.get(tenant=tenant, address=ADDRESS)

        page.click("#link-form button")
        expect(page.locator("#link-qr")).to_be_visible()
        assert page.locator("#link-qr").evaluate("img => img.naturalWidth") == 1  # a real PNG
        expect(page.locator("#channel-link")).to_have_attribute("data-state", "connecting")
        assert evo_server.webhook["url"].endswith(
            f"/webhooks/evolution/{inbox.webhook_token}/events/"
        )
        assert evo_server.webhook["headers"] == {
            "X-Centro-Webhook-Secret": inbox.get_credentials()["webhook_secret"]
        }

        evo_server.scan()  # the phone scans the code: the polling page sees it
        expect(page.locator("#channel-link")).to_have_attribute("data-state", "open")
        expect(page.locator("#link-state")).to_contain_text("Connected")
        expect(page.locator("#link-qr")).to_have_count(0)
        assert errors == []
    except Exception:
        screenshot(page, "evolution-connect")
        raise
