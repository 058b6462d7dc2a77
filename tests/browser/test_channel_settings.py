"""Settings → Channels in headless Chromium against the real ASGI server: an admin connects a
Twilio SMS number on the fake Twilio, tests the connection, copies the inbound webhook URL,
receives a message signed like Twilio on it, then rotates the auth token: the old token's
signatures are refused from then on."""

import secrets
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from inbox.models import Conversation, Inbox
from tests.browser.test_inbox import screenshot, sign_in
from tests.fakes.twilio import new_account_sid
from tests.inbox.webhook_helpers import twilio_params, twilio_signature

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADDRESS = "+14155550188"


@pytest.fixture
def fake_twilio(twilio_inbox):
    """The session's Twilio simulator, emptied for this test (``twilio_inbox`` resets it)."""
    from tests.fakes.twilio import simulator

    return simulator()


def post_inbound(server, url: str, *, signed_with: str, account_sid: str, body: str):
    """An inbound SMS POSTed to the webhook ``url`` (the public address Twilio is given, which
    the signature covers) over real HTTP to the test server."""
    sid = "SM" + secrets.token_hex(16)
    params = twilio_params(
        "inbound_sms",
        MessageSid=sid,
        SmsSid=sid,
        SmsMessageSid=sid,
        AccountSid=account_sid,
        From="+14155550111",
        To=ADDRESS,
        Body=body,
    )
    headers = {"X-Twilio-Signature": twilio_signature(signed_with, url, params)}
    path = urlsplit(url).path
    return httpx.post(f"{server.url}{path}", data=params, headers=headers, timeout=10)


def test_an_admin_connects_tests_copies_receives_and_rotates(
    browser, asgi_server, tenant, owner, fake_twilio
):
    account_sid, old_token, new_token = new_account_sid(), secrets.token_hex(16), "rotated-token"
    fake_twilio.add_account(account_sid, old_token)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=asgi_server.url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    try:
        sign_in(page, asgi_server, owner)

        # Settings → Channels → Connect a channel → Twilio SMS, on the fake Twilio.
        page.goto(f"{asgi_server.url}/settings/channels/")
        expect(page.locator(".settings-nav [aria-current=page]")).to_have_text("Channels")
        page.click("#connect-channel")
        page.locator("#provider-twilio").get_by_role("link", name="SMS").click()
        page.fill("#channel-name", "Front desk")
        page.fill("#channel-address", ADDRESS)
        page.fill("#cred-account_sid", account_sid)
        page.fill("#cred-auth_token", old_token)
        page.fill("#cred-api_base_url", fake_twilio.base_url)
        page.click("#connect-form button[type=submit]")
        expect(page.locator("h1")).to_have_text("Front desk")
        inbox = Inbox.objects.get(tenant=tenant, address=ADDRESS)
        expect(page.locator("#channel-id")).to_have_text(str(inbox.pk))

        # Test connection: the fake Twilio knows the account and the token.
        page.click("#test-form button")
        expect(page.locator("#connection-check")).to_contain_text("Connected to the Twilio account")
        expect(page.locator("#connection-check")).to_have_attribute("data-ok", "true")

        # Copy the inbound webhook URL: what lands on the clipboard is the URL shown.
        inbound_url = page.locator('code[data-webhook="inbound"]')
        shown = inbound_url.inner_text().strip()
        assert inbox.webhook_token in shown
        copy = page.locator(f'button[data-copy="{inbound_url.get_attribute("id")}"]')
        copy.click()
        expect(copy).to_have_text("Copied")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == shown
        screenshot(page, "channel-settings-connected.png")

        # Twilio posts an inbound message to that URL, signed with the account's token.
        response = post_inbound(
            asgi_server, copied, signed_with=old_token, account_sid=account_sid, body="Hola!"
        )
        assert response.status_code in (200, 204), response.text[:500]
        conversation = Conversation.objects.get(inbox=inbox, contact__phone="+14155550111")
        page.goto(f"{asgi_server.url}/inbox/")
        expect(page.locator(f"#conv-{conversation.pk}")).to_contain_text("Hola!")
        page.goto(f"{asgi_server.url}/settings/channels/{inbox.pk}/")
        expect(page.locator("#last-webhook time")).to_have_count(1)

        # Rotate the auth token on the channel's page.
        page.fill("#cred-auth_token", new_token)
        page.click("#credentials-form button[type=submit]")
        expect(page.locator(".messages")).to_contain_text("auth_token changed")
        inbox.refresh_from_db()
        assert inbox.get_credentials()["auth_token"] == new_token

        # From now on only the new token's signatures are accepted.
        refused = post_inbound(
            asgi_server, copied, signed_with=old_token, account_sid=account_sid, body="Old"
        )
        assert refused.status_code == 403
        accepted = post_inbound(
            asgi_server, copied, signed_with=new_token, account_sid=account_sid, body="New"
        )
        assert accepted.status_code in (200, 204), accepted.text[:500]
        assert conversation.messages.filter(body="New").exists()
        assert not conversation.messages.filter(body="Old").exists()
        assert errors == []
    finally:
        context.close()
