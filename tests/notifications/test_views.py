"""Settings pages (rules, templates, event types), the rule and contact logs, cancelling from the
page; another tenant's rows answer 404; query counts do not grow with the rows."""

import datetime as dt
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from contacts.models import Contact
from notifications.actions import do_post_event
from notifications.models import EventType, Notification, NotificationRule, NotificationTemplate
from tests.notifications.conftest import booking

NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def client(owner, login):
    return login(owner)


def book(tenant, contact, key):
    return do_post_event(
        tenant, booking(contact, key=key, trip_date="2026-12-20", return_date="2026-12-27")
    )[0]


@time_machine.travel(NOW, tick=False)
def test_rules_page_lists_the_default_lifecycle_in_bounded_queries(
    tenant, client, contact, django_assert_max_num_queries
):
    with CaptureQueriesContext(connection) as few:
        response = client.get("/settings/notifications/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Pre-trip reminder (7 days)" in html
    assert "booking.confirmed" in html
    for i in range(15):
        book(tenant, Contact.objects.create(tenant=tenant, phone=f"+1415300{i:04d}"), f"k{i}")
    with django_assert_max_num_queries(len(few)):
        response = client.get("/settings/notifications/")
    row = re.search(
        r'<tr id="rule-\d+">\s*<td><a[^>]*>Pre-trip reminder \(1 day\).*?</tr>',
        response.content.decode(),
        re.S,
    ).group(0)
    assert "<td>15</td>" in row  # 15 scheduled


@time_machine.travel(NOW, tick=False)
def test_contact_log_and_rule_log_show_sent_and_scheduled_in_bounded_queries(
    tenant, client, contact, django_assert_max_num_queries
):
    book(tenant, contact, "k0")
    url = f"/notifications/contacts/{contact.pk}/"
    with CaptureQueriesContext(connection) as few:
        response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Pre-trip reminder (3 days)" in html and "Scheduled" in html
    for i in range(1, 8):
        book(tenant, contact, f"k{i}")  # each replaces the subject's reminders (cancelled rows)
    with django_assert_max_num_queries(len(few)):
        response = client.get(url)
    assert response.content.decode().count('<tr id="notification-') == 40

    rule = NotificationRule.objects.get(tenant=tenant, name="Pre-trip reminder (7 days)")
    with django_assert_max_num_queries(len(few) + 6):  # + the rule and its form's choices
        response = client.get(f"/settings/notifications/rules/{rule.pk}/")
    assert response.status_code == 200
    assert response.content.decode().count('<tr id="notification-') == 8


@time_machine.travel(NOW, tick=False)
def test_an_admin_cancels_a_scheduled_reminder_from_the_contact_log(tenant, client, contact):
    book(tenant, contact, "k0")
    reminder = Notification.objects.get(contact=contact, rule__name="Pre-trip reminder (1 day)")
    response = client.post(f"/notifications/{reminder.pk}/cancel/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert f'id="notification-{reminder.pk}"' in response.content.decode()
    assert "Cancelled" in response.content.decode()
    reminder.refresh_from_db()
    assert reminder.status == Notification.Status.CANCELLED
    assert "owner@acme.test" in reminder.detail
    again = client.post(f"/notifications/{reminder.pk}/cancel/", {"next": "https://evil.test/"})
    assert again.status_code == 302
    assert again["Location"] == f"/notifications/contacts/{contact.pk}/"
    reminder.refresh_from_db()
    assert reminder.status == Notification.Status.CANCELLED


def test_an_agent_sees_the_log_but_cannot_cancel_or_edit(tenant, contact, make_member, login):
    agent = login(make_member(tenant, "agent"))
    with time_machine.travel(NOW, tick=False):
        book(tenant, contact, "k0")
    reminder = Notification.objects.filter(contact=contact).first()
    page = agent.get(f"/notifications/contacts/{contact.pk}/")
    assert page.status_code == 200
    assert "/cancel/" not in page.content.decode()
    assert agent.post(f"/notifications/{reminder.pk}/cancel/").status_code == 403
    assert agent.post("/settings/notifications/", {"name": "x"}).status_code == 403


def test_another_tenants_contacts_rules_and_notifications_answer_404(
    tenant, other_tenant, contact, make_member, login
):
    with time_machine.travel(NOW, tick=False):
        book(tenant, contact, "k0")
    stranger = login(make_member(other_tenant, "owner", email="boss@globex.test"))
    reminder = Notification.objects.filter(contact=contact).first()
    rule = NotificationRule.objects.filter(tenant=tenant).first()
    template = NotificationTemplate.objects.filter(tenant=tenant).first()
    assert stranger.get(f"/notifications/contacts/{contact.pk}/").status_code == 404
    assert stranger.post(f"/notifications/{reminder.pk}/cancel/").status_code == 404
    assert stranger.get(f"/settings/notifications/rules/{rule.pk}/").status_code == 404
    assert stranger.get(f"/settings/notifications/templates/{template.pk}/").status_code == 404
    reminder.refresh_from_db()
    assert reminder.status == Notification.Status.SCHEDULED
    own = stranger.get("/settings/notifications/").content.decode()
    assert f'id="rule-{rule.pk}"' not in own


def test_creating_a_rule_validates_each_field(tenant, client):
    event_type = EventType.objects.get(tenant=tenant, key="quote.sent")
    template = NotificationTemplate.objects.get(
        tenant=tenant, key="pre_trip_reminder", language="es"
    )
    form = {
        "name": "Quote follow-up",
        "event_type": event_type.pk,
        "template": template.pk,
        "channels": "sms, fax",
        "timing": "after",
        "offset": "2",
        "unit": "days",
        "date_key": "trip_date",
        "quiet_start": "21:00",
        "quiet_end": "08:00",
        "is_active": "on",
    }
    response = client.post("/settings/notifications/", form)
    assert response.status_code == 400
    html = response.content.decode()
    assert "not “fax”" in html
    assert "“trip_date” is not among the data keys of “quote.sent”" in html
    assert "unknown variable" in html and "trip_date" in html  # the template reads trip_date

    quote_template = NotificationTemplate.objects.get(
        tenant=tenant, key="quote_expiring", language="es"
    )
    form.update(channels="sms, whatsapp", date_key="expires_at", template=quote_template.pk)
    response = client.post("/settings/notifications/", form)
    assert response.status_code == 302
    rule = NotificationRule.objects.get(tenant=tenant, name="Quote follow-up")
    assert rule.channels == ["sms", "whatsapp"]
    assert (rule.timing, rule.offset, rule.date_key) == ("after", 2, "expires_at")


def test_saving_a_template_rejects_unknown_variables_by_name(tenant, client):
    template = NotificationTemplate.objects.get(tenant=tenant, key="welcome", language="en")
    response = client.post(
        f"/settings/notifications/templates/{template.pk}/",
        {
            "name": "Welcome",
            "key": "welcome",
            "language": "en",
            "category": "transactional",
            "subject": "Hello {{firstName}}",
            "body": "Hi {{frstName}}, your trip on {{trip_date}}",
        },
    )
    assert response.status_code == 400
    assert "“frstName”" in response.content.decode()
    template.refresh_from_db()
    assert "frstName" not in template.body


@time_machine.travel(NOW, tick=False)
def test_the_tenant_log_lists_scheduled_reminders_by_default_in_bounded_queries(
    tenant, client, other_tenant, django_assert_max_num_queries
):
    book(tenant, Contact.objects.create(tenant=tenant, phone="+14153000000"), "k0")
    stranger = Contact.objects.create(tenant=other_tenant, phone="+14153000000")
    do_post_event(
        other_tenant,
        booking(stranger, key="k0", trip_date="2026-12-20", return_date="2026-12-27"),
    )
    with CaptureQueriesContext(connection) as few:
        response = client.get("/settings/notifications/log/")
    assert response.status_code == 200
    assert response.content.decode().count('<tr id="notification-') == 5
    for i in range(1, 10):
        book(tenant, Contact.objects.create(tenant=tenant, phone=f"+1415300{i:04d}"), f"k{i}")
    with django_assert_max_num_queries(len(few) + 1):  # + the page count of a longer list
        response = client.get("/settings/notifications/log/")
    html = response.content.decode()
    assert html.count('<tr id="notification-') == 50
    assert "status=scheduled" in html  # the next page keeps the filter
    theirs = Notification.objects.filter(tenant=other_tenant).values_list("pk", flat=True)
    assert not any(f'id="notification-{pk}"' in html for pk in theirs)
    sent_only = client.get("/settings/notifications/log/?status=sent").content.decode()
    assert sent_only.count('<tr id="notification-') == 0


def test_the_template_form_edits_the_html_version_and_checks_its_variables(tenant, client):
    template = NotificationTemplate.objects.get(tenant=tenant, key="welcome", language="en")
    url = f"/settings/notifications/templates/{template.pk}/"
    page = client.get(url).content.decode()
    assert 'name="body_html"' in page and escape(template.body_html) in page
    form = {
        "name": "Welcome",
        "key": "welcome",
        "language": "en",
        "category": "transactional",
        "subject": "Welcome!",
        "body": "Hi {{firstName}}, welcome!",
        "body_html": "<p>Hi {{frstName}}, <em>welcome</em>!</p>",
    }
    response = client.post(url, form)
    assert response.status_code == 400
    assert "“frstName”" in response.content.decode()
    template.refresh_from_db()
    assert "frstName" not in template.body_html

    form["body_html"] = "<p>Hi {{firstName}}, <em>welcome</em>!</p>"
    assert client.post(url, form).status_code == 302
    template.refresh_from_db()
    assert template.body_html == "<p>Hi {{firstName}}, <em>welcome</em>!</p>"
    assert template.body == "Hi {{firstName}}, welcome!"
