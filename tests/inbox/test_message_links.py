"""Links in message bubbles: URLs and email addresses become links that open in a new tab,
the rest of the body stays escaped text."""

import re

import pytest

from inbox.templatetags.inbox_ui import linkify
from tests.inbox.api_factories import make_conversation, make_inbox, make_message

pytestmark = pytest.mark.django_db

LINK_ATTRS = 'target="_blank" rel="noopener noreferrer nofollow"'


def test_a_url_and_an_email_in_a_body_become_links_and_a_script_stays_text(tenant, owner, login):
    conversation = make_conversation(make_inbox(tenant, kind="sms"))
    make_message(
        conversation,
        direction="in",
        body=(
            "Menu: https://example.com/menu?a=1&b=2 <script>alert(1)</script>\nMail ana@example.com"
        ),
    )

    html = login(owner).get(f"/inbox/c/{conversation.pk}/").content.decode()

    assert (
        f'<a {LINK_ATTRS} href="https://example.com/menu?a=1&amp;b=2">'
        "https://example.com/menu?a=1&amp;b=2</a>"
    ) in html
    assert f'<a {LINK_ATTRS} href="mailto:ana@example.com">ana@example.com</a>' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>" in html
    assert "<script>alert(1)" not in html


@pytest.mark.parametrize(
    "body",
    [
        '"><img src=x onerror=alert(1)> http://a.example',
        'https://example.com/"onmouseover="alert(1)',
        "javascript:alert(1) <a href='https://evil.example'>click</a>",
    ],
)
def test_hostile_bodies_make_no_markup_but_our_links(body):
    html = str(linkify(body))
    ours = re.compile(f'<a {LINK_ATTRS} href="[^"<>]*">[^<>"]*</a>')
    assert "<" not in ours.sub("", html)
    assert 'href="javascript' not in html
