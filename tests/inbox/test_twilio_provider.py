"""The Twilio provider with the REAL twilio SDK against the simulator over HTTP."""

import json
import socket

import pytest
from django.test import RequestFactory
from django.urls import reverse
from twilio.request_validator import RequestValidator

from inbox.models import Message
from inbox.providers import get_provider
from inbox.providers.base import MalformedWebhook, OutboundMessage, ProviderError, TemplateRef
from inbox.providers.twilio.provider import TwilioProvider, parse_retry_after
from omnichannel.channels import Channel
from tests.inbox.webhook_helpers import load_fixture

RECIPIENT = "+14155550111"


def outbound(body="Hello from Centro", *, media_urls=(), template=None) -> OutboundMessage:
    if template is not None:
        template = TemplateRef(template["content_sid"], template.get("variables") or {})
    return OutboundMessage(
        recipient=RECIPIENT, body=body, media_urls=tuple(media_urls), template=template
    )


def status_url(inbox) -> str:
    return "http://testserver" + reverse(
        "webhooks:receive", args=["twilio", inbox.webhook_token, "status"]
    )


def test_it_sends_an_sms_with_the_real_sdk(sms_inbox, fake_twilio):
    result = get_provider(sms_inbox).send(outbound())

    assert result.provider_message_id.startswith("SM") and len(result.provider_message_id) == 34
    assert result.status == Message.Status.QUEUED
    [request] = fake_twilio.sent
    creds = sms_inbox.get_credentials()
    assert request.path == f"/2010-04-01/Accounts/{creds['account_sid']}/Messages.json"
    assert request.authenticated
    assert request.headers["User-Agent"].startswith("twilio-python/")
    assert request.params == {
        "To": RECIPIENT,
        "From": sms_inbox.address,
        "Body": "Hello from Centro",
        "StatusCallback": status_url(sms_inbox),
    }
    assert sms_inbox.webhook_token in request.params["StatusCallback"]


def test_it_sends_whatsapp_with_channel_prefixes(whatsapp_inbox, fake_twilio):
    get_provider(whatsapp_inbox).send(outbound("Hola"))

    [request] = fake_twilio.sent
    assert request.params["To"] == f"whatsapp:{RECIPIENT}"
    assert request.params["From"] == f"whatsapp:{whatsapp_inbox.address}"


def test_it_sends_through_a_messaging_service_instead_of_a_from_number(
    tenant, twilio_inbox, fake_twilio
):
    service = "MG" + "1" * 32
    inbox = twilio_inbox(tenant, messaging_service_sid=service)

    result = get_provider(inbox).send(outbound())

    [request] = fake_twilio.sent
    assert request.params["MessagingServiceSid"] == service
    assert "From" not in request.params
    assert result.status == Message.Status.QUEUED  # Twilio says "accepted"


def test_it_sends_media_by_url(sms_inbox, fake_twilio):
    urls = ["https://cdn.example.com/a.jpg", "https://cdn.example.com/b.pdf"]

    get_provider(sms_inbox).send(outbound("Photos", media_urls=urls))

    [request] = fake_twilio.sent
    assert request.form["MediaUrl"] == urls
    assert request.params["Body"] == "Photos"


def test_it_sends_a_whatsapp_template_as_content_sid_and_variables(whatsapp_inbox, fake_twilio):
    template = {"content_sid": "HX" + "a" * 32, "variables": {"1": "Ana", "2": "5 May"}}

    get_provider(whatsapp_inbox).send(outbound("", template=template))

    [request] = fake_twilio.sent
    assert request.params["ContentSid"] == template["content_sid"]
    assert json.loads(request.params["ContentVariables"]) == {"1": "Ana", "2": "5 May"}
    assert "Body" not in request.params and "MediaUrl" not in request.params


def send_error(inbox, fake_twilio, **response) -> ProviderError:
    fake_twilio.queue_response(**response)
    with pytest.raises(ProviderError) as caught:
        get_provider(inbox).send(outbound())
    return caught.value


def test_it_maps_429_to_a_retryable_error_with_retry_after(sms_inbox, fake_twilio):
    error = send_error(sms_inbox, fake_twilio, status=429, code=20429, headers={"Retry-After": "7"})
    assert not error.permanent
    assert error.retry_after == 7
    assert error.code == "20429"


def test_it_maps_5xx_to_a_retryable_error(sms_inbox, fake_twilio):
    error = send_error(sms_inbox, fake_twilio, status=503, code=20500)
    assert not error.permanent and error.retry_after is None
    assert "503" in error.message


@pytest.mark.parametrize(
    ("code", "words", "opt_out"),
    [
        (21211, "not valid", False),
        (21408, "Geo Permissions", False),
        (21610, "opted out", True),
        (21614, "cannot receive SMS", False),
        (63016, "Outside WhatsApp's 24-hour window: send an approved template", False),
        (21999, "error 21999", False),
    ],
)
def test_it_maps_permanent_twilio_errors_to_sentences_for_agents(
    sms_inbox, fake_twilio, code, words, opt_out
):
    error = send_error(sms_inbox, fake_twilio, status=400, code=code)
    assert error.permanent
    assert error.code == str(code)
    assert words in error.message
    assert error.opt_out is opt_out


def test_it_treats_wrong_credentials_as_permanent(tenant, twilio_inbox, fake_twilio):
    inbox = twilio_inbox(tenant)
    inbox.set_credentials({**inbox.get_credentials(), "auth_token": "wrong"})

    with pytest.raises(ProviderError) as caught:
        TwilioProvider(inbox).send(outbound())

    assert caught.value.permanent and caught.value.code == "20003"
    assert "credentials" in caught.value.message
    assert fake_twilio.sent[0].authenticated is False


