"""The email HTML sanitizer: nothing runs, nothing loads until the agent allows images."""

import pytest

from inbox.email_html import sanitize_email_html

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


@pytest.fixture
def cleaned():
    return sanitize_email_html(HOSTILE)


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


def test_it_removes_styles_that_load_urls_and_keeps_harmless_ones(cleaned):
    assert "url(" not in cleaned.html
    assert "background" not in cleaned.html
    assert 'style="color:blue"' in cleaned.html  # position: fixed dropped, colour kept


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
