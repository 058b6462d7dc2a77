"""Icons are inline SVG from one place (``{% icon %}``), never emoji or symbol characters,
which draw as empty boxes where no emoji font is installed."""

import re
from pathlib import Path

import pytest
from django.template import Context, Template, TemplateSyntaxError

from inbox.actions.read_state import do_set_pinned
from tests.inbox.api_factories import make_conversation, make_inbox, make_message

ROOT = Path(__file__).resolve().parents[2]
# Geometric shapes, miscellaneous symbols, dingbats, arrows-and-symbols supplement,
# pictographs and emoji, and the emoji presentation selector. Arrows (←), the middle dot and
# typographic quotes stay: every text font has them, and they are words' punctuation.
ICON_CHARACTERS = re.compile("[\u25a0-\u25ff\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff\ufe0f]")


def sources() -> list[Path]:
    """What draws the interface: templates, our own static files, template tag modules (the
    composer's emoji menu, a list of characters to insert into messages, is not an icon)."""
    found = [
        *ROOT.glob("templates/**/*.html"),
        *ROOT.glob("*/templates/**/*.html"),
        *ROOT.glob("static/**/*.js"),
        *ROOT.glob("static/**/*.css"),
        *ROOT.glob("*/templatetags/*.py"),
    ]
    return [path for path in found if ".venv" not in path.parts]


def test_no_template_script_or_stylesheet_draws_an_icon_with_a_character():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {' '.join(ICON_CHARACTERS.findall(line))}"
        for path in sources()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ICON_CHARACTERS.search(line)
    ]
    assert len(sources()) > 50
    assert offenders == []


def test_an_icon_is_an_svg_in_the_texts_colour_hidden_from_screen_readers():
    html = Template('{% load icons %}{% icon "paperclip" %}').render(Context())

    assert html.startswith('<svg class="icon icon-paperclip" viewBox="0 0 24 24"')
    assert 'stroke="currentColor"' in html and 'aria-hidden="true"' in html
    assert html.endswith("</svg>")


def test_an_unknown_icon_is_a_template_error():
    with pytest.raises(TemplateSyntaxError, match="No icon named “papreclip”"):
        Template('{% load icons %}{% icon "papreclip" %}').render(Context())


@pytest.mark.django_db
def test_the_inbox_draws_its_icons_as_svg(tenant, owner, login):
    conversation = make_conversation(make_inbox(tenant))
    make_message(conversation, direction="in", body="Hola")
    make_message(conversation, direction="out", body="Hi", status="delivered")
    do_set_pinned(conversation, owner, pinned=True)

    html = login(owner).get(f"/inbox/c/{conversation.pk}/").content.decode()

    assert re.search(r'<span class="pin-icon"[^>]*><svg class="icon icon-pin"', html)
    assert re.search(
        r'<span class="tick" title="Delivered"><svg class="icon icon-check-double"', html
    )
    assert re.search(
        r'<summary aria-label="Insert an emoji"[^>]*><svg class="icon icon-smile"', html
    )
    assert re.search(r'<label class="attach-label"[^>]*><svg class="icon icon-paperclip"', html)
    assert '<span class="theme-to-light"><svg class="icon icon-sun"' in html
