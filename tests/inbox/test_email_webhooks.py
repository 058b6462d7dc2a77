"""Email webhooks through the real URL routing and anymail's own webhook views: inbound mail
from Postmark and Mailgun threaded into the right conversation, tracking events, auth,
malformed requests, repeats, replays and tenancy."""

import json

import pytest
from django.core import mail
from django.db import IntegrityError, transaction

from contacts.actions import is_opted_out
from contacts.models import Contact
from inbox.actions.send import do_send_message
from inbox.models import Attachment, Conversation, Message
from inbox.tasks.delivery import deliver_message_task
from omnichannel.actions import ActionError
from omnichannel.models import WebhookEvent
from omnichannel.webhooks import journal
from tests.inbox.conftest import MAILGUN_SIGNING_KEY, make_email_inbox
from tests.inbox.email_webhook_helpers import (
    fixture_bytes,
    load,
    post_email_webhook,
    post_mailgun_inbound,
    post_mailgun_tracking,
    post_postmark,
    set_header,
)

pytestmark = pytest.mark.django_db

PASSPORT = (
    b"%PDF-1.4\n%\xc3\xa4\xc3\xbc\xc3\xb6\xc3\x9f\n2 0 obj\n<</Length 3 0 R>>\n"
    b"stream\n\x00passport\nendstream\nendobj\n"
)


@pytest.fixture
def postmark_inbox(tenant):
    return make_email_inbox(tenant, esp="postmark", server_token="pm-token")


@pytest.fixture
def mailgun_inbox(tenant):
    return make_email_inbox(
        tenant, esp="mailgun", api_key="key-api", webhook_signing_key=MAILGUN_SIGNING_KEY
    )


def sent_email(tenant, inbox, *, to="ana.garcia@example.com", subject="Booking 4411"):
    """An email sent from ``inbox`` through anymail's test backend (its Delivery is sent)."""
    creds = inbox.get_credentials()
    inbox.set_credentials({**creds, "esp": "test"})
    inbox.save()
    message = do_send_message(tenant, inbox=inbox, to=to, subject=subject, body="Confirmed.")
    deliver_message_task.apply(args=[message.deliveries.get().pk])
    inbox.set_credentials(creds)
    inbox.save()
    message.refresh_from_db()
    return message


# --- inbound --------------------------------------------------------------------------------


def test_it_stores_a_postmark_inbound_email_with_its_attachment(postmark_inbox):
    response = post_postmark(postmark_inbox, "inbound")

    assert response.status_code == 200, response.content
    contact = Contact.objects.get(tenant=postmark_inbox.tenant)
    assert (contact.email, contact.name) == ("ana.garcia@example.com", "Ana García")
    message = Message.objects.get(inbox=postmark_inbox)
    conversation = message.conversation
    assert conversation.contact == contact and conversation.subject == "Booking 4411: late check-in"
    assert message.subject == "Booking 4411: late check-in"
    assert message.email_message_id == (
        "<CAGXpo2WKfxHWZ5UFYCR3H_J9SNMG+5AXUovfEFL6DjWBJSyZaA@mail.gmail.com>"
    )
    # The original is kept whole: quoted history and all, HTML unsanitized.
    assert "> Your booking 4411 is confirmed." in message.body
    assert "<script>" in message.body_html
    assert message.metadata["cc"] == ["luis@example.com"]
    [attachment] = Attachment.objects.filter(message=message)
    assert (attachment.filename, attachment.content_type) == (
        "passport scan.pdf",
        "application/pdf",
    )
    assert attachment.status == Attachment.Status.STORED
    assert attachment.file.read() == PASSPORT
    event = WebhookEvent.objects.get(inbox=postmark_inbox)
    assert (event.state, event.kind, event.provider) == ("processed", "inbound", "anymail")


