"""Hostile input in authentic webhooks: NUL and other control characters, lone surrogates,
digits of other scripts and arbitrary unicode in every field of every provider's payload.

Each parser (Twilio inbound and status; Postmark, Mailgun, SendGrid, Brevo and Mailjet inbound
and tracking) gets fixtures altered by hypothesis, posted signed through the real URL. Whatever
the request holds, the answer is 2xx or 400, never 500; a 400 is journaled as invalid and writes
nothing else; a stored email or message is stored whole; replaying the journaled request from
its stored bytes ends the same way.
"""

import copy
import itertools
import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.models import Consent, Contact
from inbox.models import Attachment, Conversation, Delivery, Message
from omnichannel.models import WebhookEvent
from omnichannel.text import ascii_int, has_control_chars
from omnichannel.webhooks import journal
from tests.inbox.conftest import MAILGUN_SIGNING_KEY, make_email_inbox
from tests.inbox.email_webhook_helpers import load, post_email_webhook
from tests.inbox.webhook_helpers import make_outbound, post_twilio, twilio_params

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CONTROLS = [chr(code) for code in range(0x20)] + ["\x7f", "\x85", "\x9f"]
# Digits int() refuses or reads otherwise, separators, escapes that look like NUL, markup.
ODD = [
    "²",
    "١٢",
    "\U0001d7d9",
    "\u2028",
    "\ufeff",
    "\u202e",
    "%00",
    "\\u0000",
    "<",
    ">",
    "@",
    ";",
    '"',
]
_serial = itertools.count(1)


def hostile_text(*, surrogates: bool) -> st.SearchStrategy[str]:
    pieces = [st.just("\x00"), st.characters(codec="utf-8"), st.sampled_from(CONTROLS + ODD)]
    if surrogates:  # a JSON "\ud800" escape decodes to a lone surrogate
        pieces.append(st.characters(categories=["Cs"]))
    return st.lists(st.one_of(pieces), max_size=20).map("".join)


def leaf_paths(value, path=()) -> list[tuple]:
    """The paths of every text or number in a JSON-like value."""
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in leaf_paths(item, (*path, key))]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in leaf_paths(item, (*path, index))]
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return [path]
    return []


def changes(payload, *, surrogates: bool, keep=()) -> st.SearchStrategy[list]:
    """One to six fields of ``payload`` (except ``keep``) replaced by hostile text, or with it
    inserted somewhere in their value."""
    paths = [p for p in leaf_paths(payload) if p[0] not in keep]
    text = hostile_text(surrogates=surrogates)
    how = st.one_of(
        st.tuples(st.just("replace"), st.just(0), text),
        st.tuples(st.just("insert"), st.integers(0, 300), text.filter(bool)),
    )
    return st.lists(st.tuples(st.sampled_from(paths), how), min_size=1, max_size=6)


def altered(payload, alterations: list):
    payload = copy.deepcopy(payload)
    for path, (how, position, text) in alterations:
        parent = payload
        for key in path[:-1]:
            parent = parent[key]
        original = str(parent[path[-1]])
        if how == "replace":
            parent[path[-1]] = text
        else:
            position %= len(original) + 1
            parent[path[-1]] = original[:position] + text + original[position:]
    return payload


def fresh(payload, old_id: str):
    """``payload`` with its Message-ID made unique, so that each example is a new email."""
    return json.loads(json.dumps(payload).replace(old_id, f"n{next(_serial)}.{old_id}"))


def counts(tenant) -> dict[str, int]:
    models = (Message, Attachment, Conversation, Contact, Consent, WebhookEvent)
    return {m.__name__: m.objects.filter(tenant=tenant).count() for m in models}


def statuses(tenant) -> list:
    return list(Delivery.objects.filter(tenant=tenant).order_by("pk").values_list("status"))


