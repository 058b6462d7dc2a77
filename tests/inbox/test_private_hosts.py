"""A deployment never calls a private host an inbox was pointed at (SSRF)."""

import pytest

from inbox.actions.inboxes import do_create_inbox
from inbox.actions.send import do_send_message
from inbox.models import Attachment, Message
from inbox.tasks.delivery import deliver_message_task
from inbox.tasks.webhooks import fetch_attachment_task
from omnichannel.actions import ActionError
from tests.inbox.webhook_helpers import post_twilio

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployment(settings):
    settings.ALLOW_PRIVATE_PROVIDER_HOSTS = False


def test_it_refuses_an_inbox_pointed_at_a_private_host(tenant, deployment):
    with pytest.raises(ActionError, match="private or local address"):
        do_create_inbox(
            tenant,
            kind="sms",
            provider="twilio",
            address="+14155550100",
            credentials={
                "account_sid": "AC" + "1" * 32,
                "auth_token": "x" * 32,
                "api_base_url": "http://169.254.169.254",
            },
        )


def test_it_does_not_send_through_an_inbox_that_now_points_at_a_private_host(
    tenant, sms_inbox, fake_twilio, settings
):
    message = do_send_message(tenant, inbox=sms_inbox, to="+14155550111", body="Hi")
    settings.ALLOW_PRIVATE_PROVIDER_HOSTS = False

    deliver_message_task.apply(args=[message.deliveries.get().pk])

    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert "not allowed" in message.error_message
    assert fake_twilio.sent == []


def test_it_does_not_fetch_media_from_a_private_host(whatsapp_inbox, fake_twilio, settings):
    account_sid = whatsapp_inbox.get_credentials()["account_sid"]
    media_url = fake_twilio.add_media(account_sid, b"\xff\xd8 photo", "image/jpeg")
    post_twilio(whatsapp_inbox, "inbound_whatsapp_media", MediaUrl0=media_url)
    attachment = Attachment.objects.get(message__inbox=whatsapp_inbox)
    settings.ALLOW_PRIVATE_PROVIDER_HOSTS = False

    assert fetch_attachment_task.apply(args=[attachment.pk]).get() == "failed"

    attachment.refresh_from_db()
    assert "not allowed" in attachment.error
    assert not [r for r in fake_twilio.requests if r.method == "GET"]


# --- metadata addresses, redirects and DNS that changes its answer -----------------------------
# These hold on developers' machines too (where loopback hosts are allowed): host names resolve
# through the fake_dns fixture, and nothing connects to the addresses refused.


@pytest.fixture
def redirect_to(fake_dns):
    """``redirect_to(location, status)``: a (test-allowed) loopback host redirecting there."""
    from tests.fakes.redirect import RedirectServer

    fake_dns["metadata.test"] = ["100.100.100.200"]
    servers = []

    def make(location: str, status: int = 302):
        servers.append(RedirectServer(location, status).start())
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


def deliver(message):
    delivery = message.deliveries.get()
    deliver_message_task.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    return delivery


def test_media_redirected_to_a_metadata_address_is_not_fetched(whatsapp_inbox, redirect_to):
    server = redirect_to("http://metadata.test/latest/meta-data/")
    post_twilio(whatsapp_inbox, "inbound_whatsapp_media", MediaUrl0=f"{server.url}/m/photo.jpg")
    attachment = Attachment.objects.get(message__inbox=whatsapp_inbox)

    assert fetch_attachment_task.apply(args=[attachment.pk]).get() == "failed"

    attachment.refresh_from_db()
    assert attachment.status == Attachment.Status.FAILED
    assert "not allowed" in attachment.error
    assert "100.100.100.200" in attachment.error
    assert server.requests == [("GET", "/m/photo.jpg")]


@pytest.mark.parametrize(
    "address", ["100.100.100.200", "192.0.0.192", "2002:a9fe:a9fe::1", "::ffff:169.254.169.254"]
)
def test_an_email_send_does_not_download_media_urls_on_metadata_addresses(
    tenant, fake_dns, address
):
    from tests.inbox.conftest import make_email_inbox

    fake_dns["files.tenant.test"] = [address]
    message = do_send_message(
        tenant,
        inbox=make_email_inbox(tenant),
        to="ana@example.com",
        subject="Your files",
        body="Attached.",
        media_urls=["http://files.tenant.test/latest/meta-data/iam/security-credentials/"],
    )

    delivery = deliver(message)

    assert delivery.status == Message.Status.FAILED
    assert delivery.error_code == "attachment"
    assert "not allowed" in delivery.error_message
    assert address in delivery.error_message


