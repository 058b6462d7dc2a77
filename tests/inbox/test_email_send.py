"""Sending email: do_send_message for email inboxes, through a real SMTP server on 127.0.0.1,
anymail's own test backend, and anymail's REAL Postmark backend against a fake Postmark."""

import pytest
from django.core import mail
from django.core.files.base import ContentFile

from contacts.actions import is_opted_out
from contacts.models import Contact, ContactEmail
from inbox.actions.send import do_send_message
from inbox.models import Attachment, Conversation, Message
from inbox.tasks.delivery import deliver_message_task
from omnichannel.actions import ActionError
from tests.inbox.conftest import make_email_inbox

pytestmark = pytest.mark.django_db


def deliver(message):
    delivery = message.deliveries.get()
    deliver_message_task.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    return delivery


def test_it_sends_html_text_attachment_and_threading_headers_over_smtp(tenant, smtp_server):
    inbox = make_email_inbox(
        tenant, esp="smtp", host="127.0.0.1", port=smtp_server.port, use_tls=False
    )
    inbox.settings.update(brand_color="#ff5500", logo_url="https://cdn.acme.test/logo.png")
    inbox.save()
    first = do_send_message(
        tenant,
        inbox=inbox,
        to="Ana.Garcia@Example.COM",
        subject="Your booking",
        body="Hello Ana,\nyour room is ready.",
        headers={"List-Unsubscribe": "<mailto:unsubscribe@acme.test>"},
    )
    Attachment.objects.create(
        tenant=tenant,
        message=first,
        content_type="application/pdf",
        filename="voucher.pdf",
        file=ContentFile(b"%PDF-1.4 voucher\x00\xff", name="voucher.pdf"),
        status=Attachment.Status.STORED,
    )
    assert deliver(first).status == Message.Status.SENT

    [received] = smtp_server.messages
    email = received.message
    assert received.rcpt_tos == ["ana.garcia@example.com"]
    assert email["Subject"] == "Your booking"
    assert email["Message-ID"] == first.email_message_id
    assert first.email_message_id.endswith("@acme.test>")
    assert email["List-Unsubscribe"] == "<mailto:unsubscribe@acme.test>"
    assert "support@acme.test" in email["From"]
    text = email.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.strip() == "Hello Ana,\nyour room is ready."
    html = email.get_body(("html",)).get_content()
    assert "#ff5500" in html and "https://cdn.acme.test/logo.png" in html
    assert "your room is ready." in html
    [part] = list(email.iter_attachments())
    assert part.get_filename() == "voucher.pdf"
    assert part.get_content() == b"%PDF-1.4 voucher\x00\xff"
    contact = Contact.objects.get(tenant=tenant)
    assert ContactEmail.objects.get(contact=contact).email == "ana.garcia@example.com"

    # A reply in the conversation: "Re:" subject, In-Reply-To and References, CC and BCC.
    reply = do_send_message(
        tenant,
        conversation=first.conversation,
        body="Breakfast is at 8.",
        cc=["Boss@Acme.test"],
        bcc=["audit@acme.test"],
    )
    deliver(reply)
    received = smtp_server.messages[1]
    email = received.message
    assert email["Subject"] == "Re: Your booking"
    assert email["In-Reply-To"] == first.email_message_id
    assert email["References"] == first.email_message_id
    assert email["Cc"] == "boss@acme.test"
    assert "Bcc" not in email  # never in the headers, only in the envelope
    assert sorted(received.rcpt_tos) == [
        "ana.garcia@example.com",
        "audit@acme.test",
        "boss@acme.test",
    ]
    assert reply.conversation_id == first.conversation_id


def test_it_records_a_permanent_smtp_refusal_as_failed(tenant, smtp_server):
    smtp_server.refuse["gone@example.com"] = "550 5.1.1 No such user"
    inbox = make_email_inbox(tenant, esp="smtp", host="127.0.0.1", port=smtp_server.port)
    message = do_send_message(tenant, inbox=inbox, to="gone@example.com", subject="Hi", body="x")

    delivery = deliver(message)

    assert delivery.status == Message.Status.FAILED
    assert delivery.error_code == "smtp_550"
    assert "No such user" in delivery.error_message
    assert smtp_server.messages == []


