"""Email in the inbox UI: subject, sanitized HTML with remote images blocked until allowed,
quoted history behind a toggle, CC/BCC on replies (only for email), bounded queries."""

import re

import pytest
from django.core import mail

from inbox.models import Message
from inbox.tasks.delivery import deliver_message_task
from tests.inbox.conftest import make_email_inbox
from tests.inbox.email_webhook_helpers import load, post_postmark
from tests.inbox.test_views_inbox import count_queries

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def inbound(tenant):
    inbox = make_email_inbox(tenant, esp="postmark", server_token="pm")
    assert post_postmark(inbox, "inbound").status_code == 200
    return Message.objects.get(inbox=inbox)


def test_it_shows_the_subject_and_sanitized_html_with_images_blocked(owner, login, inbound):
    html = login(owner).get(f"/inbox/c/{inbound.conversation_id}/").content.decode()

    assert '<p class="msg-subject">Booking 4411: late check-in</p>' in html
    assert '<p class="conv-subject-line">Booking 4411: late check-in</p>' in html
    assert "we will arrive around 23:00, is that ok?" in html
    assert "alert(&#x27;x&#x27;)" not in html and "alert('x')" not in html
    assert "tracker.example.net" not in html
    assert "1 remote image blocked" in html
    assert "Show images" in html
    # The quoted history is behind a toggle, not gone.
    assert "<summary>Show quoted text</summary>" in html
    assert "Cc: luis@example.com" in html


def test_allowing_images_shows_them(owner, login, inbound):
    client = login(owner)
    url = f"/inbox/c/{inbound.conversation_id}/messages/{inbound.pk}/images/"

    response = client.post(url, headers=HTMX)

    assert response.status_code == 200
    assert 'src="https://tracker.example.net/pixel.gif?u=ana"' in response.content.decode()
    assert "Show images" not in response.content.decode()
    inbound.refresh_from_db()
    assert inbound.metadata["images_allowed"] is True
    page = client.get(f"/inbox/c/{inbound.conversation_id}/").content.decode()
    assert "tracker.example.net/pixel.gif" in page


def test_another_tenant_cannot_allow_images(other_tenant, make_member, login, inbound):
    stranger = make_member(other_tenant, "owner", email="boss@globex.test")
    url = f"/inbox/c/{inbound.conversation_id}/messages/{inbound.pk}/images/"

    assert login(stranger).post(url).status_code == 404
    inbound.refresh_from_db()
    assert "images_allowed" not in inbound.metadata


def test_the_composer_has_cc_and_bcc_only_for_email(tenant, owner, login, inbound):
    from tests.inbox.api_factories import make_conversation, make_inbox

    client = login(owner)
    email_page = client.get(f"/inbox/c/{inbound.conversation_id}/").content.decode()
    sms_page = client.get(f"/inbox/c/{make_conversation(make_inbox(tenant)).pk}/").content.decode()

    assert 'name="cc"' in email_page and 'name="bcc"' in email_page
    assert 'name="cc"' not in sms_page and 'name="bcc"' not in sms_page


def test_a_reply_with_cc_goes_out_in_the_thread(owner, login, inbound):
    inbox = inbound.inbox
    inbox.set_credentials({**inbox.get_credentials(), "esp": "test"})
    inbox.save()

    response = login(owner).post(
        f"/inbox/c/{inbound.conversation_id}/messages/",
        {"mode": "reply", "body": "See you at 23:00!", "cc": "Boss@Acme.test; luis@example.com"},
        headers=HTMX,
    )

    assert response.status_code == 200, response.content.decode()[:500]
    reply = Message.objects.filter(direction="out").get()
    assert reply.subject == "Re: Booking 4411: late check-in"
    assert reply.metadata["cc"] == ["boss@acme.test", "luis@example.com"]
    deliver_message_task.apply(args=[reply.deliveries.get().pk])
    [sent] = mail.outbox
    assert sent.cc == ["boss@acme.test", "luis@example.com"]
    assert sent.extra_headers["In-Reply-To"] == inbound.email_message_id