def test_it_stores_a_signed_mailgun_inbound_email_with_a_binary_attachment(mailgun_inbox):
    response = post_mailgun_inbound(mailgun_inbox)

    assert response.status_code == 200, response.content
    message = Message.objects.get(inbox=mailgun_inbox)
    assert message.conversation.contact.email == "carlos.ruiz@example.org"
    assert message.subject == "Re: Factura de diciembre"
    assert message.conversation.subject == "Factura de diciembre"
    assert message.email_message_id == "<CAF8s2u0Y7xq8yGi1=5p@mail.gmail.com>"
    [attachment] = message.attachments.all()
    assert attachment.file.read() == fixture_bytes("mailgun", "inbound.attachment-1.bin")
    # The multipart body with its binary file is journaled exactly (base64), and replays.
    event = WebhookEvent.objects.get(inbox=mailgun_inbox)
    assert event.body_encoding == "base64"
    assert fixture_bytes("mailgun", "inbound.attachment-1.bin") in event.raw_body()
    replayed = journal.replay(event)
    assert replayed.state == "processed" and "Duplicate" in replayed.error
    assert Message.objects.filter(inbox=mailgun_inbox).count() == 1


def test_a_replay_of_a_journaled_multipart_email_stores_it(mailgun_inbox):
    post_mailgun_inbound(mailgun_inbox)
    event = WebhookEvent.objects.get(inbox=mailgun_inbox)
    Message.objects.filter(inbox=mailgun_inbox).delete()

    replayed = journal.replay(event)

    assert replayed.state == "processed", replayed.error
    message = Message.objects.get(inbox=mailgun_inbox)
    assert message.attachments.get().file.read() == fixture_bytes(
        "mailgun", "inbound.attachment-1.bin"
    )


RELATED_MIME = """\
From: Carlos Ruiz <carlos.ruiz@example.org>
To: support@acme.test
Subject: Our new logo
Message-ID: <related-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html; charset=utf-8

<p>Here it is: <img src="cid:logo@example.org" alt="logo"></p>
--rel
Content-Type: image/png; name="logo.png"
Content-Transfer-Encoding: base64
Content-ID: <logo@example.org>

iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==
--rel
Content-Type: image/gif; name="unused.gif"
Content-Transfer-Encoding: base64
Content-Disposition: inline; filename="unused.gif"

R0lGODlhAQABAAAAACw=
--rel--
"""


def test_inline_images_are_stored_with_the_content_ids_the_html_names(mailgun_inbox):
    # Raw MIME (Mailgun's "mime" route): the image part has a Content-ID but, as some mail
    # clients send it, no Content-Disposition.
    fields = {"body-mime": RELATED_MIME, "attachment-count": "0"}
    assert post_mailgun_inbound(mailgun_inbox, fields=fields).status_code == 200

    message = Message.objects.get(inbox=mailgun_inbox)
    logo = message.attachments.get(filename="logo.png")
    assert logo.content_type == "image/png" and logo.status == Attachment.Status.STORED
    assert message.attachments.filter(filename="unused.gif").exists()  # inline, no Content-ID
    assert message.metadata["content_ids"] == {"logo@example.org": logo.pk}


def test_a_repeated_webhook_is_a_no_op(postmark_inbox):
    post_postmark(postmark_inbox, "inbound")
    response = post_postmark(postmark_inbox, "inbound")

    assert response.status_code == 200
    assert Message.objects.filter(inbox=postmark_inbox).count() == 1
    assert Attachment.objects.count() == 1
    events = WebhookEvent.objects.filter(inbox=postmark_inbox).order_by("id")
    assert [e.state for e in events] == ["processed", "processed"]
    assert "Duplicate" in events[1].error


# --- threading ------------------------------------------------------------------------------


def test_it_threads_a_reply_by_in_reply_to_before_the_subject(tenant, postmark_inbox):
    ours = sent_email(tenant, postmark_inbox, subject="Booking 4411")
    payload = set_header(load("postmark", "inbound"), "In-Reply-To", ours.email_message_id)
    payload["Subject"] = "Something else entirely"

    post_postmark(postmark_inbox, "inbound", payload)

    reply = Message.objects.get(inbox=postmark_inbox, direction="in")
    assert reply.conversation_id == ours.conversation_id
    assert reply.metadata["in_reply_to"] == ours.email_message_id


def test_it_threads_by_references_and_reopens_a_closed_thread(tenant, postmark_inbox):
    ours = sent_email(tenant, postmark_inbox, subject="Booking 4411")
    Conversation.objects.filter(pk=ours.conversation_id).update(status="closed")
    payload = set_header(
        load("postmark", "inbound"), "References", f"<older@example.com> {ours.email_message_id}"
    )

    post_postmark(postmark_inbox, "inbound", payload)

    reply = Message.objects.get(inbox=postmark_inbox, direction="in")
    assert reply.conversation_id == ours.conversation_id
    assert reply.conversation.status == Conversation.Status.OPEN


