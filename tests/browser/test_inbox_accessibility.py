"""Accessibility of the inbox in Chromium: text contrast (WCAG AA) in both themes, labelled
controls, and the composer's extras (emoji, reply channel) by keyboard alone."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from inbox.models import Conversation, Message
from omnichannel.channels import Channel
from omnichannel.models import UserPreference
from tests.browser.test_inbox import sign_in
from tests.inbox.api_factories import make_message
from tests.inbox.test_views_attachments import PNG
from tests.inbox.webhook_helpers import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CLOCK_INDEPENDENT = "a snooze two days ahead reads the same colours whatever the hour"

# Every visible element with its own text: its colour against the first opaque background
# behind it. Large text (24px, or 18.66px bold) needs 3:1, the rest 4.5:1.
CONTRAST = """
() => {
  // rgb(…) in 0 to 255; color-mix() computes to color(srgb …) in 0 to 1.
  const parse = (c) => {
    const n = (c.match(/[\\d.]+/g) || []).map(Number);
    return c.startsWith("color(srgb") ? n.map((v, i) => (i < 3 ? v * 255 : v)) : n;
  };
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const c = parse(getComputedStyle(node).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c.slice(0, 3);
    }
    return parse(getComputedStyle(document.body).backgroundColor).slice(0, 3);
  };
  const failures = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    const skipped = "[hidden], .visually-hidden, dialog:not([open])";
    if (style.visibility === "hidden" || el.closest(skipped)) continue;
    const fg = parse(style.color).slice(0, 3);
    const [a, b] = [lum(fg), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      const text = el.textContent.trim().slice(0, 30);
      failures.push(`${el.tagName.toLowerCase()}.${el.className} “${text}” ${ratio.toFixed(2)}`);
    }
  }
  return failures;
}
"""

UNLABELLED = """
() => Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea, button"))
  .filter((el) => el.getClientRects().length || el.closest("details"))
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label")
    && !(el.tagName === "BUTTON" && el.textContent.trim()))
  .map((el) => el.outerHTML.slice(0, 80))
"""


@pytest.fixture
def conversation(tenant, twilio_inbox):
    inbox = twilio_inbox(tenant, kind=Channel.SMS)
    twilio_inbox(tenant, kind=Channel.WHATSAPP, name="WhatsApp desk")
    receive(inbox, "+14155550111", "Do you have a table for four tonight?", "Ana García")
    return Conversation.objects.get()


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_text_meets_wcag_aa_contrast_and_controls_are_labelled(
    browser, asgi_server, owner, conversation, theme
):
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(10_000)
    sign_in(page, asgi_server, owner)
    if theme == "light":
        page.click("[data-theme-toggle]")
        expect(page.locator("html")).to_have_attribute("data-theme", "light")
    page.click(f"#conv-{conversation.pk} a")
    expect(page.locator("#thread")).to_contain_text("table for four")
    page.locator(".emoji-menu summary").click()  # the open menus count too
    page.locator(".assign-menu summary").click()
    failures = page.evaluate(CONTRAST)
    assert failures == [], failures
    assert page.evaluate(UNLABELLED) == []
    page.context.close()


def test_the_composer_extras_work_from_the_keyboard(browser, asgi_server, owner, conversation):
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(10_000)
    sign_in(page, asgi_server, owner)
    page.click(f"#conv-{conversation.pk} a")
    expect(page.locator("#thread")).to_contain_text("table for four")
    page.keyboard.press("r")
    page.keyboard.type("See you at 8 ")
    # Tab to the emoji menu, open it, pick one: it lands at the caret, the focus goes back.
    summary = page.locator(".emoji-menu summary")
    summary.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".emoji-grid")).to_be_visible()
    page.locator('[data-emoji="👍"]').focus()
    page.keyboard.press("Enter")
    expect(page.locator("#composer-body")).to_have_value("See you at 8 👍")
    expect(page.locator("#composer-body")).to_be_focused()
    expect(page.locator(".emoji-grid")).to_be_hidden()
    # Escape closes the menu without picking.
    summary.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    expect(page.locator(".emoji-grid")).to_be_hidden()
    # The reply channel is a labelled select listing the contact's other channel.
    expect(page.get_by_label("Reply by")).to_contain_text("WhatsApp · WhatsApp desk")

    # A file goes with the reply (Enter sends) and shows in the thread.
    page.get_by_label("Attach files").set_input_files(
        files=[{"name": "map.png", "mimeType": "image/png", "buffer": PNG}]
    )
    expect(page.locator("[data-attach-names]")).to_have_text("map.png")
    page.locator("#composer-body").focus()
    page.keyboard.press("Enter")
    reply = page.locator("#thread .msg-out").last
    expect(reply).to_contain_text("See you at 8 👍")
    expect(reply.locator("img[alt='map.png']")).to_be_visible()
    expect(page.locator("[data-attach-names]")).to_have_text("")
    page.context.close()


@pytest.mark.parametrize("theme", ["dark", "light"])
@pytest.mark.parametrize("kind", [Channel.SMS, Channel.WHATSAPP])
def test_outbound_bubbles_notes_and_the_snoozed_badge_meet_wcag_aa_contrast(
    browser, asgi_server, owner, tenant, twilio_inbox, theme, kind
):
    """The bubbles the agent writes (sent, read, failed), a note, and a snoozed header: the
    greys of their times and ticks sit on tinted backgrounds, not the page's."""
    inbox = twilio_inbox(tenant, kind=kind)
    receive(inbox, "+14155550111", "Do you have a table for four tonight?", "Ana García")
    conversation = Conversation.objects.get()
    make_message(conversation, body="Yes, at eight.", status=Message.Status.SENT)
    make_message(conversation, body="See you then.", status=Message.Status.READ)
    make_message(conversation, body="This one failed.", status=Message.Status.FAILED)
    make_message(conversation, body="Regular, likes the window.", is_private=True)
    Conversation.objects.filter(pk=conversation.pk).update(
        status=Conversation.Status.SNOOZED, snoozed_until=timezone.now() + timedelta(days=2)
    )
    UserPreference.objects.update_or_create(user=owner, defaults={"theme": theme})

    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(10_000)
    sign_in(page, asgi_server, owner)
    page.goto(f"{asgi_server.url}/inbox/c/{conversation.pk}/")
    expect(page.locator("#thread")).to_contain_text("This one failed.")
    expect(page.locator(".status-badge")).to_contain_text("until")
    page.wait_for_timeout(500)  # bubbles fade in
    failures = page.evaluate(CONTRAST)
    assert failures == [], failures
    page.context.close()