def check_outcome(tenant, response, before: dict, statuses_before: list, *, kind: str) -> str:
    """Assert the request ended whole or as nothing but an invalid journal row; which it was."""
    assert response.status_code in (200, 204, 400), response.content[:500]
    after = counts(tenant)
    assert after["WebhookEvent"] == before["WebhookEvent"] + 1
    event = WebhookEvent.objects.filter(tenant=tenant).latest("pk")
    assert not has_control_chars(event.error.replace("\n", " "))
    if response.status_code == 400:
        assert event.state == WebhookEvent.State.INVALID
        assert response.content.decode() == event.error
        assert {k: v for k, v in after.items() if k != "WebhookEvent"} == {
            k: v for k, v in before.items() if k != "WebhookEvent"
        }
        assert statuses(tenant) == statuses_before
        return "refused"
    allowed = (WebhookEvent.State.PROCESSED,)
    if kind == "status":  # a callback for an id not recorded yet is deferred
        allowed += (WebhookEvent.State.PENDING,)
    assert event.state in allowed, event.error
    for message in Message.objects.filter(tenant=tenant).order_by("-pk")[
        : after["Message"] - before["Message"]
    ]:
        assert not has_control_chars(message.external_id + message.email_message_id)
    return "stored" if after["Message"] > before["Message"] else "applied"


def check_replay(tenant, event_pk: int, state: str) -> None:
    """The journaled bytes replay to the same end, and store nothing twice."""
    before = counts(tenant)
    event = journal.replay(WebhookEvent(pk=event_pk))
    if state == WebhookEvent.State.PENDING:
        assert event.state in (WebhookEvent.State.PENDING, WebhookEvent.State.PROCESSED)
    else:
        assert event.state == state, event.error
    assert counts(tenant) == before


@pytest.fixture
def webhook_client() -> Client:
    # One per test (each new client builds the middleware again); a view that raises makes the
    # test fail with the exception itself.
    return Client(raise_request_exception=True)


# --- Twilio -------------------------------------------------------------------------------------


def test_twilio_inbound_answers_200_or_400_to_any_field(tenant, webhook_client, whatsapp_inbox):
    base = twilio_params("inbound_whatsapp_media")
    outcomes = set()

    @FUZZ
    @given(changes(base, surrogates=False))
    def run(alterations):
        sid = f"SM{next(_serial):032x}"
        params = altered({**base, "MessageSid": sid, "SmsSid": sid}, alterations)
        before, statuses_before = counts(tenant), statuses(tenant)
        response = post_twilio(
            whatsapp_inbox, "inbound_whatsapp_media", client=webhook_client, **params
        )
        outcome = check_outcome(tenant, response, before, statuses_before, kind="inbound")
        if outcome == "stored":
            message = Message.objects.filter(tenant=tenant).latest("pk")
            assert message.external_id == sid
            assert message.attachments.count() == ascii_int(params["NumMedia"].strip() or "0")
        outcomes.add(outcome)
        event = WebhookEvent.objects.filter(tenant=tenant).latest("pk")
        check_replay(tenant, event.pk, event.state)

    run()
    assert {"stored", "refused"} <= outcomes


def test_twilio_status_answers_204_or_400_to_any_field(tenant, webhook_client, sms_inbox):
    base = twilio_params("status_delivered")
    make_outbound(sms_inbox, to="+14155550111", sid=base["MessageSid"])
    outcomes = set()

    @FUZZ
    @given(changes(base, surrogates=False))
    def run(alterations):
        params = altered(base, alterations)
        before, statuses_before = counts(tenant), statuses(tenant)
        response = post_twilio(sms_inbox, "status_delivered", client=webhook_client, **params)
        outcomes.add(check_outcome(tenant, response, before, statuses_before, kind="status"))
        event = WebhookEvent.objects.filter(tenant=tenant).latest("pk")
        check_replay(tenant, event.pk, event.state)

    run()
    assert {"applied", "refused"} <= outcomes


# --- email --------------------------------------------------------------------------------------

# Each ESP's inbound fixture: the Message-ID made unique per example, the fields that carry the
# signature (not fuzzed: altering them is a 403, tested elsewhere), the attachments it holds.
INBOUND = {
    "postmark": ("CAGXpo2WKfxHWZ5UFYCR3H_J9SNMG+5AXUovfEFL6DjWBJSyZaA", (), 1),
    "mailgun": ("CAF8s2u0Y7xq8yGi1=5p", ("timestamp", "token", "signature"), 1),
    "sendgrid": ("CAN5r9k1sGq", (), 0),
    "brevo": ("CAJ7m3u9sKp0", (), 0),
    "mailjet": ("CAE5Zh0ZpHZ7gK", (), 1),
}
# Each ESP's tracking fixture and the message id it names (a Delivery with it is made).
TRACKING = {
    "postmark": ("tracking_bounce", "00000000-0000-0000-0000-000000000000", ()),
    "mailgun": ("tracking_delivered", "00000000000000.0000.0000@acme.test", ("signature",)),
    "sendgrid": ("tracking_delivered", "14c5d75ce93.dfd.64b469@ismtpd-555", ()),
    "brevo": ("tracking_delivered", "202612030940.5787683@smtp-relay.mailin.fr", ()),
    "mailjet": ("tracking_sent", "19421777835146490", ()),
}