def test_it_threads_by_subject_and_contact_without_headers(tenant, postmark_inbox):
    ours = sent_email(tenant, postmark_inbox, subject="Booking 4411: late check-in")
    payload = load("postmark", "inbound")
    payload["Subject"] = "RE: Re: booking 4411:  late check-in"

    post_postmark(postmark_inbox, "inbound", payload)

    reply = Message.objects.get(inbox=postmark_inbox, direction="in")
    assert reply.conversation_id == ours.conversation_id


def test_it_starts_a_new_thread_otherwise(tenant, postmark_inbox):
    ours = sent_email(tenant, postmark_inbox, subject="Invoice")

    post_postmark(postmark_inbox, "inbound")  # another subject, no headers naming ours

    reply = Message.objects.get(inbox=postmark_inbox, direction="in")
    assert reply.conversation_id != ours.conversation_id
    assert reply.conversation.contact_id == ours.conversation.contact_id
    assert Conversation.objects.filter(inbox=postmark_inbox, status="open").count() == 2


def from_luis(payload: dict) -> dict:
    """The Postmark fixture as sent by Luis, whom Ana copied."""
    payload.update(
        From="luis@example.com",
        FromName="Luis Pérez",
        FromFull={"Email": "luis@example.com", "Name": "Luis Pérez", "MailboxHash": ""},
        Cc="",
        CcFull=[],
    )
    return set_header(payload, "Message-ID", "<luis-1@mail.example.com>")


def test_a_copied_colleagues_reply_joins_the_thread_its_headers_name(
    tenant, owner, login, postmark_inbox
):
    ours = sent_email(tenant, postmark_inbox, subject="Booking 4411")
    Conversation.objects.filter(pk=ours.conversation_id).update(status="closed")
    payload = set_header(
        from_luis(load("postmark", "inbound")), "In-Reply-To", ours.email_message_id
    )

    assert post_postmark(postmark_inbox, "inbound", payload).status_code == 200

    reply = Message.objects.get(inbox=postmark_inbox, direction="in")
    assert reply.conversation_id == ours.conversation_id
    assert reply.conversation.contact.email == "ana.garcia@example.com"
    assert reply.conversation.status == Conversation.Status.OPEN
    assert reply.metadata["from"] == "luis@example.com"
    assert reply.metadata["other_sender"] is True
    # The thread is Ana's: no contact is made for the colleague.
    assert not Contact.objects.filter(tenant=tenant, email="luis@example.com").exists()
    page = login(owner).get(f"/inbox/c/{ours.conversation_id}/").content.decode()
    assert '<p class="msg-from">From: Luis Pérez &lt;luis@example.com&gt;</p>' in page
    assert page.count('class="msg-from"') == 1  # our own message shows no such line


def test_a_copied_reply_by_mailgun_joins_the_thread_by_references(tenant, mailgun_inbox):
    ours = sent_email(tenant, mailgun_inbox, subject="Factura de diciembre")
    headers = json.loads(load("mailgun", "inbound")["message-headers"])
    headers.append(["References", f"<older@example.org> {ours.email_message_id}"])

    post_mailgun_inbound(mailgun_inbox, fields={"message-headers": json.dumps(headers)})

    reply = Message.objects.get(inbox=mailgun_inbox, direction="in")
    assert reply.conversation_id == ours.conversation_id
    assert reply.metadata["from"] == "carlos.ruiz@example.org"
    assert reply.metadata["other_sender"] is True


def test_a_copied_colleagues_email_without_headers_starts_its_own_thread(tenant, postmark_inbox):
    ours = sent_email(tenant, postmark_inbox, subject="Booking 4411: late check-in")
    payload = from_luis(load("postmark", "inbound"))  # the same subject, no In-Reply-To

    post_postmark(postmark_inbox, "inbound", payload)

    email = Message.objects.get(inbox=postmark_inbox, direction="in")
    assert email.conversation_id != ours.conversation_id
    assert email.conversation.contact.email == "luis@example.com"
    assert "other_sender" not in email.metadata


