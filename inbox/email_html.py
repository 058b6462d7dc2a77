"""Showing an email's HTML safely: sanitized with ``nh3``, remote images blocked until allowed.

``sanitize_email_html(html, allow_images=False)`` returns :class:`SafeEmailHtml`: the cleaned
HTML (scripts, event handlers, forms, frames, ``<style>`` blocks and CSS that loads URLs are
removed; links open in a new tab without a referrer) and how many remote images were held
back. A blocked image keeps its ``alt`` text and nothing of its address, so opening the
message tells no tracker that it was read. The stored message keeps the original HTML.
"""

import re
from copy import deepcopy
from dataclasses import dataclass
from functools import lru_cache

import nh3

__all__ = ["SafeEmailHtml", "sanitize_email_html"]

# Extra tags emails use for layout; nh3's defaults already cover text, lists, tables and links.
EXTRA_TAGS = {"font", "center"}
# Content dropped with its tag.
DROPPED_WITH_CONTENT = {"script", "style", "title", "head", "noscript", "template", "xmp"}
# CSS that loads something or runs something, in a style attribute.
UNSAFE_CSS = re.compile(
    r"url\s*\(|expression\s*\(|@import|behavior\s*:|javascript:|-moz-binding", re.IGNORECASE
)
STYLE_PROPERTIES = {
    "color",
    "background-color",
    "font-family",
    "font-size",
    "font-style",
    "font-weight",
    "line-height",
    "text-align",
    "text-decoration",
    "vertical-align",
    "white-space",
    "width",
    "max-width",
    "height",
    "margin",
    "margin-top",
    "margin-bottom",
    "margin-left",
    "margin-right",
    "padding",
    "padding-top",
    "padding-bottom",
    "padding-left",
    "padding-right",
    "border",
    "border-collapse",
    "border-radius",
    "display",
}


@dataclass(frozen=True)
class SafeEmailHtml:
    html: str
    blocked_images: int


@lru_cache(maxsize=1)
def _attributes() -> dict[str, set[str]]:
    attributes = deepcopy(nh3.ALLOWED_ATTRIBUTES)
    attributes.setdefault("*", set()).update({"style", "dir"})
    attributes.setdefault("font", set()).update({"color", "face", "size"})
    for tag in ("table", "td", "th", "tr"):
        attributes.setdefault(tag, set()).update({"align", "valign", "width", "bgcolor"})
    return attributes


def sanitize_email_html(html: str, *, allow_images: bool = False) -> SafeEmailHtml:
    if not html:
        return SafeEmailHtml("", 0)
    blocked = 0

    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        nonlocal blocked
        if attribute == "style":
            return None if UNSAFE_CSS.search(value) else value
        if tag == "img" and attribute == "src":
            remote = value.strip().lower().startswith(("http://", "https://", "//"))
            if remote and not allow_images:
                blocked += 1
                return None
            if not remote and not value.strip().lower().startswith("data:image/"):
                return None  # cid: and anything else cannot be shown here
        return value

    cleaned = nh3.clean(
        html,
        tags=nh3.ALLOWED_TAGS | EXTRA_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=_attributes(),
        attribute_filter=attribute_filter,
        filter_style_properties=STYLE_PROPERTIES,
        url_schemes={"http", "https", "mailto", "tel", "data"},
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )
    return SafeEmailHtml(cleaned, blocked)


# Where quoted history starts in the HTML of common mail clients (Gmail, Apple Mail,
# Thunderbird, Outlook), or a plain blockquote.
_QUOTE_START = re.compile(
    r"<div[^>]*class=[\"'][^\"']*gmail_quote|<blockquote|<div[^>]*id=[\"']?(appendonsend|"
    r"divRplyFwdMsg)|<div[^>]*class=[\"'][^\"']*moz-cite-prefix|-----\s*Original Message\s*-----"
    r"|-----\s*Mensaje original\s*-----",
    re.IGNORECASE,
)


def split_quoted_html(html: str) -> tuple[str, str]:
    """``(reply, quoted history)`` of raw email HTML, cut where the first quote starts. Each
    half is sanitized on its own afterwards, which also closes the tags the cut left open."""
    match = _QUOTE_START.search(html or "")
    if match is None:
        return html or "", ""
    head = html[: match.start()]
    if not nh3.clean(head, tags=set()).strip():
        return html, ""  # nothing before the quote: show it all
    return head, html[match.start() :]