def test_a_bad_cc_address_is_explained(owner, login, inbound):
    response = login(owner).post(
        f"/inbox/c/{inbound.conversation_id}/messages/",
        {"mode": "reply", "body": "Hi", "cc": "not-an-address"},
        headers=HTMX,
    )

    assert response.status_code == 400
    assert "not an email address" in response.content.decode()
    assert not Message.objects.filter(direction="out").exists()


def test_the_email_conversation_page_queries_stay_bounded(owner, login, inbound):
    client = login(owner)
    url = f"/inbox/c/{inbound.conversation_id}/"
    few = count_queries(client, url)
    inbox = inbound.inbox
    for index in range(6):
        payload = load("postmark", "inbound")
        payload["Headers"] = [h for h in payload["Headers"] if h["Name"] != "Message-ID"] + [
            {"Name": "Message-ID", "Value": f"<more-{index}@example.com>"}
        ]
        assert post_postmark(inbox, "inbound", payload).status_code == 200
    assert Message.objects.filter(conversation_id=inbound.conversation_id).count() == 7

    assert count_queries(client, url) == few


def test_text_is_escaped_and_its_quote_is_behind_the_toggle(tenant, owner, login):
    from inbox.actions.send import do_send_message

    inbox = make_email_inbox(tenant)
    message = do_send_message(
        tenant,
        inbox=inbox,
        to="ana@example.com",
        subject="Hi",
        body="<b>not bold</b>\n\nOn Mon, 1 Dec 2026, Ana <ana@example.com> wrote:\n> old",
    )

    html = login(owner).get(f"/inbox/c/{message.conversation_id}/").content.decode()

    assert "&lt;b&gt;not bold&lt;/b&gt;" in html and "<b>not bold</b>" not in html
    assert "<summary>Show quoted text</summary>" in html
    assert "&gt; old" in html


def test_the_list_shows_the_thread_subject(owner, login, inbound):
    html = login(owner).get("/inbox/").content.decode()

    assert '<span class="conv-subject">Booking 4411: late check-in</span>' in html


def test_an_outbound_email_with_html_shows_its_html_sanitized_like_inbound(tenant, owner, login):
    from inbox.actions.send import do_send_message

    inbox = make_email_inbox(tenant)
    message = do_send_message(
        tenant,
        inbox=inbox,
        to="ana@example.com",
        subject="Your booking",
        body="Your booking 4411 is confirmed. (text part)",
        body_html=(
            "<p>Your booking <strong>4411</strong> is confirmed.</p>"
            '<script>alert("x")</script><img src="https://cdn.example.net/logo.png">'
            "<blockquote>On Mon, Ana wrote: earlier</blockquote>"
        ),
    )
    plain = do_send_message(
        tenant, conversation=message.conversation, body="Plain <b>reply</b>\n\nSecond line"
    )

    html = login(owner).get(f"/inbox/c/{message.conversation_id}/").content.decode()

    assert "<p>Your booking <strong>4411</strong> is confirmed.</p>" in html
    assert "(text part)" not in html
    assert 'alert("x")' not in html and "alert(&quot;x&quot;)" not in html
    assert "cdn.example.net" not in html and "1 remote image blocked" in html
    assert "<summary>Show quoted text</summary>" in html
    # A plain reply is still its escaped text, paragraph by paragraph.
    assert plain.body_html == ""
    assert "<p>Plain &lt;b&gt;reply&lt;/b&gt;</p>" in html and "<p>Second line</p>" in html


# --- formatting and inline images ---------------------------------------------------------------