def test_the_contacts_own_reply_is_not_marked_as_another_sender(tenant, postmark_inbox):
    ours = sent_email(tenant, postmark_inbox)
    payload = set_header(load("postmark", "inbound"), "In-Reply-To", ours.email_message_id)

    post_postmark(postmark_inbox, "inbound", payload)

    reply = Message.objects.get(inbox=postmark_inbox, direction="in")
    assert reply.conversation_id == ours.conversation_id
    assert "other_sender" not in reply.metadata


def test_another_tenants_message_ids_never_thread_a_copied_reply(
    tenant, other_tenant, postmark_inbox
):
    ours = sent_email(tenant, postmark_inbox)
    theirs = make_email_inbox(other_tenant, esp="postmark", server_token="other")
    theirs.set_credentials({**theirs.get_credentials(), "webhook_secret": "globex:secret"})
    theirs.save()
    payload = set_header(
        from_luis(load("postmark", "inbound")), "In-Reply-To", ours.email_message_id
    )

    assert post_postmark(theirs, "inbound", payload, secret="globex:secret").status_code == 200

    email = Message.objects.get(inbox=theirs)
    assert email.tenant_id == other_tenant.pk
    assert email.conversation.tenant_id == other_tenant.pk
    assert email.conversation.contact.email == "luis@example.com"
    assert "other_sender" not in email.metadata
    assert Message.objects.filter(conversation=ours.conversation).count() == 1


def test_a_contact_has_one_active_thread_per_subject_whatever_its_case(tenant, postmark_inbox):
    """What keeps two first emails racing from opening the same thread twice."""
    ours = sent_email(tenant, postmark_inbox, subject="Invoice")
    thread = {"tenant": tenant, "inbox": postmark_inbox, "contact": ours.conversation.contact}
    with pytest.raises(IntegrityError), transaction.atomic():
        Conversation.objects.create(**thread, subject="INVOICE")

    Conversation.objects.filter(pk=ours.conversation_id).update(status="closed")
    assert Conversation.objects.create(**thread, subject="invoice").status == "open"


def test_a_reply_from_centro_names_the_inbound_email(tenant, postmark_inbox):
    post_postmark(postmark_inbox, "inbound")
    inbound = Message.objects.get(inbox=postmark_inbox)
    creds = postmark_inbox.get_credentials()
    postmark_inbox.set_credentials({**creds, "esp": "test"})
    postmark_inbox.save()

    reply = do_send_message(tenant, conversation=inbound.conversation, body="Sure, no problem.")
    deliver_message_task.apply(args=[reply.deliveries.get().pk])

    [sent] = mail.outbox
    assert sent.subject == "Re: Booking 4411: late check-in"
    assert sent.extra_headers["In-Reply-To"] == inbound.email_message_id
    assert sent.extra_headers["References"] == inbound.email_message_id
    assert sent.to == ["ana.garcia@example.com"]


# --- authentication and bad input -----------------------------------------------------------


def test_wrong_or_missing_basic_auth_is_refused_and_not_journaled(postmark_inbox):
    assert post_postmark(postmark_inbox, "inbound", secret="anymail-user:wrong").status_code == 403
    assert post_postmark(postmark_inbox, "inbound", secret=None).status_code == 403
    assert not WebhookEvent.objects.exists() and not Message.objects.exists()


def test_a_wrong_mailgun_signature_is_refused(mailgun_inbox):
    response = post_mailgun_inbound(mailgun_inbox, signing_key="not-the-key")

    assert response.status_code == 403
    assert "signature" in response.content.decode()
    assert not WebhookEvent.objects.exists()


def test_an_unknown_token_is_404(postmark_inbox):
    assert post_postmark(postmark_inbox, "inbound", token="nope").status_code == 404


def test_malformed_json_is_400_and_journaled_as_invalid(postmark_inbox):
    response = post_postmark(postmark_inbox, "inbound", raw=b'{"From": "broken')

    assert response.status_code == 400
    assert "could not be read" in response.content.decode()
    event = WebhookEvent.objects.get()
    assert event.state == "invalid"


def test_a_tracking_payload_on_the_inbound_url_is_400_with_the_reason(postmark_inbox):
    response = post_postmark(postmark_inbox, "inbound", load("postmark", "tracking_delivery"))

    assert response.status_code == 400
    assert "Delivery" in response.content.decode() and "inbound" in response.content.decode()


