"""The pages an agent works in, in headless Chromium under the real Content-Security-Policy
header: no console error, no uncaught exception, no policy violation, while realtime pushes
arrive; and the pages whose words and icons changed (phones, SVG icons) in both themes and at
phone width, into .data/artifacts/."""

import re

import pytest
from playwright.sync_api import expect

from contacts.models import Contact
from inbox.actions.read_state import do_set_pinned
from inbox.models import Attachment, Conversation
from omnichannel.channels import Channel
from tests.browser.test_inbox import screenshot, sign_in
from tests.inbox.api_factories import make_message
from tests.inbox.webhook_helpers import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What the policy refuses, as the page sees it (console wording differs between browsers).
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__csp.push(`${e.effectiveDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


@pytest.fixture
def workday(tenant, twilio_inbox):
    tenant.default_region = "MX"
    tenant.save(update_fields=["default_region"])
    sms = twilio_inbox(tenant, kind=Channel.SMS)
    receive(sms, "+525512345678", "¿Tienen mesa para cuatro?", "Ana García")
    receive(sms, "+14155550199", "Running 10 minutes late")
    return sms


def watched_page(browser, width: int = 1280):
    page = browser.new_context(viewport={"width": width, "height": 800}).new_page()
    page.set_default_timeout(10_000)
    page.add_init_script(WATCH_CSP)
    page.problems = []
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda exc: page.problems.append(f"{exc.name}: {exc.message}"))
    return page


def visit(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("load")
    page.problems.extend(page.evaluate("window.__csp"))


def test_the_agents_pages_run_clean_under_the_policy(browser, asgi_server, owner, workday):
    base = asgi_server.url
    page = watched_page(browser)
    sign_in(page, asgi_server, owner)
    expect(page.locator("html")).to_have_attribute("data-realtime", "connected")

    # The list, while a message from a new contact is pushed into it.
    receive(workday, "+525598765432", "Hola, ¿abren el domingo?")
    rows = page.locator("#conversation-list > li.conv-row")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("55 9876 5432")  # national: the tenant is in Mexico
    page.problems.extend(page.evaluate("window.__csp"))

    # A conversation, while the contact writes again.
    ana = Conversation.objects.get(contact__phone="+525512345678")
    visit(page, f"{base}/inbox/c/{ana.pk}/")
    expect(page.locator("html")).to_have_attribute("data-realtime", "connected")
    receive(workday, "+525512345678", "Somos cuatro")
    expect(page.locator("#thread")).to_contain_text("Somos cuatro")
    expect(page.locator("#contact-panel")).to_contain_text("55 1234 5678")
    page.problems.extend(page.evaluate("window.__csp"))

    contact = Contact.objects.get(phone="+14155550199")
    for path in (
        "/contacts/",
        f"/contacts/{contact.pk}/",
        "/campaigns/",
        "/settings/",
        "/settings/channels/",
        f"/settings/channels/{workday.pk}/",
    ):
        visit(page, f"{base}{path}")
    expect(page.locator("main")).to_contain_text("55 ")  # the inbox's address, national

    assert page.problems == []


PAGES = {
    "inbox-list": "/inbox/",
    "inbox-conversation": "/inbox/c/{conversation}/",
    "contacts-list": "/contacts/",
    "contact": "/contacts/{contact}/",
    "channels": "/settings/channels/",
}


@pytest.mark.parametrize("width", [1280, 390])
def test_changed_pages_in_both_themes(browser, asgi_server, owner, workday, width):
    ana = Conversation.objects.get(contact__phone="+525512345678")
    # The icons: a pinned row, a delivered reply's ticks, a file.
    do_set_pinned(ana, owner, pinned=True)
    reply = make_message(ana, direction="out", body="Sí, a las 8", status="delivered")
    Attachment.objects.create(
        tenant=ana.tenant,
        message=reply,
        filename="menu.pdf",
        content_type="application/pdf",
        status="pending",
    )
    page = watched_page(browser, width)
    sign_in(page, asgi_server, owner)
    for theme in ("dark", "light"):
        if page.locator("html").get_attribute("data-theme") != theme:
            page.click("[data-theme-toggle]")
            expect(page.locator("html")).to_have_attribute("data-theme", theme)
            page.wait_for_function(
                f"() => document.querySelector('[data-theme-toggle]').value !== '{theme}'"
            )
        for name, path in PAGES.items():
            visit(page, asgi_server.url + path.format(conversation=ana.pk, contact=ana.contact_id))
            # The theme button names the other theme, with its icon, in words.
            toggle = page.locator("[data-theme-toggle]")
            expect(toggle).to_have_text(re.compile("Light" if theme == "dark" else "Dark"))
            expect(toggle.locator("svg:visible")).to_have_count(1)
            if name == "inbox-conversation":
                expect(page.locator(".tick svg.icon-check-double")).to_have_count(1)
                expect(page.locator(".pin-icon svg.icon-pin")).to_have_count(1)
            screenshot(page, f"words-{name}-{theme}-{width}.png")
    assert page.problems == []
