"""Agent notifications in headless Chromium against the real ASGI server: an @mention in a
private note reaches the colleague live (the bell) and, while their tab is hidden, as a browser
notification; the bell's panel and the preferences page in both themes and at 390 px.

The browser boundary is emulated, not our code: the page's visibility (``document.hidden``)
is a switch the test flips, and ``window.Notification`` is wrapped to record what the page
shows (Chromium is granted the permission, as the member would grant it).
"""

import re

import pytest
from playwright.sync_api import expect

from inbox.models import Conversation
from omnichannel.agent_notifications import do_notify
from omnichannel.channels import Channel
from tests.browser.test_inbox import screenshot, sign_in
from tests.browser.test_inbox_realtime import mark_loaded, new_page
from tests.inbox.webhook_helpers import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HIDDEN_SWITCH_AND_RECORDED_NOTIFICATIONS = """
window.__hidden = false;
Object.defineProperty(Document.prototype, "hidden", {
  configurable: true, get() { return window.__hidden; },
});
Object.defineProperty(Document.prototype, "visibilityState", {
  configurable: true, get() { return window.__hidden ? "hidden" : "visible"; },
});
window.__notifications = [];
const RealNotification = window.Notification;
class RecordedNotification extends RealNotification {
  constructor(title, options) {
    window.__notifications.push({ title, body: (options || {}).body, tag: (options || {}).tag });
    super(title, options);
  }
}
Object.defineProperty(RecordedNotification, "permission", {
  get: () => RealNotification.permission,
});
RecordedNotification.requestPermission = (...args) => RealNotification.requestPermission(...args);
window.Notification = RecordedNotification;
"""


@pytest.fixture
def table(tenant, twilio_inbox) -> Conversation:
    inbox = twilio_inbox(tenant, kind=Channel.SMS)
    receive(inbox, "+14155550111", "Do you have a table for four tonight?", "Ana García")
    return Conversation.objects.get(contact__phone="+14155550111")


@pytest.fixture
def luis(tenant, make_member):
    user = make_member(tenant, "agent", email="luis@acme.test")
    user.first_name, user.last_name = "Luis", "Pérez"
    user.save()
    return user


def test_a_mention_notifies_a_colleague_live_and_by_browser_notification(
    browser, asgi_server, tenant, owner, luis, table
):
    owner.first_name = "Marta"
    owner.save()
    luis_page = new_page(browser)
    luis_page.context.grant_permissions(["notifications"], origin=asgi_server.url)
    luis_page.context.add_init_script(HIDDEN_SWITCH_AND_RECORDED_NOTIFICATIONS)
    sign_in(luis_page, asgi_server, luis)
    mark_loaded(luis_page)
    expect(luis_page.locator("#notify-count")).to_be_hidden()

    marta_page = new_page(browser)
    sign_in(marta_page, asgi_server, owner)
    marta_page.click(f"#conv-{table.pk} a")
    expect(marta_page.locator("#thread")).to_contain_text("table for four")
    mark_loaded(marta_page)

    # Luis switches to another tab; Marta mentions him in a note, with the keyboard alone.
    luis_page.evaluate("window.__hidden = true")
    marta_page.check("input[name='mode'][value='note']")
    marta_page.click("#composer-body")
    marta_page.keyboard.type("@Lu")
    option = marta_page.locator("#mention-suggestions [role='option']")
    expect(option).to_have_text("Luis Pérez luis@acme.test")
    expect(marta_page.locator("#composer-body")).to_have_attribute(
        "aria-activedescendant", f"mention-option-{luis.pk}"
    )
    screenshot(marta_page, "note-mention-suggestions-dark-desktop.png")
    marta_page.keyboard.press("Enter")  # picks Luis (does not send)
    expect(marta_page.locator("#composer-body")).to_have_value("@Luis Pérez ")
    marta_page.keyboard.type("can you call her back?")
    marta_page.keyboard.press("Enter")
    note = marta_page.locator("#thread .msg-note").last
    expect(note.locator("mark.mention")).to_have_text("@Luis Pérez")
    expect(note).to_contain_text("can you call her back?")
    screenshot(marta_page, "note-mention-highlighted-dark-desktop.png")

    # Live: Luis's bell counts it, and his hidden tab showed a browser notification.
    expect(luis_page.locator("#notify-count")).to_have_text("1 unread notifications")
    luis_page.wait_for_function("window.__notifications.length === 1")
    [shown] = luis_page.evaluate("window.__notifications")
    assert shown["title"] == "Marta mentioned you · Ana García"
    assert shown["body"] == "@Luis Pérez can you call her back?"

    # Back on the tab, a second mention updates the bell only (no system notification).
    luis_page.evaluate("window.__hidden = false")
    marta_page.keyboard.type("@Luis")
    expect(option).to_have_count(1)
    marta_page.keyboard.press("Tab")
    marta_page.keyboard.type("and the table?")
    marta_page.keyboard.press("Enter")
    expect(luis_page.locator("#notify-count")).to_have_text("2 unread notifications")
    assert luis_page.evaluate("window.__notifications.length") == 1

    # The panel lists both; opening one goes to the note and reads it.
    luis_page.click(".notify-bell summary")
    expect(luis_page.locator(".notify-panel [data-notify-permission]")).to_be_hidden()  # granted
    items = luis_page.locator("#notify-list .notify-item")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text("Marta mentioned you · Ana García")
    expect(items.first).to_contain_text("@Luis Pérez and the table?")
    screenshot(luis_page, "notifications-panel-dark-desktop.png")
    items.last.locator("button").click()
    luis_page.wait_for_url(re.compile(rf"/inbox/c/{table.pk}/#msg-\d+$"))
    expect(luis_page.locator("#thread")).to_contain_text("can you call her back?")
    # Both were about this conversation: seen now.
    expect(luis_page.locator("#notify-count")).to_be_hidden()
    luis_page.click(".notify-bell summary")
    expect(luis_page.locator("#notify-list .notify-item")).to_have_count(2)
    expect(luis_page.locator("#notify-list .notify-item.unread")).to_have_count(0)
    assert luis_page.errors == [], luis_page.errors
    assert marta_page.errors == [], marta_page.errors