def test_an_email_without_a_sender_is_400(postmark_inbox):
    payload = load("postmark", "inbound")
    del payload["FromFull"], payload["From"], payload["FromName"]

    response = post_postmark(postmark_inbox, "inbound", payload)

    assert response.status_code == 400
    assert "no From address" in response.content.decode()


# --- tracking -------------------------------------------------------------------------------


def tracking(name: str, message: Message) -> dict:
    payload = load("postmark", name)
    payload["MessageID"] = message.deliveries.get().provider_message_id
    return payload


def test_delivered_and_opened_move_the_delivery_forward_only(tenant, postmark_inbox):
    ours = sent_email(tenant, postmark_inbox)

    assert (
        post_postmark(
            postmark_inbox, "tracking_delivery", tracking("tracking_delivery", ours)
        ).status_code
        == 200
    )
    assert ours.deliveries.get().status == "delivered"
    post_postmark(postmark_inbox, "tracking_open", tracking("tracking_open", ours))
    assert ours.deliveries.get().status == "read"
    post_postmark(postmark_inbox, "tracking_delivery", tracking("tracking_delivery", ours))
    delivery = ours.deliveries.get()
    assert delivery.status == "read" and delivery.delivered_at is not None
    ours.refresh_from_db()
    assert ours.status == "read"


def test_a_hard_bounce_opts_the_address_out_and_the_next_send_is_refused(tenant, postmark_inbox):
    ours = sent_email(tenant, postmark_inbox)

    response = post_postmark(postmark_inbox, "tracking_bounce", tracking("tracking_bounce", ours))

    assert response.status_code == 200
    delivery = ours.deliveries.get()
    assert delivery.status == "failed"
    assert "does not exist" in delivery.error_message
    contact = ours.conversation.contact
    assert is_opted_out(contact, channel="email", sender="support@acme.test")
    consent = contact.consents.get()
    assert (consent.source, consent.status) == ("provider_error", "opted_out")
    with pytest.raises(ActionError) as refused:
        do_send_message(tenant, conversation=ours.conversation, body="Are you there?")
    assert refused.value.code == "opted_out"


def test_a_soft_bounce_does_not_opt_out(tenant, postmark_inbox):
    ours = sent_email(tenant, postmark_inbox)
    payload = tracking("tracking_bounce", ours)
    payload.update(Type="SoftBounce", TypeCode=4096, Name="Soft bounce")

    post_postmark(postmark_inbox, "tracking_bounce", payload)

    assert not is_opted_out(ours.conversation.contact, channel="email", sender="support@acme.test")


def test_a_spam_complaint_opts_the_address_out(tenant, postmark_inbox):
    ours = sent_email(tenant, postmark_inbox)
    post_postmark(postmark_inbox, "tracking_delivery", tracking("tracking_delivery", ours))

    response = post_postmark(
        postmark_inbox, "tracking_spam_complaint", tracking("tracking_spam_complaint", ours)
    )

    assert response.status_code == 200
    assert is_opted_out(ours.conversation.contact, channel="email", sender="support@acme.test")
    assert ours.deliveries.get().status == "delivered"  # a complaint is no delivery failure
    with pytest.raises(ActionError, match="opted out"):
        do_send_message(
            tenant, inbox=postmark_inbox, to="ana.garcia@example.com", subject="Hi", body="x"
        )


def test_a_signed_mailgun_delivered_event_moves_the_delivery(tenant, mailgun_inbox):
    ours = sent_email(tenant, mailgun_inbox, to="carlos.ruiz@example.org")

    response = post_mailgun_tracking(
        mailgun_inbox, "tracking_delivered", message_id=ours.deliveries.get().provider_message_id
    )

    assert response.status_code == 200, response.content
    assert ours.deliveries.get().status == "delivered"


def test_an_event_for_an_unknown_message_is_deferred(postmark_inbox):
    response = post_postmark(postmark_inbox, "tracking_delivery")

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.state == "pending" and "No delivery" in event.error


# --- tenancy --------------------------------------------------------------------------------