def test_an_email_send_does_not_follow_a_media_url_redirect_to_a_metadata_address(
    tenant, redirect_to
):
    from tests.inbox.conftest import make_email_inbox

    server = redirect_to("http://metadata.test/latest/meta-data/")
    message = do_send_message(
        tenant,
        inbox=make_email_inbox(tenant),
        to="ana@example.com",
        subject="Your files",
        body="Attached.",
        media_urls=[f"{server.url}/files/report.pdf"],
    )

    delivery = deliver(message)

    assert delivery.status == Message.Status.FAILED
    assert "could not be attached: The URL is not allowed" in delivery.error_message
    assert server.requests == [("GET", "/files/report.pdf")]


def test_an_esp_api_url_that_redirects_to_a_metadata_address_is_refused(tenant, redirect_to):
    from tests.inbox.conftest import make_email_inbox

    server = redirect_to("http://metadata.test/email", status=307)
    inbox = make_email_inbox(tenant, esp="postmark", server_token="t", api_url=f"{server.url}/")
    message = do_send_message(tenant, inbox=inbox, to="ana@example.com", subject="Hi", body="x")

    delivery = deliver(message)

    assert delivery.status == Message.Status.FAILED
    assert delivery.error_code == "unsafe_url"
    assert "100.100.100.200" in delivery.error_message
    assert server.requests == [("POST", "/email")]


def test_an_smtp_host_whose_name_now_answers_a_metadata_address_is_not_connected_to(
    tenant, fake_dns, smtp_server
):
    from tests.inbox.conftest import make_email_inbox

    fake_dns["mail.tenant.test"] = ["127.0.0.1"]
    inbox = make_email_inbox(
        tenant, esp="smtp", host="mail.tenant.test", port=smtp_server.port, use_tls=False
    )
    fake_dns["mail.tenant.test"] = ["100.100.100.200"]  # after the check when it was saved
    message = do_send_message(tenant, inbox=inbox, to="ana@example.com", subject="Hi", body="x")

    delivery = deliver(message)

    assert delivery.status == Message.Status.FAILED
    assert delivery.error_code == "unsafe_url"
    assert smtp_server.messages == []


def test_a_twilio_api_host_whose_name_now_answers_a_metadata_address_is_not_called(
    tenant, fake_dns, fake_twilio
):
    from tests.fakes.twilio import make_twilio_inbox

    port = fake_twilio.base_url.rsplit(":", 1)[1]
    fake_dns["api.twilio-proxy.test"] = ["100.100.100.200"]
    inbox = make_twilio_inbox(
        tenant, sim=fake_twilio, api_base_url=f"http://api.twilio-proxy.test:{port}"
    )
    message = do_send_message(tenant, inbox=inbox, to="+14155550111", body="Hi")

    delivery = deliver(message)

    assert delivery.status == Message.Status.FAILED
    assert "not allowed" in delivery.error_message
    assert fake_twilio.sent == []


def test_a_brevo_attachment_redirected_to_a_metadata_address_is_not_fetched(tenant, redirect_to):
    import json

    from django.test import Client
    from django.urls import reverse

    from omnichannel.models import WebhookEvent
    from tests.inbox.conftest import make_email_inbox
    from tests.inbox.email_webhook_helpers import basic_auth, load

    server = redirect_to("http://metadata.test/v3/inbound/attachments/x")
    inbox = make_email_inbox(
        tenant, esp="brevo", api_key="xkeysib-brevo", api_url=f"{server.url}/v3/"
    )

    response = Client().post(
        reverse("webhooks:receive", args=["anymail", inbox.webhook_token, "inbound"]),
        data=json.dumps(load("brevo", "inbound")),
        content_type="application/json",
        headers=basic_auth("anymail-user:anymail-pass"),
    )

    assert response.status_code == 400
    assert "100.100.100.200" in response.content.decode()
    assert WebhookEvent.objects.get().state == WebhookEvent.State.INVALID
    assert not Message.objects.filter(inbox=inbox).exists()
    assert len(server.requests) == 1
