"""Macros in headless Chromium: built in Settings → Macros, run from a conversation's menu.
Screenshots of both pages go to .data/artifacts/ (both themes, and a phone's width)."""

import json
import re

import pytest
from playwright.sync_api import expect

from contacts.models import Contact
from inbox.actions.labels import do_create_canned_response
from inbox.actions.macros import do_add_macro_step, do_create_macro
from inbox.models import Conversation, MacroStep
from omnichannel.channels import Channel
from omnichannel.labels import do_create_label
from tests.browser.test_inbox import screenshot, sign_in
from tests.browser.test_inbox_accessibility import CONTRAST, UNLABELLED
from tests.inbox.webhook_helpers import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.clock]


def _only(selector: str) -> str:
    """The contrast check for ``selector`` and what it holds: the thread after a run shows
    pieces this test is not about."""
    return CONTRAST.replace('"body *"', json.dumps(f"{selector}, {selector} *"))


def _new_page(browser, *, width: int = 1280):
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    return page, errors


def _ana(tenant, twilio_inbox) -> Conversation:
    inbox = twilio_inbox(tenant, kind=Channel.SMS)
    conversation = receive(inbox, "+14155550111", "My booking is wrong", "Ana López").conversation
    Contact.objects.filter(pk=conversation.contact_id).update(first_name="Ana")
    return conversation


def _add_step(page, kind: str, **fields: str) -> None:
    page.select_option("#step-kind", kind)
    for selector, value in fields.items():
        field = page.locator(f"#{selector}")
        expect(field).to_be_visible()  # only the chosen action's field shows
        field.select_option(value)
    page.click("#macro-step-add")


def test_a_macro_runs(browser, asgi_server, owner, tenant, twilio_inbox):
    conversation = _ana(tenant, twilio_inbox)
    vip = do_create_label(tenant, name="VIP", color="green")
    thanks = do_create_canned_response(
        tenant,
        shortcut="thanks",
        title="Thanks",
        body='Thanks {{firstName|default:"there"}}, we are on it.',
    )
    page, errors = _new_page(browser)
    sign_in(page, asgi_server, owner)

    # Settings → Macros: create it, then add its steps.
    page.goto(f"{asgi_server.url}/settings/macros/")
    expect(page.locator(".settings-nav a[aria-current='page']")).to_have_text("Macros")
    page.fill("#macro-name", "Triage")
    page.click("#macro-form button[type='submit']")
    expect(page.locator("h1")).to_have_text("Macro “Triage”")
    expect(page.locator("#step-label")).to_be_visible()  # "Add a label" is the first action
    expect(page.locator("#step-note")).to_be_hidden()
    _add_step(page, "add_label", **{"step-label": str(vip.pk)})
    _add_step(page, "assign_me")
    _add_step(page, "close")
    _add_step(page, "send_canned", **{"step-canned": str(thanks.pk)})
    steps = page.locator("#macro-steps > li")
    expect(steps).to_have_count(4)
    # The reply goes before closing: move it up one place.
    page.get_by_role("button", name="Move step 4 up").click()
    expect(steps.nth(2)).to_contain_text("Reply with /thanks (Thanks)")
    expect(steps.nth(3)).to_contain_text("Close the conversation")
    assert list(MacroStep.objects.order_by("position").values_list("kind", flat=True)) == [
        "add_label",
        "assign_me",
        "send_canned",
        "close",
    ]

    # The conversation's Macros menu shows the steps; running it does them all.
    page.goto(f"{asgi_server.url}/inbox/c/{conversation.pk}/")
    page.click("#action-macros")
    item = page.locator(".macro-item", has_text="Triage")
    item.locator("summary").click()
    expect(item.locator(".macro-item-steps li")).to_have_count(4)
    item.get_by_role("button", name="Run “Triage”").click()

    header = page.locator("#conversation-header")
    expect(page.locator("#conversation-notice")).to_have_text("Macro “Triage” ran.")
    expect(header.locator(".label-chip")).to_contain_text("VIP")
    expect(header).to_contain_text("Assigned to")
    expect(header.locator(".status-badge")).to_have_text("Closed")
    reply = page.locator("#thread .msg-out", has_text="Thanks Ana, we are on it.")
    expect(reply).to_have_count(1)
    expect(page.locator("#thread .msg-system", has_text="Closed by")).to_have_count(1)
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.CLOSED
    assert conversation.assignee == owner
    assert list(conversation.labels.all()) == [vip]
    assert errors == [], errors


@pytest.mark.parametrize(("theme", "width"), [("dark", 1280), ("light", 1280), ("dark", 390)])
def test_screenshots_of_macros(browser, asgi_server, owner, tenant, twilio_inbox, theme, width):
    conversation = _ana(tenant, twilio_inbox)
    vip = do_create_label(tenant, name="VIP", color="green")
    thanks = do_create_canned_response(tenant, shortcut="thanks", title="Thanks", body="Thanks!")
    macro = do_create_macro(tenant, name="Triage", acting_user=owner)
    do_add_macro_step(macro, kind=MacroStep.Kind.ADD_LABEL, target_id=vip.pk)
    do_add_macro_step(macro, kind=MacroStep.Kind.ASSIGN_ME)
    do_add_macro_step(macro, kind=MacroStep.Kind.SEND_CANNED, target_id=thanks.pk)
    do_add_macro_step(macro, kind=MacroStep.Kind.ADD_NOTE, note="Checked the booking with Ana.")
    do_add_macro_step(macro, kind=MacroStep.Kind.SNOOZE, snooze_minutes=1440)
    do_create_macro(tenant, name="Close as spam", acting_user=owner)
    page, errors = _new_page(browser, width=width)
    sign_in(page, asgi_server, owner)
    if theme == "light":
        page.click("[data-theme-toggle]")
        expect(page.locator("html")).to_have_attribute("data-theme", "light")

    page.goto(f"{asgi_server.url}/settings/macros/")
    expect(page.locator(f"#macro-{macro.pk}")).to_contain_text("Snooze for 1 day")
    screenshot(page, f"settings-macros-{theme}-{width}.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.evaluate(CONTRAST) == []
    page.goto(f"{asgi_server.url}/settings/macros/{macro.pk}/")
    page.select_option("#step-kind", "add_note")
    expect(page.locator("#step-note")).to_be_visible()
    screenshot(page, f"settings-macro-edit-{theme}-{width}.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert (page.evaluate(CONTRAST), page.evaluate(UNLABELLED)) == ([], [])

    page.goto(f"{asgi_server.url}/inbox/c/{conversation.pk}/")
    expect(page.locator("html")).to_have_attribute("data-theme", theme)
    page.click("#action-macros")
    item = page.locator(".macro-item", has_text="Triage")
    item.locator("summary").click()
    expect(item.get_by_role("button", name="Run “Triage”")).to_be_visible()
    screenshot(page, f"inbox-macros-menu-{theme}-{width}.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert (page.evaluate(CONTRAST), page.evaluate(UNLABELLED)) == ([], [])
    item.get_by_role("button", name="Run “Triage”").click()
    expect(page.locator("#conversation-notice")).to_have_text("Macro “Triage” ran.")
    expect(page.locator("#conversation-header .status-badge")).to_contain_text(
        re.compile("Snoozed until")
    )
    screenshot(page, f"inbox-macro-ran-{theme}-{width}.png")
    assert page.evaluate(_only("#conversation-notice")) == []
    assert errors == [], errors
