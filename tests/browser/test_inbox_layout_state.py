"""Inbox layout and state faults a newcomer met (issue 16): Back/Forward, the Assign popover
on a phone, and closed or snoozed rows leaving the Open list live."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from inbox.actions.conversations import do_update_conversation
from inbox.models import Conversation
from omnichannel.channels import Channel
from tests.browser.test_inbox import screenshot, sign_in
from tests.browser.test_inbox_realtime import assert_not_reloaded, inbound, mark_loaded, new_page
from tests.inbox.webhook_helpers import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CLOCK_INDEPENDENT = "snoozes a day ahead of whatever the clock says; no outcome reads the hour"


def page_errors(page) -> list[str]:
    """Console errors and uncaught exceptions of ``page`` from now on."""
    errors: list[str] = []
    page.on(
        "console", lambda m: m.type == "error" and errors.append(f"{m.text} at {m.location['url']}")
    )
    page.on("pageerror", lambda exc: errors.append(f"{exc.name}: {exc.message}"))
    return errors


@pytest.fixture
def three(tenant, twilio_inbox) -> list[Conversation]:
    """Ana's, Luis's and Mia's open conversations (Mia's is the newest)."""
    inbox = twilio_inbox(tenant, kind=Channel.SMS)
    receive(inbox, "+14155550111", "Do you have a table for four tonight?", "Ana García")
    receive(inbox, "+14155550122", "¿Abren el domingo?", "Luis")
    receive(inbox, "+14155550133", "Running 10 minutes late", "Mia")
    return list(Conversation.objects.order_by("last_message_at", "id"))


def test_back_and_forward_between_conversations_throw_nothing(browser, asgi_server, owner, three):
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(10_000)
    errors = page_errors(page)
    sign_in(page, asgi_server, owner)
    mark_loaded(page)
    first, second = three[0], three[1]
    page.click(f"#conv-{first.pk} a")
    expect(page.locator("#detail .detail")).to_have_attribute("data-conversation-id", str(first.pk))
    page.click(f"#conv-{second.pk} a")
    expect(page.locator("#detail .detail")).to_have_attribute(
        "data-conversation-id", str(second.pk)
    )

    page.go_back()
    expect(page).to_have_url(re.compile(rf"/inbox/c/{first.pk}/"))
    expect(page.locator("#detail .detail")).to_have_attribute("data-conversation-id", str(first.pk))
    page.go_back()
    expect(page).to_have_url(re.compile(r"/inbox/$"))
    page.go_forward()
    expect(page.locator("#detail .detail")).to_have_attribute("data-conversation-id", str(first.pk))
    page.go_forward()
    expect(page.locator("#detail .detail")).to_have_attribute(
        "data-conversation-id", str(second.pk)
    )
    # The restored page is still live (same socket, no reload) and still works.
    inbound(asgi_server, second.inbox, second.contact.phone, "¿Y el lunes?")
    expect(page.locator("#thread .msg-in").last).to_contain_text("¿Y el lunes?")
    page.click(f"#conv-{three[2].pk} a")
    expect(page.locator("#thread")).to_contain_text("Running 10 minutes late")
    page.wait_for_timeout(300)  # errors of the last swap's later steps
    assert_not_reloaded(page)
    assert errors == [], errors
    page.context.close()


def test_the_assign_popover_stays_on_a_phone_screen(browser, asgi_server, owner, three):
    page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    page.set_default_timeout(10_000)
    sign_in(page, asgi_server, owner)
    page.goto(f"{asgi_server.url}/inbox/c/{three[0].pk}/")
    for menu in (".assign-menu", ".snooze-menu", ".delete-menu"):
        page.click(f"{menu} > summary")
        box = page.locator(f"{menu}[open] > form").bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (menu, box)
        page.click(f"{menu} > summary")
    page.click(".assign-menu > summary")
    screenshot(page, "inbox-phone-assign-popover.png")
    page.context.close()


def test_closed_and_snoozed_rows_leave_the_open_list_live(
    browser, asgi_server, owner, make_member, three
):
    ana, luis, mia = three
    colleague = make_member(ana.tenant, "supervisor", email="colleague@acme.test")
    page = new_page(browser)
    sign_in(page, asgi_server, owner)
    mark_loaded(page)
    rows = page.locator("#conversation-list > li.conv-row")
    expect(rows).to_have_count(3)

    # Another agent closes Ana's conversation and snoozes Luis's.
    do_update_conversation(ana, status=Conversation.Status.CLOSED, acting_user=colleague)
    expect(page.locator(f"#conv-{ana.pk}")).to_have_count(0)
    do_update_conversation(
        luis, snoozed_until=timezone.now() + timedelta(days=1), acting_user=colleague
    )
    expect(page.locator(f"#conv-{luis.pk}")).to_have_count(0)

    # This agent closes the conversation they are looking at: the row leaves at once.
    page.click(f"#conv-{mia.pk} a")
    expect(page.locator("#thread")).to_contain_text("Running 10 minutes late")
    page.click("#action-close")
    expect(page.locator("#conversation-header .status-badge")).to_have_text("Closed")
    expect(page.locator(f"#conv-{mia.pk}")).to_have_count(0)
    expect(page.locator(".list-empty")).to_have_count(0)
    assert_not_reloaded(page)
    assert page.errors == [], page.errors
    page.context.close()
