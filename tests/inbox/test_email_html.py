"""The email HTML sanitizer: nothing runs, nothing loads until the agent allows images, links
keep only safe schemes, and inline styles become checked CSS scoped to the message."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inbox.email_html import css_declarations, sanitize_email_html

HOSTILE = """
<html><head><style>body{background:url(https://t.example/bg.png)}</style>
<script>alert(1)</script><title>x</title></head>
<body onload="steal()">
<p style="color: red; background-image: url('https://t.example/p.png')">Hello</p>
<p style="color: blue; position: fixed; top: 0">Fixed?</p>
<img src="https://t.example/pixel.gif?u=ana" alt="logo" onerror="steal()">
<img src="cid:part1.0001@mail">
<a href="javascript:alert(1)">click</a> <a href="https://acme.test/b">booking</a>
<form action="https://evil.example/"><input name="password"></form>
<iframe src="https://evil.example/"></iframe><object data="x.swf"></object>
<svg><script>alert(2)</script></svg>
<div style="width: expression(alert(3))">IE</div>
</body></html>
"""

# What a generated rule may look like: the scope, one generated class, checked declarations.
RULE = re.compile(r"#(?P<scope>[\w-]+) \.es\d+ \{ (?:[a-z-]+: [^;{}<>@\\]+; )+\}")


@pytest.fixture
def cleaned():
    return sanitize_email_html(HOSTILE, scope="email-7")


def hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', html)


def test_it_removes_scripts_handlers_and_active_content(cleaned):
    html = cleaned.html.lower()
    for bad in (
        "<script",
        "alert(",
        "onload",
        "onerror",
        "javascript:",
        "<iframe",
        "<form",
        "<input",
        "<object",
        "<style",
        "<svg",
        "expression(",
    ):
        assert bad not in html, bad
    assert "hello" in html and "booking" in html


def test_it_blocks_remote_images_until_allowed(cleaned):
    assert "t.example" not in cleaned.html
    assert cleaned.blocked_images == 1
    assert 'alt="logo"' in cleaned.html

    allowed = sanitize_email_html(HOSTILE, allow_images=True)
    assert 'src="https://t.example/pixel.gif?u=ana"' in allowed.html
    assert allowed.blocked_images == 0
    assert "onerror" not in allowed.html


def test_links_open_apart_without_referrer(cleaned):
    assert 'href="https://acme.test/b"' in cleaned.html
    assert 'rel="noopener noreferrer nofollow"' in cleaned.html
    assert 'target="_blank"' in cleaned.html


def test_empty_html_is_empty():
    assert sanitize_email_html("").html == ""
    assert sanitize_email_html("").css == ""


# --- URL schemes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "href",
    [
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "DATA:text/html,<script>alert(1)</script>",
        "javascript:alert(1)",
        " JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "&#106;avascript:alert(1)",
        "vbscript:msgbox(1)",
        "tel:+34600000000",
        "file:///etc/passwd",
        "ftp://files.example/x",
        "h\x01ttps://evil.example/",  # not a scheme to a browser: a path into Centro
        "/inbox/c/1/status/",
        "settings/",
        "#top",
    ],
)
def test_a_link_with_any_other_scheme_or_a_relative_address_loses_its_href(href):
    html = sanitize_email_html(f'<p><a href="{href}">open</a></p>').html

    assert hrefs(html) == []
    assert ">open</a>" in html  # the text stays, as text


@pytest.mark.parametrize(
    ("href", "kept"),
    [
        ("http://acme.test/a", "http://acme.test/a"),
        ("https://acme.test/b?x=1&amp;y=2", "https://acme.test/b?x=1&amp;y=2"),
        ("mailto:ana@example.com", "mailto:ana@example.com"),
        ("  https://acme.test/c  ", "https://acme.test/c"),
        ("//acme.test/d", "https://acme.test/d"),
        ("ht\ntps://acme.test/e\n", "https://acme.test/e"),  # as the browser reads it
    ],
)
def test_http_https_and_mailto_links_are_kept(href, kept):
    assert hrefs(sanitize_email_html(f'<a href="{href}">x</a>').html) == [kept]


def test_data_images_are_dropped_even_when_images_are_allowed():
    html = sanitize_email_html(
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="dot">'
        '<img src="data:image/svg+xml,<svg onload=alert(1)>" alt="svg">',
        allow_images=True,
    ).html

    assert "data:" not in html and "src=" not in html
    assert 'alt="dot"' in html and 'alt="svg"' in html


def test_cid_images_and_links_point_at_the_stored_inline_parts():
    safe = sanitize_email_html(
        '<img src="cid:logo@acme" alt="Acme"><img src="cid:%3Cpart2%40acme%3E" alt="two">'
        '<img src="cid:unknown@acme" alt="gone"><a href="cid:logo@acme">logo</a>',
        inline_images={"logo@acme": "/inbox/attachments/4/", "part2@acme": "/inbox/attachments/5/"},
    )

    assert '<img src="/inbox/attachments/4/" alt="Acme">' in safe.html
    assert '<img src="/inbox/attachments/5/" alt="two">' in safe.html
    assert '<img alt="gone">' in safe.html  # no stored part: nothing the browser would fetch
    assert hrefs(safe.html) == ["/inbox/attachments/4/"]
    assert safe.blocked_images == 0  # stored here: loading them tells no tracker anything


def test_mailto_is_not_an_image_source():
    assert "src=" not in sanitize_email_html('<img src="mailto:a@b.c">', allow_images=True).html


# --- styles -----------------------------------------------------------------------------------


def test_inline_styles_become_classes_with_rules_scoped_to_the_container():
    safe = sanitize_email_html(
        '<p style="color: #C00; text-align: center">Title</p>'
        '<td style="text-align:center; color:#c00">same style, same class</td>'
        '<table style="border-collapse: collapse; width: 600px; background: #FFEEAA">'
        '<tr><td style="padding: 8px 12px; border: 1px solid rgb(0, 0, 0)">cell</td></tr></table>',
        scope="email-42",
    )

    assert "style=" not in safe.html
    assert '<p class="es0">Title</p>' in safe.html
    assert '<table class="es1">' in safe.html and '<td class="es2">cell</td>' in safe.html
    assert safe.css.splitlines() == [
        "#email-42 .es0 { color: #c00; text-align: center; }",
        "#email-42 .es1 { border-collapse: collapse; width: 600px; background-color: #ffeeaa; }",
        "#email-42 .es2 { padding: 8px 12px; border: 1px solid rgb(0, 0, 0); }",
    ]
    assert safe.coloured


def test_harmless_declarations_survive_next_to_dropped_ones(cleaned):
    # background-image: url() and position: fixed go; the colours stay.
    assert "url(" not in cleaned.css and "position" not in cleaned.css
    assert cleaned.css.splitlines() == [
        "#email-7 .es0 { color: red; }",
        "#email-7 .es1 { color: blue; }",
    ]
    assert "<div>IE</div>" in cleaned.html  # expression() was its only declaration


@pytest.mark.parametrize(
    "style",
    [
        "background: url(https://t.example/p.png)",
        "background-image: url('https://t.example/p.png')",
        "color: red; background: URL(//t.example/p.png)",
        "width: expression(alert(1))",
        "color: expression(alert(1))",
        "behavior: url(x.htc)",
        "-moz-binding: url(x.xml#xss)",
        "color: red; @import 'https://t.example/x.css'",
        "@import url(https://t.example/x.css)",
        "color: red</style><script>alert(1)</script>",
        "color: red} body { background: red",
        "color: red; } * { display: none",
        "font-family: x} body {color: red",
        "color: red\\3b background: blue",
        "color: r\\65 d",
        "position: fixed; top: 0; left: 0; width: 100%; height: 100%; z-index: 9999",
        "position: absolute",
        "margin-top: -500px",
        "margin: -10px 0 0 0",
        "transform: translateY(-500px)",
        "width: calc(100vw + 10px)",
        "width: 100vw",
        "height: 100000px",
        "content: 'x'",
        "color: var(--accent)",
        "color: attr(title)",
        "list-style-image: url(x.png)",
        "cursor: url(x.cur), auto",
        "font-family: 'a\\' ; } body { x: '",
    ],
)
def test_css_injection_attempts_are_neutralised(style):
    safe = sanitize_email_html(f'<p style="{style.replace('"', "&quot;")}">x</p>', scope="email-1")

    css = safe.css.lower()
    for bad in ("url", "expression", "@", "</", "<", "\\", "position", "transform", "calc"):
        assert bad not in css, bad
    assert "-500" not in css and "-10px" not in css and "vw" not in css and "var(" not in css
    assert "100000" not in css
    for line in safe.css.splitlines():
        assert RULE.fullmatch(line) and line.startswith("#email-1 "), line
        assert line.count("{") == line.count("}") == 1
    assert "style=" not in safe.html


def test_important_and_comments_are_dropped_from_declarations():
    assert css_declarations("color: red !important; /* x */ text-align: /**/ center") == {
        "color": "red",
        "text-align": "center",
    }


def test_the_last_repeated_property_wins_like_in_a_browser():
    assert css_declarations("color: red; color: #00f") == {"color": "#00f"}


def test_font_names_are_checked_and_quoted_again():
    assert css_declarations("font-family: Arial, 'Segoe UI', \"Helvetica Neue\", SANS-SERIF") == {
        "font-family": '"Arial", "Segoe UI", "Helvetica Neue", sans-serif'
    }
    assert css_declarations("font-family: 'Open\"Sans', x;y") == {"font-family": '"x"'}
    assert css_declarations("font-family: 'unbalanced") == {"font-family": '"unbalanced"'}


def test_an_email_cannot_reuse_the_pages_classes_or_ids():
    html = sanitize_email_html(
        '<div class="images-blocked" id="composer-body" style="color: red">x</div>'
    ).html

    assert html == '<div class="es0">x</div>'


def test_text_that_looks_like_a_style_attribute_is_left_alone():
    safe = sanitize_email_html('<p>write style="color: red" in your HTML</p>')

    assert safe.html == '<p>write style="color: red" in your HTML</p>' and safe.css == ""


def test_colour_attributes_are_checked_and_mark_the_email_coloured():
    safe = sanitize_email_html(
        '<table bgcolor="#EEEEEE"><tr><td bgcolor="expression(alert(1))">'
        '<font color="red" face="Arial">x</font></td></tr></table>'
    )

    assert 'bgcolor="#EEEEEE"' in safe.html and "expression" not in safe.html
    assert 'color="red"' in safe.html and safe.coloured
    assert not sanitize_email_html("<p style='text-align: right'>plain</p>").coloured


def test_the_scope_must_be_an_element_id():
    with pytest.raises(ValueError, match="element id"):
        sanitize_email_html("<p style='color:red'>x</p>", scope="x} body {")


@given(st.text(alphabet=st.sampled_from(list("abcdeflorstuxw-:;(){}<>@!/\\*'\"#%., 0123456789"))))
def test_whatever_the_style_each_rule_is_one_checked_scoped_block(style):
    css = sanitize_email_html(f"<p style='{style.replace("'", '&#39;')}'>x</p>", scope="e-1").css

    for line in css.splitlines():
        assert RULE.fullmatch(line) and line.startswith("#e-1 .es0 "), line
        assert "url" not in line and "expression" not in line and "/*" not in line
