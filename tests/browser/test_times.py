"""One clock on screen, in Chromium: a person picks their time zone, and the same instant then
reads the same on a list and on the detail it opens, whether the server wrote it or the
browser's script did. The browser runs in Tokyo on purpose: the person's zone is not the
browser's, and nothing may follow the browser's. Screenshots of the pages whose times changed
(both themes, and at 390 px) go to .data/artifacts/."""

import datetime
import re
import zoneinfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.lifecycle import do_save_campaign
from campaigns.services import do_save_template
from contacts.models import Contact
from inbox.models import Conversation, Message
from omnichannel import audit
from omnichannel.actions import do_invite_member
from omnichannel.channels import Channel
from omnichannel.models import AuditEvent, Membership, Role, UserPreference
from tests.browser.test_inbox import screenshot, sign_in
from tests.inbox.webhook_helpers import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.clock]

LOS_ANGELES = zoneinfo.ZoneInfo("America/Los_Angeles")
# 03:30 UTC: still the evening before in Los Angeles (UTC-8), midday in Tokyo (UTC+9).
INSTANT = datetime.datetime(2026, 12, 5, 3, 30, tzinfo=datetime.UTC)


def new_page(browser, *, width: int = 1280):
    context = browser.new_context(
        viewport={"width": width, "height": 800}, timezone_id="Asia/Tokyo", locale="en-US"
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    return page, errors


def choose_zone(page, asgi_server, zone: str) -> None:
    page.goto(f"{asgi_server.url}/inbox/")
    page.locator(".user-link").click()
    expect(page).to_have_url(f"{asgi_server.url}/preferences/")
    page.select_option("#id_timezone", zone)
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Saved your preferences.")
    expect(page.locator("#zone-now")).to_contain_text(f"Times are shown in {zone}")


def test_the_same_instant_reads_the_same_on_the_list_and_the_detail(
    browser, asgi_server, tenant, owner, twilio_inbox
):
    # The tenant is in UTC; the person chooses Los Angeles.
    contact = Contact.objects.create(tenant=tenant, name="Ana García", created_at=INSTANT)
    # A conversation last active ten days ago at 03:30 UTC: old enough for its list row to
    # show a date, which the inbox's script rewrites on the page.
    inbox = twilio_inbox(tenant, kind=Channel.SMS)
    message = receive(inbox, "+14155550111", "Is the table still free?", "Luis")
    today = timezone.now().astimezone(datetime.UTC).date()
    old = datetime.datetime.combine(
        today - datetime.timedelta(days=10), datetime.time(3, 30), tzinfo=datetime.UTC
    )
    Message.objects.filter(pk=message.pk).update(created_at=old)
    Conversation.objects.filter(pk=message.conversation_id).update(last_message_at=old)

    page, errors = new_page(browser)
    sign_in(page, asgi_server, owner)
    choose_zone(page, asgi_server, "America/Los_Angeles")

    # The contacts list and the contact's page: 4 Dec, not UTC's (or Tokyo's) 5 Dec.
    page.goto(f"{asgi_server.url}/contacts/")
    listed = page.locator(f"#contact-{contact.pk} time")
    expect(listed).to_have_text("4 Dec 2026")
    listed_text, listed_title = listed.inner_text(), listed.get_attribute("title")
    assert "7:30 p.m." in listed_title and "America/Los_Angeles (PST)" in listed_title
    page.locator(f"#contact-{contact.pk} a").first.click()
    expect(page).to_have_url(re.compile(rf"/contacts/{contact.pk}/$"))
    expect(page.locator("main")).to_contain_text(f"added {listed_text}")
    added = page.locator("#contact-header time").first
    expect(added).to_have_text(listed_text)
    expect(added).to_have_attribute("title", listed_title)

    # The inbox: the row's date (written by the script) and the thread (by the server).
    local = old.astimezone(LOS_ANGELES)
    row_day = f"{local.day} {local:%b}" + ("" if local.year == today.year else f" {local.year}")
    page.goto(f"{asgi_server.url}/inbox/")
    row_time = page.locator(f"#conv-{message.conversation_id} time.conv-time")
    expect(row_time).to_have_text(row_day)
    page.locator(f"#conv-{message.conversation_id} [data-row-link]").click()
    thread = page.locator("#thread")
    expect(thread.locator(".day-separator").first).to_contain_text(
        f"{local.day} {local:%B} {local.year}"
    )
    expect(thread.locator(f"#msg-{message.pk} time")).to_have_text(f"{local:%H:%M}")
    assert not errors, errors


def test_pages_with_times_name_the_zone_in_both_themes_and_on_a_phone(
    browser, asgi_server, tenant, owner, twilio_inbox
):
    UserPreference.objects.update_or_create(
        user=owner, defaults={"timezone": "America/Los_Angeles"}
    )
    with_times = datetime.datetime(2026, 12, 5, 3, 30, tzinfo=datetime.UTC)
    event = audit.record(AuditEvent.Action.TENANT_SETTINGS_CHANGED, tenant=tenant, actor=owner)
    AuditEvent.objects.filter(pk=event.pk).update(created_at=with_times)
    Contact.objects.create(tenant=tenant, name="Ana García", created_at=with_times)
    template = do_save_template(
        tenant, name="Welcome", channel=Channel.SMS, body="Hi {{firstName}}!"
    )
    campaign = do_save_campaign(
        tenant,
        {
            "name": "Winter sale",
            "inbox": twilio_inbox(tenant, kind=Channel.SMS).pk,
            "template": template.pk,
            "scheduled_at": "2031-12-24T09:30:00+00:00",
        },
    )
    acting = Membership.objects.get(tenant=tenant, user=owner)
    agent = Role.objects.get(tenant=tenant, builtin="agent")
    _, token = do_invite_member(tenant, email="new@example.test", role=agent, acting=acting)

    pages = {
        "preferences": "/preferences/",
        "audit": "/settings/audit/",
        "members": "/settings/members/",
        "contacts": "/contacts/",
        "import": "/contacts/import/",
        "templates": "/campaigns/templates/",
        "campaigns": "/campaigns/",
        "campaign": f"/campaigns/{campaign.pk}/",
        "builder": "/campaigns/new/",
    }
    for width, suffix in ((1280, ""), (390, "-390")):
        page, errors = new_page(browser, width=width)
        sign_in(page, asgi_server, owner)
        for theme in ("dark", "light"):
            UserPreference.objects.filter(user=owner).update(theme=theme)
            for name, path in pages.items():
                page.goto(f"{asgi_server.url}{path}")
                expect(page.locator("html")).to_have_attribute("data-theme", theme)
                if name != "preferences":
                    expect(page.locator("main")).to_contain_text("America/Los_Angeles")
                if name == "audit":
                    expect(page.locator("main")).to_contain_text("2026-12-04 19:30:00")
                screenshot(page, f"times-{name}-{theme}{suffix}.png")
        page.context.close()
        assert not errors, errors

        # The invitee is not signed in: the expiry reads in the tenant's zone, named.
        page, errors = new_page(browser, width=width)
        page.goto(f"{asgi_server.url}/invitations/{token}/")
        expect(page.locator("#invitation-expiry")).to_contain_text("UTC")
        screenshot(page, f"times-invitation{suffix}.png")
        page.context.close()