STYLED = (
    '<p style="color: #C00; text-align: center">Booking 4411</p>'
    '<a href="data:text/html,<script>alert(1)</script>">data</a> '
    '<a href="javascript:alert(1)">script</a> <a href="https://acme.test/b">booking</a>'
    '<img src="cid:logo@acme" alt="Acme logo">'
    '<div class="gmail_quote"><p style="font-style: italic">earlier</p></div>'
)
# A 1x1 PNG.
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5Er"
    "kJggg=="
)


@pytest.fixture
def styled(tenant):
    inbox = make_email_inbox(tenant, esp="postmark", server_token="pm")
    payload = load("postmark", "inbound")
    payload["HtmlBody"] = STYLED
    payload["Attachments"].append(
        {
            "Name": "logo.png",
            "Content": PNG,
            "ContentType": "image/png",
            "ContentLength": 68,
            "ContentID": "logo@acme",
        }
    )
    assert post_postmark(inbox, "inbound", payload).status_code == 200
    return Message.objects.get(inbox=inbox)


def css_url(message) -> str:
    return f"/inbox/c/{message.conversation_id}/messages/{message.pk}/email.css"


def test_an_emails_formatting_comes_from_its_own_scoped_stylesheet(owner, login, styled):
    client = login(owner)
    html = client.get(f"/inbox/c/{styled.conversation_id}/").content.decode()

    body = html[html.index(f'id="email-{styled.pk}"') : html.index("Show quoted text")]
    assert "style=" not in body  # the page's CSP would refuse it
    assert f'<div id="email-{styled.pk}" class="msg-body email-body email-paper"' in html
    assert '<p class="es0">Booking 4411</p>' in body
    link = re.search(r'<link rel="stylesheet" href="([^"]+email\.css[^"]*)">', html).group(1)
    assert link.startswith(css_url(styled) + "?v=")

    response = client.get(link)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/css; charset=utf-8"
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"
    assert response.content.decode().splitlines() == [
        f"#email-{styled.pk} .es0 {{ color: #c00; text-align: center; }}",
        f"#email-{styled.pk}-quoted .es0 {{ font-style: italic; }}",
    ]
    # Another version than the page's (a deploy in between) is not cached for a year.
    assert client.get(css_url(styled))["Cache-Control"] == "private, no-cache"


def test_data_and_javascript_links_are_text_in_the_page(owner, login, styled):
    html = login(owner).get(f"/inbox/c/{styled.conversation_id}/").content.decode()

    assert "data:text/html" not in html and "javascript:alert" not in html
    assert '<a target="_blank" rel="noopener noreferrer nofollow">data</a>' in html
    assert 'href="https://acme.test/b"' in html


def test_an_inline_image_shows_its_stored_part(owner, login, styled):
    logo = styled.attachments.get(filename="logo.png")
    assert styled.metadata["content_ids"] == {"logo@acme": logo.pk}

    html = login(owner).get(f"/inbox/c/{styled.conversation_id}/").content.decode()

    assert f'<img src="/inbox/attachments/{logo.pk}/" alt="Acme logo">' in html
    assert "cid:" not in html


def test_another_tenant_cannot_read_an_emails_stylesheet(
    owner, other_tenant, make_member, login, styled
):
    stranger = make_member(other_tenant, "owner", email="boss@globex.test")

    assert login(owner).get(css_url(styled)).status_code == 200
    assert login(stranger).get(css_url(styled)).status_code == 404


def test_a_message_without_html_has_no_stylesheet(tenant, owner, login, styled):
    from inbox.actions.send import do_send_message

    message = do_send_message(tenant, conversation=styled.conversation, body="Plain reply")
    client = login(owner)

    assert client.get(css_url(styled)).status_code == 200
    assert client.get(css_url(message)).status_code == 404


def test_an_email_without_styles_links_no_stylesheet(owner, login, inbound):
    html = login(owner).get(f"/inbox/c/{inbound.conversation_id}/").content.decode()

    assert "email.css" not in html
    assert f'<div id="email-{inbound.pk}" class="msg-body email-body" data-email-body>' in html
