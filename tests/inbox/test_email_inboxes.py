"""Connecting an email inbox: manage.py create_inbox, the API, credential checks; and sending
email through the API."""

import json
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError

from inbox.actions.inboxes import do_create_inbox
from inbox.models import Inbox, Message
from inbox.tasks.delivery import deliver_message_task
from omnichannel.actions import ActionError
from tests.inbox.conftest import make_email_inbox

pytestmark = pytest.mark.django_db


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_create_inbox_connects_a_postmark_inbox_and_prints_its_webhook_urls(
    tenant, client, api_token
):
    out, err = StringIO(), StringIO()
    call_command(
        "create_inbox",
        "--tenant", str(tenant.pk),
        "--provider", "anymail",
        "--kind", "email",
        "--address", "Support@Acme.test",
        "--esp", "postmark",
        "--server-token", "pm-secret-token",
        stdout=out,
        stderr=err,
    )  # fmt: skip

    printed = json.loads(out.getvalue())
    inbox = Inbox.objects.get(pk=printed["id"])
    assert (inbox.kind, inbox.provider, inbox.address) == ("email", "anymail", "support@acme.test")
    credentials = inbox.get_credentials()
    assert credentials["esp"] == "postmark" and credentials["server_token"] == "pm-secret-token"
    assert credentials["webhook_secret"].startswith("centro:")
    assert credentials["webhook_secret"] in err.getvalue()  # shown once, on stderr
    assert "pm-secret-token" not in out.getvalue()
    token = inbox.webhook_token
    assert printed["webhook_urls"]["inbound"].endswith(f"/webhooks/anymail/{token}/inbound/")
    assert printed["webhook_urls"]["status"].endswith(f"/webhooks/anymail/{token}/tracking/")
    assert printed["esp"] == "postmark" and printed["has_credentials"] is True
    assert client.get(f"/api/v1/inboxes/{inbox.pk}", **bearer(api_token)).json() == printed


def test_create_inbox_connects_an_smtp_inbox(tenant):
    out = StringIO()
    call_command(
        "create_inbox",
        "--tenant", str(tenant.pk),
        "--provider", "anymail",
        "--kind", "email",
        "--address", "desk@acme.test",
        "--esp", "smtp",
        "--smtp-host", "127.0.0.1",
        "--smtp-port", "2525",
        "--smtp-username", "desk",
        "--smtp-password", "pw",
        "--smtp-use-tls",
        "--webhook-secret", "hook:secret",
        "--webhook-esp", "mailgun",
        "--webhook-signing-key", "key-1",
        stdout=out,
        stderr=StringIO(),
    )  # fmt: skip

    inbox = Inbox.objects.get(pk=json.loads(out.getvalue())["id"])
    assert inbox.get_credentials() == {
        "esp": "smtp",
        "host": "127.0.0.1",
        "port": 2525,
        "username": "desk",
        "password": "pw",
        "use_tls": True,
        "webhook_secret": "hook:secret",
        "webhook_esp": "mailgun",
        "webhook_signing_key": "key-1",
    }


@pytest.mark.parametrize(
    ("credentials", "fragment"),
    [
        ({"esp": "pigeon"}, "Unknown email service"),
        ({"esp": "postmark", "webhook_secret": "u:p"}, "server_token is required"),
        ({"esp": "postmark", "server_token": "t"}, "webhook_secret"),
        ({"esp": "postmark", "server_token": "t", "webhook_secret": "nocolon"}, "webhook_secret"),
        ({"esp": "mailgun", "api_key": "", "webhook_secret": "u:p"}, "api_key is required"),
        ({"esp": "smtp", "host": "h", "colour": "red", "webhook_secret": "u:p"}, "Unknown SMTP"),
        ({"esp": "smtp", "host": "h", "port": "x", "webhook_secret": "u:p"}, "number"),
    ],
)
def test_it_refuses_unusable_email_credentials(tenant, credentials, fragment):
    with pytest.raises(ActionError, match=fragment):
        do_create_inbox(
            tenant,
            kind="email",
            provider="anymail",
            address="support@acme.test",
            credentials=credentials,
        )


