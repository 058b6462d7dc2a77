"""The webhook journal is the core's: a source that belongs to no inbox and no tenant (a
platform integration) is journaled, processed, replayed and deduped like a provider's."""

import pytest

from omnichannel.models import WebhookEvent
from omnichannel.webhooks import MalformedWebhook, handlers_for, journal, register_source

pytestmark = pytest.mark.django_db

SEEN: list[str] = []


def handle_ping(inbox, request) -> str:
    if inbox is not None:
        raise AssertionError("a platform event has no inbox")
    body = request.body.decode()
    if body == "bad":
        raise MalformedWebhook("The ping is not usable.")
    SEEN.append(body)
    return f"Pinged with {body}."


def platform_source(source: str):
    return {"ping": handle_ping} if source == "platform-test" else None


@pytest.fixture(autouse=True)
def registered():
    register_source(platform_source)
    SEEN.clear()
    yield


def record(body: str, **kwargs) -> WebhookEvent:
    return journal.record(
        source="platform-test",
        kind="ping",
        url="https://centro.test/webhooks/platform/",
        content_type="text/plain",
        headers={"X-Test": "1"},
        body=body,
        **kwargs,
    )


def test_a_source_without_inbox_or_tenant_is_journaled_and_processed():
    event = journal.process(record("hello"))

    assert (event.state, event.error) == ("processed", "Pinged with hello.")
    stored = WebhookEvent.objects.get()
    assert stored.tenant is None and stored.inbox is None
    assert (stored.provider, stored.kind, stored.headers) == (
        "platform-test",
        "ping",
        {"X-Test": "1"},
    )


def test_it_replays_from_the_stored_body_and_records_bad_content():
    event = record("again")
    journal.replay(event)
    journal.replay(event)

    assert SEEN == ["again", "again"]  # handlers are idempotent; the journal replays as asked
    bad = journal.process(record("bad"))
    assert (bad.state, bad.error) == ("invalid", "The ping is not usable.")


def test_a_tenant_level_event_is_the_tenants(tenant):
    event = record("tenant", tenant=tenant)

    assert WebhookEvent.objects.for_tenant(tenant).get() == event


def test_a_source_nobody_registered_is_invalid():
    event = journal.record(source="nobody", kind="x", url="/", content_type="text/plain", body="?")

    assert handlers_for("nobody") == {}
    assert journal.process(event).state == "invalid"
