"""Lifecycle notifications in headless Chromium: an admin creates a rule under Settings, a host
system posts an event, and the scheduled reminder shows on the contact's notification log."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from contacts.models import Contact
from notifications.actions import do_post_event
from notifications.models import EventType, Notification, NotificationTemplate
from tests.browser.test_inbox import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.clock]


def test_an_admin_creates_a_rule_and_sees_the_scheduled_reminder_on_the_contact(
    browser, asgi_server, tenant, owner
):
    contact = Contact.objects.create(
        tenant=tenant, name="Lucía Pérez", first_name="Lucía", phone="+14155550177"
    )
    event_type = EventType.objects.get(tenant=tenant, key="quote.sent")
    template = NotificationTemplate.objects.get(tenant=tenant, key="quote_expiring", language="es")
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    sign_in(page, asgi_server, owner)

    page.goto(f"{asgi_server.url}/settings/")
    page.get_by_role("link", name="Notifications").click()
    expect(page.get_by_role("heading", name="Lifecycle notifications")).to_be_visible()
    form = page.locator("#rule-form")
    form.get_by_label("Name").fill("Quote last call")
    form.get_by_label("Event type").select_option(str(event_type.pk))
    form.get_by_label("Template").select_option(str(template.pk))
    form.get_by_label("Channels").fill("sms, whatsapp")
    form.get_by_label("When").select_option("before")
    form.get_by_label("Offset").fill("2")
    form.get_by_label("Unit").select_option("hours")
    form.get_by_label("Date key").fill("expires_at")
    form.get_by_role("button", name="Create rule").click()
    expect(page.get_by_text("Rule “Quote last call” created.")).to_be_visible()
    row = page.locator("tr", has_text="Quote last call")
    expect(row).to_contain_text("2 hours before expires_at")

    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=5)).replace(microsecond=0)
    do_post_event(
        tenant,
        {
            "type": "quote.sent",
            "contact": {"id": contact.pk},
            "data": {"quote_id": "Q-7", "expires_at": expires.isoformat()},
            "idempotency_key": "quote-7",
        },
    )
    reminder = Notification.objects.get(contact=contact, rule__name="Quote last call")

    page.goto(f"{asgi_server.url}/contacts/{contact.pk}/")
    page.get_by_role("link", name="Sent and scheduled notifications").click()
    log_row = page.locator(f"#notification-{reminder.pk}")
    expect(log_row).to_contain_text("Quote last call")
    expect(log_row).to_contain_text("Scheduled")
    expect(log_row).to_contain_text("quote_id:Q-7")

    # Cancelling swaps the row in place (htmx), after the confirmation dialog.
    page.on("dialog", lambda dialog: dialog.accept())
    log_row.get_by_role("button", name="Cancel").click()
    expect(log_row).to_contain_text("Cancelled")
    reminder.refresh_from_db()
    assert reminder.status == Notification.Status.CANCELLED
    assert errors == []