def esp_inbox(tenant, esp: str):
    return make_email_inbox(
        tenant,
        esp=esp,
        api_key="key-api",
        webhook_signing_key=MAILGUN_SIGNING_KEY,
        server_token="pm-token",
    )


def sent_email(inbox, provider_message_id: str) -> Delivery:
    """An email the inbox sent to Ana, which the ESP knows as ``provider_message_id``."""
    contact = Contact.objects.create(
        tenant=inbox.tenant, name="Ana García", email="ana.garcia@example.com"
    )
    conversation = Conversation.objects.create(
        tenant=inbox.tenant, inbox=inbox, contact=contact, subject="Booking 4411"
    )
    message = Message.objects.create(
        tenant=inbox.tenant,
        conversation=conversation,
        inbox=inbox,
        direction=Message.Direction.OUTBOUND,
        sender_type=Message.SenderType.AGENT,
        body="Confirmed.",
        subject="Booking 4411",
        status=Message.Status.SENT,
    )
    return Delivery.objects.create(
        tenant=inbox.tenant,
        message=message,
        inbox=inbox,
        provider=inbox.provider,
        recipient=contact.email,
        status=Message.Status.SENT,
        provider_message_id=provider_message_id,
        attempts=1,
    )


def inbound_fixture(esp: str):
    payload = load(esp, "inbound")
    if esp == "brevo":  # Brevo's attachments are fetched from its API: none here
        for item in payload["items"]:
            item["Attachments"] = []
    return payload


def declared_attachments(esp: str, payload, alterations: list) -> int | None:
    """How many attachments the altered request holds, when the alterations left them alone."""
    touched = {str(path[0]) for path, _ in alterations}
    if touched & {"Attachments", "attachment-count", "Parts", "Attachment1", "items"}:
        return None
    return INBOUND[esp][2]


@pytest.mark.parametrize("esp", sorted(INBOUND))
def test_email_inbound_stores_whole_or_refuses_any_field(tenant, webhook_client, esp):
    inbox = esp_inbox(tenant, esp)
    old_id, keep, _ = INBOUND[esp]
    base = inbound_fixture(esp)
    form = esp in ("mailgun", "sendgrid")
    outcomes = set()

    @FUZZ
    @given(changes(base, surrogates=not form, keep=keep), st.booleans())
    def run(alterations, ensure_ascii):
        payload = altered(fresh(base, old_id), alterations)
        before, statuses_before = counts(tenant), statuses(tenant)
        response = post_email_webhook(
            inbox, esp, "inbound", payload, ensure_ascii=ensure_ascii, client=webhook_client
        )
        outcome = check_outcome(tenant, response, before, statuses_before, kind="inbound")
        expected = declared_attachments(esp, payload, alterations)
        if outcome == "stored" and expected is not None:
            message = Message.objects.filter(tenant=tenant).latest("pk")
            assert message.attachments.count() == expected
        outcomes.add(outcome)
        event = WebhookEvent.objects.filter(tenant=tenant).latest("pk")
        check_replay(tenant, event.pk, event.state)

    run()
    assert {"stored", "refused"} <= outcomes


@pytest.mark.parametrize("esp", sorted(TRACKING))
def test_email_tracking_applies_or_refuses_any_field(tenant, webhook_client, esp):
    inbox = esp_inbox(tenant, esp)
    name, message_id, keep = TRACKING[esp]
    sent_email(inbox, message_id)
    base = load(esp, name)
    outcomes = set()

    @FUZZ
    @given(changes(base, surrogates=esp != "mailgun", keep=keep), st.booleans())
    def run(alterations, ensure_ascii):
        payload = altered(base, alterations)
        before, statuses_before = counts(tenant), statuses(tenant)
        response = post_email_webhook(
            inbox, esp, name, payload, ensure_ascii=ensure_ascii, client=webhook_client
        )
        outcomes.add(check_outcome(tenant, response, before, statuses_before, kind="status"))
        event = WebhookEvent.objects.filter(tenant=tenant).latest("pk")
        check_replay(tenant, event.pk, event.state)

    run()
    assert "refused" in outcomes
    assert outcomes - {"refused"}
