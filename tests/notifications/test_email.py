"""Notifications by email: the fallback reaches an address when no phone channel can, the
subject is rendered, and marketing mail carries a one-click unsubscribe that really opts out."""

import datetime as dt
from urllib.parse import urlparse

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils.html import escape

from contacts.models import Consent, Contact
from inbox.actions.send import attempt_delivery
from inbox.models import Delivery, Message
from notifications.actions import do_post_event
from notifications.models import Notification
from notifications.sending import sweep_due_notifications
from omnichannel.channels import Channel
from tests.inbox.conftest import make_email_inbox
from tests.notifications.conftest import booking

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
S = Notification.Status


@pytest.fixture
def email_inbox(tenant):
    return make_email_inbox(tenant, address="viajes@acme.test")


@pytest.fixture
def traveller(tenant):
    """Reachable by email only: WhatsApp and SMS have nothing to send to."""
    return Contact.objects.create(
        tenant=tenant, first_name="Ana", name="Ana García", email="ana@example.com", timezone="UTC"
    )


def delivered(notification: Notification) -> mail.EmailMessage:
    """Hand the notification's message to the ESP (anymail's test backend) and return it."""
    mail.outbox.clear()
    attempt_delivery(Delivery.objects.get(message=notification.message).pk)
    [sent] = mail.outbox
    return sent


@time_machine.travel(NOW, tick=False)
def test_a_contact_without_a_phone_gets_the_confirmation_by_email(
    tenant, traveller, sms_inbox, email_inbox
):
    do_post_event(tenant, booking(traveller, trip_date="2026-12-20", return_date="2026-12-27"))
    assert sweep_due_notifications() == {"sent": 1}

    confirmation = Notification.objects.get(contact=traveller, rule__name="Booking confirmation")
    assert (confirmation.status, confirmation.channel) == (S.SENT, Channel.EMAIL)
    assert "SMS" in confirmation.detail and "no phone" in confirmation.detail
    message = confirmation.message
    assert (message.inbox_id, message.conversation.contact_id) == (email_inbox.pk, traveller.pk)
    assert message.sender_type == Message.SenderType.SYSTEM

    sent = delivered(confirmation)
    assert sent.to == ["ana@example.com"]
    assert "B-100" in sent.subject
    assert sent.body.startswith("Hola Ana")
    assert "List-Unsubscribe" not in sent.extra_headers  # transactional


def test_marketing_email_carries_a_one_click_unsubscribe_that_opts_out(
    tenant, traveller, email_inbox
):
    with time_machine.travel(NOW, tick=False):
        do_post_event(tenant, booking(traveller, trip_date="2026-12-03", return_date="2026-12-05"))
        sweep_due_notifications()
    with time_machine.travel(dt.datetime(2026, 12, 7, 15, tzinfo=UTC), tick=False):
        # The survey; and the day-before reminder nobody swept in time is not sent after the trip.
        assert sweep_due_notifications() == {"sent": 1, "skipped": 1}
    reminder = Notification.objects.get(contact=traveller, rule__name="Pre-trip reminder (1 day)")
    assert reminder.status == S.SKIPPED and "trip_date had passed" in reminder.detail
    survey = Notification.objects.get(contact=traveller, rule__name="Post-trip survey")
    assert (survey.status, survey.channel) == (S.SENT, Channel.EMAIL)

    sent = delivered(survey)
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = sent.extra_headers["List-Unsubscribe"].strip("<>")
    assert link in sent.body
    [(html, _)] = sent.alternatives
    assert f'<a href="{escape(link)}">Darse de baja</a>' in html  # the HTML part has it too

    # The mail client's one-click POST, with no cookie and no CSRF token.
    response = Client(enforce_csrf_checks=True).post(
        urlparse(link).path, {"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    consent = Consent.objects.get(contact=traveller)
    assert (consent.channel, consent.sender, consent.status, consent.source) == (
        Channel.EMAIL,
        "viajes@acme.test",
        Consent.Status.OPTED_OUT,
        Consent.Source.UNSUBSCRIBE_LINK,
    )

    # The next trip's survey finds the address opted out and nothing else to reach her by.
    with time_machine.travel(dt.datetime(2026, 12, 8, 15, tzinfo=UTC), tick=False):
        do_post_event(
            tenant,
            booking(
                traveller,
                key="evt-2",
                booking_id="B-200",
                trip_date="2026-12-10",
                return_date="2026-12-12",
            ),
        )
        sweep_due_notifications()
    with time_machine.travel(dt.datetime(2026, 12, 14, 15, tzinfo=UTC), tick=False):
        sweep_due_notifications()
    second = Notification.objects.get(
        contact=traveller, rule__name="Post-trip survey", event__data__booking_id="B-200"
    )
    assert second.status == S.FAILED
    assert "opted out" in second.detail


@pytest.fixture
def smtp_inbox(tenant, smtp_server):
    inbox = make_email_inbox(
        tenant, address="viajes@acme.test", esp="smtp", host="127.0.0.1", port=smtp_server.port
    )
    inbox.settings.update(
        brand_color="#0f766e",
        logo_url="https://cdn.acme.test/logo.png",
        from_name="Viajes Acme",
        email_footer="Viajes Acme · Calle Sol 1, Cancún",
    )
    inbox.save()
    return inbox


@time_machine.travel(NOW, tick=False)
def test_an_email_notification_sends_the_templates_html_in_the_inbox_branding_escaped(
    tenant, smtp_inbox, smtp_server
):
    traveller = Contact.objects.create(
        tenant=tenant, first_name="Ana <b>", email="ana@example.com", timezone="UTC"
    )
    evil = 'Cancún & <img src=x onerror="alert(1)">'
    do_post_event(
        tenant,
        booking(traveller, destination=evil, trip_date="2026-12-20", return_date="2026-12-27"),
    )
    assert sweep_due_notifications() == {"sent": 1}
    confirmation = Notification.objects.get(contact=traveller, rule__name="Booking confirmation")
    assert confirmation.channel == Channel.EMAIL
    message = confirmation.message
    assert "<strong>B-100</strong>" in message.body_html
    assert "Cancún &amp; &lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in message.body_html
    assert "<img" not in message.body_html and "<b>" not in message.body_html

    attempt_delivery(Delivery.objects.get(message=message).pk)
    [received] = smtp_server.messages
    email = received.message
    assert email["Subject"] == "Tu reserva B-100 está confirmada"
    assert "Viajes Acme" in email["From"]
    text = email.get_body(("plain",)).get_content()
    assert text.startswith(f"Hola Ana <b>, tu reserva B-100 a {evil} está confirmada.")
    html = email.get_body(("html",)).get_content()
    # The template's HTML inside the inbox's wrapper: colour, logo, footer.
    assert "#0f766e" in html and "https://cdn.acme.test/logo.png" in html
    assert "Calle Sol 1" in html
    assert "<p>Hola Ana &lt;b&gt;:</p>" in html
    assert "Salida: <strong>2026-12-20</strong>" in html
    assert "<img src=x" not in html and 'onerror="' not in html