def test_another_tenants_inbox_never_touches_this_tenants_data(
    tenant, other_tenant, postmark_inbox
):
    ours = sent_email(tenant, postmark_inbox)
    theirs = make_email_inbox(other_tenant, esp="postmark", server_token="other")
    theirs.set_credentials({**theirs.get_credentials(), "webhook_secret": "globex:secret"})
    theirs.save()

    # Our secret on their URL is refused; their own request lands in their tenant only.
    assert post_postmark(theirs, "inbound", token=theirs.webhook_token).status_code == 403
    payload = set_header(load("postmark", "inbound"), "In-Reply-To", ours.email_message_id)
    assert post_postmark(theirs, "inbound", payload, secret="globex:secret").status_code == 200
    # And their tracking events cannot reach our deliveries.
    post_postmark(
        theirs, "tracking_bounce", tracking("tracking_bounce", ours), secret="globex:secret"
    )

    message = Message.objects.get(inbox=theirs)
    assert message.tenant_id == other_tenant.pk
    assert message.conversation.contact.tenant_id == other_tenant.pk
    assert message.conversation_id != ours.conversation_id
    assert Message.objects.filter(conversation=ours.conversation).count() == 1
    assert ours.deliveries.get().status == "sent"
    assert not is_opted_out(ours.conversation.contact, channel="email", sender="support@acme.test")
    assert Contact.objects.filter(tenant=tenant).count() == 1


def test_journal_keeps_the_exact_json_body(postmark_inbox):
    payload = load("postmark", "inbound")
    post_postmark(postmark_inbox, "inbound", payload)

    event = WebhookEvent.objects.get()
    assert event.body_encoding == ""
    assert json.loads(event.raw_body()) == payload


def test_a_copy_recipients_bounce_leaves_the_contacts_delivery_and_consent(tenant, postmark_inbox):
    from contacts.actions import get_or_create_contact_by_email

    ours = sent_email(tenant, postmark_inbox)
    boss, _ = get_or_create_contact_by_email(tenant, email="boss@example.com")
    payload = tracking("tracking_bounce", ours)
    payload["Email"] = "boss@example.com"

    assert post_postmark(postmark_inbox, "tracking_bounce", payload).status_code == 200

    assert ours.deliveries.get().status == "sent"
    assert not is_opted_out(ours.conversation.contact, channel="email", sender="support@acme.test")
    assert is_opted_out(boss, channel="email", sender="support@acme.test")


def test_mail_from_the_inbox_itself_is_not_stored(postmark_inbox):
    payload = load("postmark", "inbound")
    payload["FromFull"] = {"Email": "Support@Acme.test", "Name": "Us", "MailboxHash": ""}

    response = post_postmark(postmark_inbox, "inbound", payload)

    assert response.status_code == 200
    assert not Message.objects.exists()
    assert "Not stored" in WebhookEvent.objects.get().error


def test_a_head_request_answers_for_a_known_token_only(postmark_inbox):
    from django.test import Client
    from django.urls import reverse

    url = reverse("webhooks:receive", args=["anymail", postmark_inbox.webhook_token, "inbound"])
    assert Client().head(url).status_code == 200
    assert Client().head(url.replace(postmark_inbox.webhook_token, "nope")).status_code == 404
    assert Client().get(url).status_code == 405
    assert not WebhookEvent.objects.exists()


def test_a_brevo_inbound_email_fetches_its_attachment_from_the_inboxs_api(tenant):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from django.test import Client
    from django.urls import reverse

    from tests.inbox.email_webhook_helpers import basic_auth

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            seen.append((self.path, self.headers.get("api-key")))
            data = b"12 dic: Madrid - Sevilla"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        inbox = make_email_inbox(
            tenant,
            esp="brevo",
            api_key="xkeysib-brevo",
            api_url=f"http://127.0.0.1:{server.server_address[1]}/v3/",
        )
        response = Client().post(
            reverse("webhooks:receive", args=["anymail", inbox.webhook_token, "inbound"]),
            data=json.dumps(load("brevo", "inbound")),
            content_type="application/json",
            headers=basic_auth("anymail-user:anymail-pass"),
        )
    finally:
        server.shutdown()
        server.server_close()

    assert response.status_code == 200, response.content
    message = Message.objects.get(inbox=inbox)
    assert message.conversation.contact.email == "marta@example.net"
    assert message.subject == "Cambio de fechas"
    assert message.email_message_id == "<CAJ7m3u9sKp0@mail.example.net>"
    assert message.attachments.get().file.read() == b"12 dic: Madrid - Sevilla"
    assert seen == [("/v3/inbound/attachments/eyJmb2xkZXIiOiIyMDI2MTIwMyJ9.token", "xkeysib-brevo")]


