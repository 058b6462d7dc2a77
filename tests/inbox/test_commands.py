import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from contacts.models import Contact
from inbox.models import Inbox, Message
from inbox.providers import get_provider
from inbox.providers.twilio.simulator import inbound_params, sign
from omnichannel.models import WebhookEvent
from tests.inbox.api_factories import ACCOUNT_SID, bearer

AUTH_TOKEN = "0123456789abcdef0123456789abcdef"


def run(*args) -> dict:
    out = StringIO()
    call_command(*args, stdout=out)
    return json.loads(out.getvalue())


def create_inbox(tenant, *extra) -> dict:
    return run(
        "create_inbox",
        "--tenant",
        str(tenant.pk),
        "--provider",
        "twilio",
        "--kind",
        "sms",
        "--address",
        "+1 415 555 0100",
        "--account-sid",
        ACCOUNT_SID,
        "--auth-token",
        AUTH_TOKEN,
        *extra,
    )


@pytest.mark.django_db
def test_it_creates_an_inbox_and_prints_the_same_json_as_the_api(client, tenant, api_token):
    printed = create_inbox(tenant, "--api-base-url", "http://127.0.0.1:8787", "--name", "Desk")
    inbox = Inbox.objects.get(pk=printed["id"])
    assert (inbox.tenant, inbox.kind, inbox.address, inbox.name) == (
        tenant,
        "sms",
        "+14155550100",
        "Desk",
    )
    assert inbox.get_credentials() == {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "api_base_url": "http://127.0.0.1:8787",
    }
    assert AUTH_TOKEN not in json.dumps(printed)
    assert printed["webhook_urls"]["inbound"].endswith(
        f"/webhooks/twilio/{inbox.webhook_token}/inbound/"
    )
    assert client.get(f"/api/v1/inboxes/{inbox.pk}", **bearer(api_token)).json() == printed


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--address", "555"), "not a valid phone number"),
        (("--account-sid", "SK123"), "32 hexadecimal"),
        (("--api-base-url", "gopher://x"), "http:// or https://"),
        (("--messaging-service-sid", "MG1"), "messaging_service_sid"),
    ],
)
def test_it_refuses_bad_create_inbox_input_clearly(tenant, args, fragment):
    with pytest.raises(CommandError, match=fragment):
        create_inbox(tenant, *args)
    assert not Inbox.objects.exists()


@pytest.mark.django_db
def test_it_refuses_an_unknown_tenant_and_a_duplicate_number(tenant):
    with pytest.raises(CommandError, match="no active tenant with id 999999"):
        run(
            "create_inbox",
            "--tenant",
            "999999",
            "--kind",
            "sms",
            "--address",
            "+14155550100",
            "--account-sid",
            ACCOUNT_SID,
            "--auth-token",
            AUTH_TOKEN,
        )
    create_inbox(tenant)
    with pytest.raises(CommandError, match="already has"):
        create_inbox(tenant)


@pytest.mark.django_db
def test_it_builds_inbound_forms_that_twilio_parsing_accepts(tenant):
    from tests.inbox.api_factories import make_inbox

    whatsapp = make_inbox(tenant, kind="whatsapp", address="+14155238886")
    params = inbound_params(
        whatsapp,
        sender="+14155550111",
        body="see photo",
        media_urls=["https://example.com/p.jpg"],
        profile_name="Jane Doe",
    )
    assert params["From"] == "whatsapp:+14155550111" and params["To"] == "whatsapp:+14155238886"
    assert params["MessageSid"].startswith("SM") and len(params["MessageSid"]) == 34
    assert params["AccountSid"] == ACCOUNT_SID and params["WaId"] == "14155550111"
    assert (params["NumMedia"], params["MediaContentType0"]) == ("1", "image/jpeg")
    (event,) = get_provider(whatsapp).parse_inbound(params)
    assert (event.sender, event.recipient, event.profile_name) == (
        "+14155550111",
        "+14155238886",
        "Jane Doe",
    )
    assert event.media[0].url == "https://example.com/p.jpg"
    # Signed with Twilio's own validator, so it verifies with the inbox's token.
    from twilio.request_validator import RequestValidator

    url = "https://centro.example.com/webhooks/twilio/x/inbound/"
    assert RequestValidator("s3cr3t-auth-token").validate(url, params, sign(whatsapp, url, params))


@pytest.mark.django_db(transaction=True)
def test_it_posts_a_signed_inbound_sms_to_the_running_server(live_server, tenant):
    from tests.inbox.api_factories import make_inbox

    inbox = make_inbox(tenant, address="+14155550100")
    with override_settings(PUBLIC_BASE_URL=live_server.url):
        printed = run(
            "simulate_inbound",
            "--inbox",
            str(inbox.pk),
            "--from",
            "+1 415 555 0111",
            "--body",
            "Is the pool open?",
        )
    assert printed["status_code"] == 200
    message = Message.objects.get(external_id=printed["message_sid"])
    assert (message.inbox, message.direction, message.body) == (inbox, "in", "Is the pool open?")
    assert message.conversation.contact == Contact.objects.get(tenant=tenant, phone="+14155550111")
    assert WebhookEvent.objects.filter(inbox=inbox, external_id=printed["message_sid"]).exists()


