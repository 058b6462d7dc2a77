"""The composer's SMS counter: characters, segments and cost of the reply as typed, the same
words as the template editor's counter, shown only when the reply goes by SMS."""

import re

import pytest

from tests.inbox.api_factories import make_contact, make_conversation, make_inbox
from tests.inbox.conftest import make_email_inbox

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def counter_url(conversation) -> str:
    return f"/inbox/c/{conversation.pk}/sms-counter/"


def counter_words(html: str) -> str:
    """The counter's text, whitespace folded: what the agent reads."""
    match = re.search(r'<p id="[a-z-]*counter"[^>]*>(.*?)</p>', html, re.S)
    assert match, html
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


@pytest.mark.parametrize(
    "body",
    [
        "",
        "Hola, ¿qué tal? Su mesa está lista",
        "a" * 161,
        "{llaves} y [corchetes] cuestan € 2",
        "Hola 😀 amigo",
        "😀" * 36,
        "ÁÉÍÓÚ " * 30,
    ],
)
def test_the_counter_says_what_the_template_editors_says_for_the_same_text(
    tenant, owner, login, body
):
    conversation = make_conversation(make_inbox(tenant, kind="sms"))
    client = login(owner)

    composer = client.post(counter_url(conversation), {"body": body, "mode": "reply"}, headers=HTMX)
    editor = client.post(
        "/campaigns/templates/segments/", {"body": body, "channel": "sms"}, headers=HTMX
    )

    assert composer.status_code == 200
    assert counter_words(composer.content.decode()) == counter_words(editor.content.decode())


def test_the_counter_shows_under_an_sms_conversations_composer(tenant, owner, login):
    conversation = make_conversation(make_inbox(tenant, kind="sms"))
    html = login(owner).get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert 'id="sms-counter"' in html
    assert "0 segments" in counter_words(html)


def test_the_counter_counts_segments_and_cost_as_typed(tenant, owner, login):
    conversation = make_conversation(make_inbox(tenant, kind="sms"))
    response = login(owner).post(
        counter_url(conversation), {"body": "a" * 161, "mode": "reply"}, headers=HTMX
    )
    words = counter_words(response.content.decode())
    assert words.startswith("2 segments · GSM-7 · 161 characters (153 per segment)")
    assert "$0.0166" in words


def test_the_counter_is_empty_for_a_private_note(tenant, owner, login):
    conversation = make_conversation(make_inbox(tenant, kind="sms"))
    response = login(owner).post(
        counter_url(conversation), {"body": "Nota 😀", "mode": "note"}, headers=HTMX
    )
    assert response.status_code == 200
    assert counter_words(response.content.decode()) == ""


def test_no_counter_for_an_email_conversation_unless_the_reply_goes_by_sms(tenant, owner, login):
    contact = make_contact(tenant, email="ana@example.com")
    conversation = make_conversation(make_email_inbox(tenant), contact)
    sms = make_inbox(tenant, kind="sms")
    client = login(owner)

    page = client.get(f"/inbox/c/{conversation.pk}/").content.decode()
    by_email = client.post(counter_url(conversation), {"body": "Hola", "mode": "reply"})
    by_sms = client.post(counter_url(conversation), {"body": "Hola", "via": sms.pk})

    assert counter_words(page) == ""
    assert counter_words(by_email.content.decode()) == ""
    assert counter_words(by_sms.content.decode()).startswith("1 segment · GSM-7")


def test_the_counter_says_mms_when_files_are_attached(tenant, owner, login):
    conversation = make_conversation(make_inbox(tenant, kind="sms"))
    response = login(owner).post(
        counter_url(conversation), {"body": "Foto", "mode": "reply", "media": "1"}, headers=HTMX
    )
    assert counter_words(response.content.decode()).startswith("MMS")


def test_another_tenants_conversation_or_inbox_is_not_found(tenant, other_tenant, owner, login):
    theirs = make_conversation(make_inbox(other_tenant, kind="sms"))
    ours = make_conversation(make_email_inbox(tenant))
    their_inbox = make_inbox(other_tenant, kind="sms")
    client = login(owner)
    assert client.post(counter_url(theirs), {"body": "x"}).status_code == 404
    assert client.post(counter_url(ours), {"body": "x", "via": their_inbox.pk}).status_code == 404