# --- control characters and other hostile input ---------------------------------------------


@pytest.mark.parametrize("header", ["Message-ID", "In-Reply-To", "References"])
def test_an_id_header_with_a_nul_is_400_and_stores_nothing(postmark_inbox, header):
    payload = set_header(load("postmark", "inbound"), header, "<CAGX\x00pz@mail.gmail.com>")

    response = post_postmark(postmark_inbox, "inbound", payload)

    assert response.status_code == 400
    reason = response.content.decode()
    assert f"{header} header" in reason and "\\x00" in reason
    event = WebhookEvent.objects.get()
    assert (event.state, event.error) == ("invalid", reason)
    assert not Message.objects.exists()
    assert not Contact.objects.exists()
    assert not Attachment.objects.exists()


def test_an_attachment_content_type_with_a_nul_is_400(postmark_inbox):
    payload = load("postmark", "inbound")
    payload["Attachments"][0]["ContentType"] = "application/p\x00df"

    response = post_postmark(postmark_inbox, "inbound", payload)

    assert response.status_code == 400
    assert "content type" in response.content.decode()
    assert WebhookEvent.objects.get().state == "invalid"
    assert not Message.objects.exists()


def test_free_text_is_stored_without_its_control_characters(postmark_inbox):
    payload = load("postmark", "inbound")
    payload.update(Subject="Booking\x00 4411\x1b", TextBody="Hi\x00,\r\nlate\x07 arrival")
    payload["FromFull"]["Name"] = "Ana\x00 García"
    payload["Attachments"][0]["Name"] = "pass\x00port.pdf"

    response = post_postmark(postmark_inbox, "inbound", payload)

    assert response.status_code == 200, response.content
    message = Message.objects.get()
    assert (message.subject, message.body) == ("Booking 4411", "Hi,\nlate arrival")
    assert message.conversation.contact.name == "Ana García"
    assert message.attachments.get().filename == "passport.pdf"


def test_an_email_without_a_message_id_is_stored_once_however_often_it_comes(postmark_inbox):
    payload = load("postmark", "inbound")
    payload["Headers"] = [h for h in payload["Headers"] if h["Name"] != "Message-ID"]

    post_postmark(postmark_inbox, "inbound", payload)
    post_postmark(postmark_inbox, "inbound", payload)
    journal.replay(WebhookEvent.objects.earliest("pk"))

    message = Message.objects.get()
    assert message.email_message_id.endswith("@centro.missing-message-id>")
    assert Attachment.objects.count() == 1


def test_a_bounce_for_an_address_with_a_nul_is_400_and_opts_nobody_out(tenant, postmark_inbox):
    ours = sent_email(tenant, postmark_inbox)
    payload = tracking("tracking_bounce", ours)
    payload["Email"] = "ana.garcia\x00@example.com"

    response = post_postmark(postmark_inbox, "tracking_bounce", payload)

    assert response.status_code == 400
    assert "recipient" in response.content.decode()
    assert WebhookEvent.objects.filter(kind="status").get().state == "invalid"
    assert ours.deliveries.get().status == "sent"
    assert not is_opted_out(ours.conversation.contact, channel="email", sender="support@acme.test")


def test_a_batch_applies_its_good_events_and_names_the_bad_one(tenant):
    inbox = make_email_inbox(tenant, esp="sendgrid")
    ours = sent_email(tenant, inbox)
    delivery = ours.deliveries.get()
    events = load("sendgrid", "tracking_delivered")
    for event in events:
        event["smtp-id"] = f"<{delivery.provider_message_id}>"
        event["email"] = delivery.recipient
    events[0]["smtp-id"] = "<bad\x00id>"

    response = post_email_webhook(inbox, "sendgrid", "tracking_delivered", events)

    assert response.status_code == 200, response.content
    assert ours.deliveries.get().status == "delivered"
    note = WebhookEvent.objects.filter(kind="status").get().error
    assert "Skipped event 1: the message id “<bad\\x00id>” contains control characters." in note


def test_mailgun_signature_fields_that_are_not_ascii_are_403_not_500(mailgun_inbox):
    response = post_mailgun_inbound(mailgun_inbox, fields={"token": "tökén"})

    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()