def test_it_retries_a_transient_smtp_refusal(tenant, smtp_server):
    smtp_server.refuse["busy@example.com"] = "450 4.2.1 Mailbox busy, try later"
    inbox = make_email_inbox(tenant, esp="smtp", host="127.0.0.1", port=smtp_server.port)
    message = do_send_message(tenant, inbox=inbox, to="busy@example.com", subject="Hi", body="x")
    delivery = message.deliveries.get()

    from inbox.actions.send import RetryDelivery, attempt_delivery

    with pytest.raises(RetryDelivery):
        attempt_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == Message.Status.QUEUED
    assert delivery.error_code == "smtp_450"


def test_it_sends_through_anymails_test_backend(tenant, email_inbox):
    message = do_send_message(
        tenant,
        inbox=email_inbox,
        to="ana@example.com",
        subject="Welcome",
        body="Plain text",
        body_html="<p>Hello <b>Ana</b></p>",
    )
    delivery = deliver(message)

    [sent] = mail.outbox
    assert sent.subject == "Welcome"
    assert sent.to == ["ana@example.com"]
    assert sent.body == "Plain text"
    html, mimetype = sent.alternatives[0]
    assert mimetype == "text/html" and "<p>Hello <b>Ana</b></p>" in html
    assert sent.extra_headers["Message-ID"] == message.email_message_id
    assert delivery.status == Message.Status.SENT
    assert delivery.provider_message_id == message.email_message_id.strip("<>")
    assert delivery.recipient == "ana@example.com"


def test_it_sends_through_the_real_postmark_backend(tenant, fake_postmark):
    inbox = make_email_inbox(
        tenant, esp="postmark", server_token=fake_postmark.server_token, api_url=fake_postmark.url
    )
    message = do_send_message(
        tenant, inbox=inbox, to="ana@example.com", subject="Booking", body="See you"
    )

    delivery = deliver(message)

    [request] = fake_postmark.requests
    assert request.json["To"] == "ana@example.com"
    assert request.json["Subject"] == "Booking"
    assert request.json["TextBody"] == "See you"
    assert {"Name": "Message-ID", "Value": message.email_message_id} in request.json["Headers"]
    assert delivery.status == Message.Status.SENT
    assert delivery.provider_message_id in fake_postmark.sent


def test_it_fails_permanently_when_postmark_refuses_an_inactive_recipient(tenant, fake_postmark):
    inbox = make_email_inbox(
        tenant, esp="postmark", server_token=fake_postmark.server_token, api_url=fake_postmark.url
    )
    fake_postmark.queue_response(
        422,
        {
            "ErrorCode": 406,
            "Message": "You tried to send to recipient(s) that have been marked as inactive. "
            "Found inactive addresses: ana@example.com. Inactive recipients are ones that have "
            "generated a hard bounce, a spam complaint, or a manual suppression.",
        },
    )
    message = do_send_message(tenant, inbox=inbox, to="ana@example.com", subject="Hi", body="x")

    delivery = deliver(message)

    assert delivery.status == Message.Status.FAILED
    assert delivery.error_code == "recipient_refused"
    assert is_opted_out(
        Contact.objects.get(tenant=tenant), channel="email", sender="support@acme.test"
    )


def test_it_retries_postmark_server_errors(tenant, fake_postmark):
    inbox = make_email_inbox(
        tenant, esp="postmark", server_token=fake_postmark.server_token, api_url=fake_postmark.url
    )
    fake_postmark.queue_response(500)
    message = do_send_message(tenant, inbox=inbox, to="ana@example.com", subject="Hi", body="x")

    from inbox.actions.send import RetryDelivery, attempt_delivery

    with pytest.raises(RetryDelivery):
        attempt_delivery(message.deliveries.get().pk)
    delivery = attempt_delivery(message.deliveries.get().pk)
    assert delivery.status == Message.Status.SENT
    assert len(fake_postmark.requests) == 2


def test_it_fails_permanently_on_bad_postmark_credentials(tenant, fake_postmark):
    inbox = make_email_inbox(
        tenant, esp="postmark", server_token="wrong", api_url=fake_postmark.url
    )
    message = do_send_message(tenant, inbox=inbox, to="ana@example.com", subject="Hi", body="x")

    delivery = deliver(message)

    assert delivery.status == Message.Status.FAILED
    assert delivery.error_code == "401"