def test_it_treats_an_unreachable_api_as_retryable(tenant, twilio_inbox):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = twilio_inbox(tenant, api_base_url=f"http://127.0.0.1:{port}")

    with pytest.raises(ProviderError) as caught:
        get_provider(inbox).send(outbound())

    assert not caught.value.permanent and caught.value.code == "network"


def test_it_treats_a_timeout_as_retryable(tenant, twilio_inbox, fake_twilio):
    inbox = twilio_inbox(tenant, api_timeout=0.3)
    fake_twilio.queue_response(status=201, body={}, delay=1.0)

    with pytest.raises(ProviderError) as caught:
        get_provider(inbox).send(outbound())

    assert not caught.value.permanent and "timeout" in caught.value.message


def test_it_reads_retry_after_as_seconds_or_http_date():
    assert parse_retry_after("3") == 3
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # in the past
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# --- webhooks: verify and parse -------------------------------------------------------------


def signed_request(inbox, params, *, token=None, path=None):
    path = path or reverse("webhooks:receive", args=["twilio", inbox.webhook_token, "inbound"])
    token = token or inbox.get_credentials()["auth_token"]
    signature = RequestValidator(token).compute_signature("http://testserver" + path, params)
    return RequestFactory().post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


def test_it_verifies_twilio_signatures_over_the_public_url(sms_inbox):
    params = load_fixture("inbound_sms")
    provider = get_provider(sms_inbox)

    assert provider.verify(signed_request(sms_inbox, params))
    assert not provider.verify(signed_request(sms_inbox, params, token="someone-else"))
    tampered = signed_request(sms_inbox, params)
    tampered.POST = tampered.POST.copy()
    tampered.POST["Body"] = "Changed"
    assert not provider.verify(tampered)
    unsigned = RequestFactory().post("/webhooks/x/", params)
    assert not provider.verify(unsigned)


def test_it_parses_an_inbound_sms(sms_inbox):
    [event] = get_provider(sms_inbox).parse_inbound(load_fixture("inbound_sms"))

    assert event.external_id == "SM0123456789abcdef0123456789abcdef"
    assert event.sender == "+14155550111"
    assert event.recipient == "+14155550100"
    assert event.body == "Hello"
    assert event.media == ()
    assert event.metadata["channel"] == "sms"


def test_it_parses_an_inbound_whatsapp_message_with_media(whatsapp_inbox):
    [event] = get_provider(whatsapp_inbox).parse_inbound(load_fixture("inbound_whatsapp_media"))

    assert event.sender == "+14155550111"
    assert event.recipient == "+14155238886"
    assert event.profile_name == "Jane Doe"
    assert [(m.content_type, m.url.rsplit("/", 1)[1]) for m in event.media] == [
        ("image/jpeg", "ME11111111111111111111111111111111")
    ]
    assert event.metadata["WaId"] == "14155550111"
    assert event.metadata["channel"] == "whatsapp"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"MessageSid": "", "SmsSid": ""}, "no MessageSid"),
        ({"MessageSid": "nope"}, "not a Twilio message SID"),
        ({"From": ""}, "no From"),
        ({"From": "whatsapp:+1"}, "From parameter is not usable"),
        ({"To": ""}, "no To"),
        ({"NumMedia": "2"}, "MediaUrl0 is missing"),
        ({"NumMedia": "x"}, "not a number"),
    ],
)
def test_it_refuses_malformed_inbound_params_clearly(sms_inbox, change, words):
    params = {**load_fixture("inbound_sms"), **change}
    with pytest.raises(MalformedWebhook, match=words):
        get_provider(sms_inbox).parse_inbound(params)


@pytest.mark.parametrize(
    ("fixture", "status", "code"),
    [
        ("status_sending", Message.Status.SENDING, ""),
        ("status_sent", Message.Status.SENT, ""),
        ("status_delivered", Message.Status.DELIVERED, ""),
        ("status_undelivered_30003", Message.Status.UNDELIVERED, "30003"),
        ("status_whatsapp_read", Message.Status.READ, ""),
    ],
)
def test_it_parses_status_callbacks(sms_inbox, fixture, status, code):
    event = get_provider(sms_inbox).parse_status(load_fixture(fixture))

    assert event.status == status
    assert event.error_code == code
    assert event.provider_message_id.startswith("SM")
    if code:
        assert "unreachable" in event.error_message


@pytest.mark.parametrize(
    ("twilio_status", "ours"),
    [("accepted", "queued"), ("scheduled", "queued"), ("queued", "queued"), ("failed", "failed")],
)
def test_it_maps_initial_and_failed_statuses(sms_inbox, twilio_status, ours):
    params = {**load_fixture("status_sent"), "MessageStatus": twilio_status}
    assert get_provider(sms_inbox).parse_status(params).status == ours


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"MessageStatus": "received"}, "inbound message"),
        ({"MessageStatus": "exploded"}, "not one of"),
        ({"MessageStatus": "", "SmsStatus": ""}, "no MessageStatus"),
        ({"MessageSid": "", "SmsSid": ""}, "no MessageSid"),
    ],
)
def test_it_refuses_malformed_status_callbacks_clearly(sms_inbox, change, words):
    params = {**load_fixture("status_sent"), **change}
    with pytest.raises(MalformedWebhook, match=words):
        get_provider(sms_inbox).parse_status(params)


def test_it_declares_capabilities_per_channel(tenant, twilio_inbox):
    sms = get_provider(twilio_inbox(tenant, kind=Channel.SMS)).capabilities
    whatsapp = get_provider(twilio_inbox(tenant, kind=Channel.WHATSAPP)).capabilities

    assert sms.media and not sms.read_receipts and sms.session_window_hours is None
    assert whatsapp.media and whatsapp.read_receipts and whatsapp.session_window_hours == 24
