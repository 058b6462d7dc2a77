"""The inbox composer in headless Chromium: the SMS counter follows the typing and says what the
template editor's counter says for the same text; a link in a bubble opens in a new tab."""

import pytest
from playwright.sync_api import expect

from campaigns.services import do_save_template
from inbox.models import Conversation
from omnichannel.channels import Channel
from omnichannel.segments import segment_info
from tests.browser.test_inbox import screenshot, sign_in
from tests.inbox.webhook_helpers import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXTS = ["Hola, ¿qué tal? Su mesa está lista", "Hola 🎉 amigo", "{x} € " + "a" * 150]
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def new_page(browser, *, width: int = 1280):
    page = browser.new_context(viewport={"width": width, "height": 844}).new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    return page, errors


def real(errors: list[str]) -> list[str]:
    """The console errors but htmx's report of a request it aborted (logged as an error pair,
    afterRequest then sendAbort): sending swaps the composer out, and a counter request still
    in flight under load is dropped with it, which the agent never notices."""
    kept: list[str] = []
    for text in errors:
        if (
            text.startswith("htmx:sendAbort,")
            and kept
            and kept[-1].startswith("htmx:afterRequest,")
        ):
            kept.pop()
        else:
            kept.append(text)
    return kept


def words(locator) -> str:
    return " ".join(locator.inner_text().split())


def test_the_sms_counter_matches_the_template_editors(
    browser, asgi_server, tenant, owner, twilio_inbox
):
    receive(
        twilio_inbox(tenant, kind=Channel.SMS), "+14155550111", "Mi pedido: https://example.com/p/1"
    )
    conversation = Conversation.objects.get()
    template = do_save_template(tenant, name="Prueba", channel="sms", body="x")
    page, errors = new_page(browser)
    sign_in(page, asgi_server, owner)

    editor_says = []
    page.goto(f"{asgi_server.url}/campaigns/templates/{template.pk}/")
    for text in TEXTS:
        page.locator("#id_body").fill("")
        page.locator("#id_body").press_sequentially(text)
        counter = page.locator("#segment-counter")
        # Settled: the counter has caught up with the whole text.
        expect(counter).to_contain_text(f"{segment_info(text).units} characters")
        editor_says.append(words(counter))

    page.goto(f"{asgi_server.url}/inbox/c/{conversation.pk}/")
    counter = page.locator("#sms-counter")
    expect(counter).to_contain_text("0 segments")
    body = page.locator("#composer-body")
    for text, expected in zip(TEXTS, editor_says, strict=True):
        body.fill("")
        body.press_sequentially(text)
        expect(counter).to_have_text(expected, use_inner_text=True)

    # A private note is no SMS; a file makes the reply an MMS; sending starts again at 0.
    page.get_by_label("Private note").check()
    expect(counter).to_be_hidden()
    page.get_by_label("Reply", exact=True).check()
    expect(counter).to_be_visible()
    page.get_by_label("Attach files").set_input_files(
        files=[{"name": "map.png", "mimeType": "image/png", "buffer": PNG}]
    )
    expect(counter).to_contain_text("MMS")
    body.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#thread .msg-out").last).to_contain_text("a" * 150)
    expect(counter).to_contain_text("0 segments")

    # The customer's link opens in a new tab, telling the site nothing.
    link = page.locator("#thread .msg-in a[href='https://example.com/p/1']")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    assert real(errors) == [], errors


@pytest.mark.parametrize(("theme", "width"), [("dark", 1280), ("light", 1280), ("dark", 390)])
def test_screenshots_of_the_composer_counter(
    browser, asgi_server, tenant, owner, twilio_inbox, theme, width
):
    receive(twilio_inbox(tenant, kind=Channel.SMS), "+14155550111", "Menu? https://example.com/m")
    conversation = Conversation.objects.get()
    page, errors = new_page(browser, width=width)
    sign_in(page, asgi_server, owner)
    if theme == "light":
        page.click("[data-theme-toggle]")
        expect(page.locator("html")).to_have_attribute("data-theme", "light")
    page.goto(f"{asgi_server.url}/inbox/c/{conversation.pk}/")
    page.locator("#composer-body").press_sequentially("Aquí está 🎉")
    expect(page.locator("#sms-counter")).to_contain_text("UCS-2")
    screenshot(page, f"inbox-composer-counter-{theme}-{width}.png")
    assert real(errors) == [], errors