def test_it_refuses_a_private_api_url_when_private_hosts_are_not_allowed(tenant, settings):
    settings.ALLOW_PRIVATE_PROVIDER_HOSTS = False
    with pytest.raises(ActionError, match="not allowed"):
        do_create_inbox(
            tenant,
            kind="email",
            provider="anymail",
            address="support@acme.test",
            credentials={
                "esp": "postmark",
                "server_token": "t",
                "api_url": "http://10.0.0.5/",
                "webhook_secret": "u:p",
            },
        )


def test_the_command_reports_a_bad_address(tenant):
    with pytest.raises(CommandError, match="not an email address"):
        call_command(
            "create_inbox",
            "--tenant", str(tenant.pk),
            "--provider", "anymail",
            "--kind", "email",
            "--address", "support",
            "--esp", "postmark",
            "--server-token", "t",
            stdout=StringIO(),
        )  # fmt: skip


def test_the_api_sends_an_email_with_subject_html_cc_and_headers(tenant, client, api_token):
    inbox = make_email_inbox(tenant)
    response = client.post(
        "/api/v1/messages",
        data={
            "channel": "email",
            "to": "Ana@Example.com",
            "subject": "Your invoice",
            "body": "Attached.",
            "body_html": "<p>Attached.</p>",
            "cc": ["boss@example.com"],
            "headers": {"List-Unsubscribe": "<mailto:u@acme.test>"},
        },
        content_type="application/json",
        **bearer(api_token),
    )

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["subject"] == "Your invoice" and data["email_message_id"].endswith("@acme.test>")
    message = Message.objects.get(pk=data["id"])
    assert message.inbox == inbox
    deliver_message_task.apply(args=[message.deliveries.get().pk])
    [sent] = mail.outbox
    assert sent.to == ["ana@example.com"] and sent.cc == ["boss@example.com"]
    assert sent.extra_headers["List-Unsubscribe"] == "<mailto:u@acme.test>"

    reply = client.post(
        f"/api/v1/conversations/{message.conversation_id}/messages",
        data={"body": "One more thing."},
        content_type="application/json",
        **bearer(api_token),
    )
    assert reply.status_code == 201, reply.content
    assert reply.json()["subject"] == "Re: Your invoice"
    thread = client.get(f"/api/v1/conversations/{message.conversation_id}", **bearer(api_token))
    assert thread.json()["subject"] == "Your invoice"


def test_the_api_refuses_email_fields_on_sms(tenant, client, api_token, sms_inbox):
    response = client.post(
        "/api/v1/messages",
        data={"channel": "sms", "to": "+14155550111", "body": "Hi", "subject": "Nope"},
        content_type="application/json",
        **bearer(api_token),
    )

    assert response.status_code == 400
    assert "email inboxes only" in response.content.decode()


@pytest.fixture
def staff_client(db):
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.create_superuser("staff", "staff@centro.test", "pw")
    client = Client()
    client.force_login(user)
    return client


def admin_form(tenant, credentials: dict) -> dict:
    return {
        "tenant": tenant.pk,
        "name": "Support email",
        "kind": "email",
        "provider": "anymail",
        "address": "Support@Acme.test",
        "credentials": json.dumps(credentials),
        "settings": "{}",
        "is_active": "on",
    }


def test_the_admin_accepts_an_email_inbox_and_checks_its_credentials(tenant, staff_client):
    bad = staff_client.post(
        "/admin/inbox/inbox/add/", admin_form(tenant, {"esp": "postmark", "webhook_secret": "u:p"})
    )
    assert bad.status_code == 200
    assert "server_token is required" in bad.content.decode()
    assert not Inbox.objects.exists()

    good = staff_client.post(
        "/admin/inbox/inbox/add/",
        admin_form(tenant, {"esp": "postmark", "server_token": "t", "webhook_secret": "u:p"}),
    )

    assert good.status_code == 302, good.content.decode()[:3000]
    inbox = Inbox.objects.get()
    assert (inbox.provider, inbox.kind, inbox.address) == ("anymail", "email", "support@acme.test")
    assert inbox.get_credentials()["server_token"] == "t"