def test_it_refuses_a_private_api_url_when_private_hosts_are_not_allowed(tenant, settings):
    settings.ALLOW_PRIVATE_PROVIDER_HOSTS = False
    inbox = make_email_inbox(
        tenant, esp="postmark", server_token="t", api_url="http://127.0.0.1:9/"
    )
    message = do_send_message(tenant, inbox=inbox, to="ana@example.com", subject="Hi", body="x")

    delivery = deliver(message)

    assert delivery.status == Message.Status.FAILED
    assert delivery.error_code == "unsafe_url"


def test_it_validates_addresses_subject_and_headers(tenant, email_inbox):
    with pytest.raises(ActionError, match="not an email address"):
        do_send_message(tenant, inbox=email_inbox, to="not-an-address", subject="x", body="x")
    with pytest.raises(ActionError, match="needs a subject"):
        do_send_message(tenant, inbox=email_inbox, to="ana@example.com", body="x")
    with pytest.raises(ActionError, match="CC"):
        do_send_message(
            tenant, inbox=email_inbox, to="ana@example.com", subject="x", body="x", cc=["nope"]
        )
    with pytest.raises(ActionError, match="set by Centro"):
        do_send_message(
            tenant,
            inbox=email_inbox,
            to="ana@example.com",
            subject="x",
            body="x",
            headers={"Message-ID": "<x@y>"},
        )
    with pytest.raises(ActionError, match="one line"):
        do_send_message(
            tenant,
            inbox=email_inbox,
            to="ana@example.com",
            subject="x",
            body="x",
            headers={"X-Tag": "a\r\nBcc: evil@x.test"},
        )
    assert not Message.objects.exists()


def test_it_opens_one_thread_per_subject(tenant, email_inbox):
    a = do_send_message(tenant, inbox=email_inbox, to="ana@example.com", subject="One", body="x")
    b = do_send_message(tenant, inbox=email_inbox, to="ana@example.com", subject="Two", body="x")
    c = do_send_message(
        tenant, inbox=email_inbox, to="ana@example.com", subject="RE: one", body="x"
    )

    assert a.conversation_id != b.conversation_id
    assert c.conversation_id == a.conversation_id
    assert Conversation.objects.get(pk=a.conversation_id).subject == "One"


def test_an_uploaded_file_is_attached_once(tenant, owner, login, email_inbox):
    from django.core.files.uploadedfile import SimpleUploadedFile

    first = do_send_message(
        tenant, inbox=email_inbox, to="ana@example.com", subject="Voucher", body="x"
    )
    deliver(first)
    mail.outbox.clear()
    pdf = SimpleUploadedFile("voucher.pdf", b"%PDF-1.4 the voucher", "application/pdf")

    response = login(owner).post(
        f"/inbox/c/{first.conversation_id}/messages/",
        {"mode": "reply", "body": "Here it is.", "files": pdf},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200, response.content.decode()[:500]
    reply = Message.objects.filter(direction="out").latest("id")
    deliver(reply)
    [sent] = mail.outbox
    assert sent.attachments == [("voucher.pdf", b"%PDF-1.4 the voucher", "application/pdf")]


def test_a_media_url_is_downloaded_and_attached(tenant, email_inbox):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            data = b"col1,col2\n1,2\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/files/report.csv"
        message = do_send_message(
            tenant,
            inbox=email_inbox,
            to="ana@example.com",
            subject="Report",
            body="Attached.",
            media_urls=[url],
        )
        assert deliver(message).status == Message.Status.SENT
    finally:
        server.shutdown()
        server.server_close()

    [sent] = mail.outbox
    [(name, content, mimetype)] = sent.attachments
    assert (name, mimetype) == ("report.csv", "text/csv")
    assert content == "col1,col2\n1,2\n"  # Django decodes text attachments


def test_a_named_address_names_the_new_contact(tenant, email_inbox):
    message = do_send_message(
        tenant, inbox=email_inbox, to="Ana García <Ana@Example.com>", subject="Hi", body="x"
    )

    contact = message.conversation.contact
    assert (contact.name, contact.email) == ("Ana García", "ana@example.com")
    assert message.deliveries.get().recipient == "ana@example.com"
