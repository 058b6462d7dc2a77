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
