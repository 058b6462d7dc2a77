"""Inbound media: stored as pending attachments, fetched after commit with the account's auth."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from inbox.actions.receive import AttachmentFetchError, do_fetch_attachment
from inbox.models import Attachment, Message
from inbox.tasks.webhooks import MEDIA_MAX_RETRIES, fetch_attachment_task
from tests.inbox.webhook_helpers import assert_empty_twiml, post_twilio

pytestmark = pytest.mark.django_db

PHOTO = b"\xff\xd8\xff\xe0" + b"jpeg bytes " * 100


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def media_server():
    """A media host that is not Twilio's API: answers the scripted statuses, then the photo."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            server.seen.append(dict(self.headers))
            status = server.script.pop(0) if server.script else 200
            body = PHOTO if status == 200 else b"oops"
            self.send_response(status)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.seen, server.script = [], []
    server.url = f"http://127.0.0.1:{server.server_address[1]}/media/photo.png"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def receive_photo(inbox, media_url, **overrides):
    response = post_twilio(inbox, "inbound_whatsapp_media", MediaUrl0=media_url, **overrides)
    assert_empty_twiml(response)
    return Attachment.objects.get(message__external_id="SM" + "1" * 32)


def test_it_fetches_whatsapp_media_with_the_account_credentials_after_commit(
    whatsapp_inbox, fake_twilio, eager_tasks, django_capture_on_commit_callbacks
):
    account_sid = whatsapp_inbox.get_credentials()["account_sid"]
    media_url = fake_twilio.add_media(account_sid, PHOTO, "image/jpeg")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        attachment = receive_photo(whatsapp_inbox, media_url)
    # Answered before anything was downloaded: the fetch waits for the commit.
    assert attachment.status == Attachment.Status.PENDING
    assert (attachment.remote_url, attachment.content_type) == (media_url, "image/jpeg")
    assert attachment.message.body == "see photo"
    assert attachment.tenant_id == whatsapp_inbox.tenant_id
    assert not [r for r in fake_twilio.requests if r.method == "GET"]

    for callback in callbacks:
        callback()

    attachment.refresh_from_db()
    assert attachment.status == Attachment.Status.STORED, attachment.error
    assert attachment.size == len(PHOTO)
    assert attachment.file.name.startswith(f"tenants/{whatsapp_inbox.tenant_id}/attachments/")
    with attachment.file.open("rb") as stored:
        assert stored.read() == PHOTO
    (fetch,) = [r for r in fake_twilio.requests if r.method == "GET"]
    assert fetch.authenticated


def test_it_marks_the_attachment_failed_when_twilio_refuses_the_credentials(
    whatsapp_inbox, fake_twilio
):
    media_url = fake_twilio.add_media("AC" + "0" * 32, PHOTO)  # another account's media
    attachment = receive_photo(whatsapp_inbox, media_url)

    assert fetch_attachment_task.apply(args=[attachment.pk]).get() == "failed"

    attachment.refresh_from_db()
    assert attachment.status == Attachment.Status.FAILED
    assert "401" in attachment.error
    assert not attachment.file


def test_it_refuses_media_bigger_than_the_limit(whatsapp_inbox, fake_twilio):
    whatsapp_inbox.settings = {**whatsapp_inbox.settings, "max_attachment_bytes": 100}
    whatsapp_inbox.save()
    account_sid = whatsapp_inbox.get_credentials()["account_sid"]
    attachment = receive_photo(whatsapp_inbox, fake_twilio.add_media(account_sid, PHOTO))

    fetch_attachment_task.apply(args=[attachment.pk])

    attachment.refresh_from_db()
    assert attachment.status == Attachment.Status.FAILED
    assert "more than" in attachment.error
    assert not attachment.file


def test_it_retries_server_errors_and_then_stores_the_media(whatsapp_inbox, media_server):
    media_server.script = [503, 500]
    attachment = receive_photo(whatsapp_inbox, media_server.url)

    assert fetch_attachment_task.apply(args=[attachment.pk]).get() == "stored"

    attachment.refresh_from_db()
    assert attachment.status == Attachment.Status.STORED
    assert attachment.filename == "photo.png"
    assert len(media_server.seen) == 3


def test_it_gives_up_after_the_last_retry(whatsapp_inbox, media_server):
    media_server.script = [500] * 20
    attachment = receive_photo(whatsapp_inbox, media_server.url)

    assert fetch_attachment_task.apply(args=[attachment.pk]).get() == "failed"

    attachment.refresh_from_db()
    assert attachment.status == Attachment.Status.FAILED
    assert f"Gave up after {MEDIA_MAX_RETRIES + 1} attempts" in attachment.error
    assert len(media_server.seen) == MEDIA_MAX_RETRIES + 1


def test_it_never_sends_the_account_credentials_to_another_host(whatsapp_inbox, media_server):
    attachment = receive_photo(whatsapp_inbox, media_server.url)

    fetch_attachment_task.apply(args=[attachment.pk])

    assert "Authorization" not in media_server.seen[0]
    attachment.refresh_from_db()
    assert attachment.status == Attachment.Status.STORED


def test_it_only_fetches_http_urls(whatsapp_inbox):
    post_twilio(whatsapp_inbox, "inbound_whatsapp_media", NumMedia="0")
    message = Message.objects.get()
    attachment = Attachment.objects.create(
        tenant=whatsapp_inbox.tenant, message=message, remote_url="file:///etc/passwd"
    )

    with pytest.raises(AttachmentFetchError) as refused:
        do_fetch_attachment(attachment)

    assert not refused.value.retryable
    attachment.refresh_from_db()
    assert attachment.status == Attachment.Status.FAILED
    assert "http" in attachment.error


def test_it_keeps_the_message_when_a_media_url_is_too_long_to_store(whatsapp_inbox):
    attachment = receive_photo(whatsapp_inbox, "https://api.twilio.com/" + "m" * 1200)

    assert attachment.status == Attachment.Status.FAILED
    assert "longer than 1000 characters" in attachment.error
    assert attachment.message.body == "see photo"


def test_it_forgets_a_fetch_for_a_deleted_attachment(db):
    assert fetch_attachment_task.apply(args=[987654321]).get() == "missing"