@pytest.mark.django_db(transaction=True)
def test_it_posts_a_whatsapp_inbound_with_the_profile_name(live_server, tenant):
    from tests.inbox.api_factories import make_inbox

    inbox = make_inbox(tenant, kind="whatsapp", address="+14155238886")
    with override_settings(PUBLIC_BASE_URL=live_server.url):
        printed = run(
            "simulate_inbound",
            "--inbox",
            str(inbox.pk),
            "--from",
            "+14155550122",
            "--body",
            "hola",
            "--profile-name",
            "Lucía",
        )
    assert printed["status_code"] == 200
    message = Message.objects.get(external_id=printed["message_sid"])
    assert message.conversation.contact.name == "Lucía"


@pytest.mark.django_db(transaction=True)
def test_it_signs_for_the_public_url_while_posting_to_another_base_url(live_server, tenant):
    from tests.inbox.api_factories import make_inbox

    inbox = make_inbox(tenant)
    # Behind a proxy: Twilio signs the public URL, the request reaches the server elsewhere.
    with override_settings(PUBLIC_BASE_URL="https://centro.example.com"):
        printed = run(
            "simulate_inbound",
            "--inbox",
            str(inbox.pk),
            "--from",
            "+14155550111",
            "--body",
            "via the proxy",
            "--url",
            live_server.url,
        )
    assert printed["status_code"] == 200
    assert Message.objects.get(external_id=printed["message_sid"]).body == "via the proxy"


@pytest.mark.django_db(transaction=True)
def test_it_fails_loudly_when_the_server_refuses_the_webhook(live_server, tenant):
    from tests.inbox.api_factories import make_inbox

    inbox = make_inbox(tenant)
    Inbox.objects.filter(pk=inbox.pk).update(is_active=False)  # its webhook answers 404 now
    out = StringIO()
    with (
        override_settings(PUBLIC_BASE_URL=live_server.url),
        pytest.raises(CommandError, match="answered 404"),
    ):
        call_command(
            "simulate_inbound",
            "--inbox",
            str(inbox.pk),
            "--from",
            "+14155550111",
            "--body",
            "hi",
            stdout=out,
        )
    assert json.loads(out.getvalue())["status_code"] == 404
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_bad_sender_or_an_unknown_inbox(tenant):
    from tests.inbox.api_factories import make_inbox

    inbox = make_inbox(tenant)
    with pytest.raises(CommandError, match="--from"):
        run("simulate_inbound", "--inbox", str(inbox.pk), "--from", "abc", "--body", "x")
    with pytest.raises(CommandError, match="no inbox with id"):
        run("simulate_inbound", "--inbox", "999999", "--from", "+14155550111", "--body", "x")


@pytest.mark.django_db(transaction=True)
def test_it_signs_for_the_url_it_posts_to_when_the_server_has_another_public_url(
    live_server, tenant
):
    """`make run` on port 8310 (PUBLIC_BASE_URL http://localhost:8310) and, from a fresh shell
    (PUBLIC_BASE_URL left at its default), `simulate_inbound --url http://127.0.0.1:8310`."""
    import os
    import subprocess
    import sys
    from urllib.parse import urlsplit, urlunsplit

    from django.conf import settings
    from django.db import connection

    from tests.inbox.api_factories import make_inbox

    inbox = make_inbox(tenant, address="+14155550100")
    database = urlsplit(os.environ["DATABASE_URL"])._replace(
        path="/" + connection.settings_dict["NAME"]
    )
    with override_settings(PUBLIC_BASE_URL=live_server.url):
        process = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "simulate_inbound",
                "--inbox",
                str(inbox.pk),
                "--from",
                "+14155550111",
                "--body",
                "Is the pool open?",
                "--url",
                live_server.url.replace("localhost", "127.0.0.1"),
            ],
            cwd=settings.BASE_DIR,
            env={
                **os.environ,
                "DATABASE_URL": urlunsplit(database),
                "PUBLIC_BASE_URL": "http://localhost:8000",
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert process.returncode == 0, process.stderr
    printed = json.loads(process.stdout)
    assert printed["status_code"] == 200
    assert Message.objects.get(external_id=printed["message_sid"]).body == "Is the pool open?"


@pytest.mark.django_db(transaction=True)
def test_it_plays_an_imessage_customer_on_a_bluebubbles_inbox(live_server, tenant):
    from inbox.actions.inboxes import do_create_inbox

    inbox = do_create_inbox(
        tenant,
        kind="imessage",
        provider="bluebubbles",
        address="+14155550100",
        credentials={
            "server_url": "http://127.0.0.1:9",  # never called: nothing is sent
            "password": "bb-password",
            "webhook_password": True,  # the URL must carry it
        },
    )
    with override_settings(PUBLIC_BASE_URL=live_server.url):
        printed = run(
            "simulate_inbound", "--inbox", str(inbox.pk), "--from", "+14155550111", "--body", "Hi"
        )
    assert printed["status_code"] == 200
    message = Message.objects.get(external_id=printed["message_sid"])
    assert (message.inbox, message.direction, message.body) == (inbox, "in", "Hi")
    assert message.conversation.external_thread_id == "iMessage;-;+14155550111"
    assert message.conversation.contact.phone == "+14155550111"
    with pytest.raises(CommandError, match="text messages only"):
        run(
            "simulate_inbound",
            *("--inbox", str(inbox.pk), "--from", "+14155550111", "--body", "x"),
            *("--media-url", "https://example.com/p.jpg"),
        )