@pytest.mark.parametrize(
    ("theme", "width", "height"), [("dark", 1280, 800), ("light", 1280, 800), ("light", 390, 844)]
)
def test_the_bell_panel_and_preferences_in_both_themes_and_on_a_phone(
    browser, asgi_server, tenant, owner, luis, table, theme, width, height
):
    for n, text in enumerate(["Can you take this one?", "Ana García replied"]):
        do_notify(
            tenant,
            kind="inbox.mentioned",
            recipients=[luis],
            event_key=f"message:{n}",
            title=f"{owner.email} mentioned you · Ana García",
            text=text,
            url=f"/inbox/c/{table.pk}/",
            actor=owner,
        )
    page = new_page(browser, width=width, height=height)
    sign_in(page, asgi_server, luis)
    if theme == "light":
        page.click("[data-theme-toggle]")
        expect(page.locator("html")).to_have_attribute("data-theme", "light")
    page.click(".notify-bell summary")
    expect(page.locator("#notify-list .notify-item")).to_have_count(2)
    # Not granted yet: the panel offers to ask (from this click, never on page load).
    expect(page.locator(".notify-panel [data-notify-permission]")).to_be_visible()
    screenshot(page, f"notifications-panel-{theme}-{width}.png")

    page.goto(f"{asgi_server.url}/me/notifications/")
    expect(page.locator(".notify-page .notify-item")).to_have_count(2)
    screenshot(page, f"notifications-page-{theme}-{width}.png")
    page.click(".notify-page .notify-read-all button")
    expect(page.locator(".notify-page .notify-item.unread")).to_have_count(0)
    expect(page.locator("#notify-count")).to_be_hidden()

    page.goto(f"{asgi_server.url}/me/notifications/preferences/")
    expect(page.locator("h1")).to_have_text("Notification preferences")
    page.select_option("#digest", "daily")
    page.uncheck("input[name='inbox.reply.in_app']")
    screenshot(page, f"notification-preferences-{theme}-{width}.png")
    page.click("form.notify-prefs button[type='submit']")
    expect(page.locator(".messages")).to_contain_text("Notification preferences saved.")
    expect(page.locator("#digest")).to_have_value("daily")
    expect(page.locator("input[name='inbox.reply.in_app']")).not_to_be_checked()
    assert page.errors == [], page.errors
