"""Showing an email's HTML safely: sanitized with ``nh3``, remote images blocked until allowed,
its formatting kept without letting it reach the page.

``sanitize_email_html(html, allow_images=False, scope=..., inline_images=...)`` returns
:class:`SafeEmailHtml`: the cleaned HTML (scripts, event handlers, forms, frames and ``<style>``
blocks removed; links open in a new tab without a referrer), how many remote images were held
back, and the CSS that gives the email its formatting back. The stored message keeps the
original HTML.

URLs: links and images keep only ``http``, ``https``, ``mailto`` (links) and ``cid``. A
``cid:`` reference becomes the URL of the stored inline part it names (``inline_images``), or
is dropped; ``data:``, ``javascript:``, relative addresses (they would point into Centro) and
every other scheme are dropped, so such a link is plain text. A blocked image keeps its
``alt`` text and nothing of its address, so opening the message tells no tracker it was read.

Formatting: the page's CSP refuses ``style`` attributes (``style-src`` has no
'unsafe-inline'). Each ``style`` attribute is parsed instead; the declarations whose property
and value fit the whitelist below are kept (no ``url()``, no function but colour ones, no
positioning, no negative lengths, no ``!important``), and the attribute becomes a generated
class. ``css`` holds one rule per distinct set of declarations, each under the id of the
element that holds this HTML (``#<scope> .es3 {...}``), so it styles nothing else on the page;
the container clips what overflows it (``inbox.css``). The inbox serves that CSS as a
same-origin stylesheet (``inbox.views.email_css``), which ``style-src 'self'`` accepts on every
path a message reaches the page (page loads, htmx swaps, websocket pushes, history restores).
"""

import re
import secrets
from collections.abc import Callable, Mapping
from copy import deepcopy
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

import nh3

__all__ = ["SafeEmailHtml", "css_declarations", "sanitize_email_html", "split_quoted_html"]

# Extra tags emails use for layout; nh3's defaults already cover text, lists, tables and links.
EXTRA_TAGS = {"font", "center"}
# Content dropped with its tag.
DROPPED_WITH_CONTENT = {"script", "style", "title", "head", "noscript", "template", "xmp"}
URL_SCHEMES = {"http", "https", "mailto", "cid"}
URL_ATTRIBUTES = {"href", "src", "cite", "longdesc", "action", "background", "poster"}
CLASS_PREFIX = "es"
_SCOPE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
# How a browser reads a URL: C0 controls and spaces around it dropped, tabs and newlines
# dropped anywhere ("java\tscript:" is javascript:).
_URL_EDGES = re.compile(r"^[\x00-\x20]+|[\x00-\x20]+$")
_URL_TABS = re.compile(r"[\t\n\r]+")


@dataclass(frozen=True)
class SafeEmailHtml:
    html: str
    blocked_images: int
    # Rules for the generated classes, scoped to ``#<scope>``; "" when the email has no style.
    css: str = ""
    # The email sets its own colours (CSS or colour attributes): it was made for a light
    # background, and is shown on one whatever the theme.
    coloured: bool = False


# --- CSS declarations -------------------------------------------------------------------------

# Up to 9999: an email can be big, not absurd.
_NUM = r"(?:\d{1,4}(?:\.\d{1,4})?|\.\d{1,4})"
_LENGTH = re.compile(rf"0|{_NUM}(?:px|pt|em|rem|%|ex|ch)")
_NUMBER = re.compile(_NUM)
_HEX = re.compile(r"#(?:[0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})")
_COLOUR_FUNCTION = re.compile(
    rf"(?:rgba?|hsla?)\(\s*{_NUM}(?:%|deg)?(?:\s*[,/]?\s*{_NUM}%?){{2,3}}\s*\)"
)
_COLOUR_NAME = re.compile(r"[a-z]{3,20}")
_FONT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _-]{0,62}")
_GENERIC_FONTS = {"serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui"}
_TOKEN = re.compile(r"(?:rgba?|hsla?)\([^()]*\)|\S+")
_COMMENT = re.compile(r"/\*.*?(?:\*/|$)", re.DOTALL)
_IMPORTANT = re.compile(r"\s*!\s*important\s*$", re.IGNORECASE)
# Belt and braces: nothing a validator lets through may contain these.
_NEVER = re.compile(r"[\\<>{}@;!`]|/\*|url|expression|javascript|behavior|binding", re.IGNORECASE)

Validator = Callable[[str], str | None]


def _is_colour(value: str) -> bool:
    return bool(
        _HEX.fullmatch(value) or _COLOUR_FUNCTION.fullmatch(value) or _COLOUR_NAME.fullmatch(value)
    )


def _is_length(value: str) -> bool:
    return bool(_LENGTH.fullmatch(value))


def _colour(value: str) -> str | None:
    return value if _is_colour(value) else None


def _keywords(*words: str) -> Validator:
    allowed = frozenset(words)
    return lambda value: value if value in allowed else None


def _lengths(count: int = 1, *keywords: str) -> Validator:
    """One to ``count`` non-negative lengths (or the keywords), like ``margin: 0 auto``."""
    allowed = frozenset(keywords)

    def check(value: str) -> str | None:
        tokens = value.split()
        if not 1 <= len(tokens) <= count:
            return None
        return value if all(_is_length(t) or t in allowed for t in tokens) else None

    return check


def _size_or_number(*keywords: str) -> Validator:
    allowed = frozenset(keywords)

    def check(value: str) -> str | None:
        if value in allowed or _is_length(value) or _NUMBER.fullmatch(value):
            return value
        return None

    return check


_BORDER_STYLES = frozenset(
    ("none", "hidden", "solid", "dashed", "dotted", "double", "groove", "ridge", "inset", "outset")
)
_BORDER_WIDTHS = frozenset(("thin", "medium", "thick"))


def _border(value: str) -> str | None:
    """``1px solid #ccc``: a width, a style and a colour, each at most once, in any order."""
    tokens = _TOKEN.findall(value)
    seen = set()
    for token in tokens:
        if token in _BORDER_STYLES:
            kind = "style"
        elif token in _BORDER_WIDTHS or _is_length(token):
            kind = "width"
        elif _is_colour(token):
            kind = "colour"
        else:
            return None
        if kind in seen:
            return None
        seen.add(kind)
    return " ".join(tokens) if tokens else None


def _each(check: Callable[[str], bool], count: int = 4) -> Validator:
    def validate(value: str) -> str | None:
        tokens = _TOKEN.findall(value)
        if not 1 <= len(tokens) <= count or not all(check(t) for t in tokens):
            return None
        return " ".join(tokens)

    return validate


_TEXT_DECORATION = frozenset(
    ("none", "underline", "overline", "line-through", "solid", "double", "dotted", "dashed", "wavy")
)


def _text_decoration(value: str) -> str | None:
    tokens = _TOKEN.findall(value)
    if not 1 <= len(tokens) <= 4:
        return None
    return " ".join(tokens) if all(t in _TEXT_DECORATION or _is_colour(t) for t in tokens) else None


def _font_family(value: str) -> str | None:
    """Each name checked and quoted again: no quote of the sender's survives to open a string."""
    names = []
    for raw in value.split(","):
        name = raw.strip().strip("'\"").strip()
        if name.lower() in _GENERIC_FONTS:
            names.append(name.lower())
        elif _FONT_NAME.fullmatch(name):
            names.append(f'"{name}"')
    return ", ".join(names[:8]) or None


def _font_size(value: str) -> str | None:
    keywords = ("xx-small", "x-small", "small", "medium", "large", "x-large", "xx-large")
    return value if value in (*keywords, "smaller", "larger") or _is_length(value) else None


_WHOLE_LENGTH = _lengths(1, "auto")
_SPACING = _lengths(1)
_DECLARATIONS: dict[str, Validator] = {
    "color": _colour,
    "background-color": _colour,
    "font-family": _font_family,
    "font-size": _font_size,
    "font-style": _keywords("normal", "italic", "oblique"),
    "font-weight": _keywords(
        "normal", "bold", "bolder", "lighter", *(str(n) for n in range(100, 1000, 100))
    ),
    "line-height": _size_or_number("normal"),
    "letter-spacing": _lengths(1, "normal"),
    "text-align": _keywords("left", "right", "center", "justify", "start", "end"),
    "text-decoration": _text_decoration,
    "text-decoration-line": _text_decoration,
    "text-indent": _SPACING,
    "text-transform": _keywords("none", "uppercase", "lowercase", "capitalize"),
    "vertical-align": _keywords(
        "baseline", "top", "middle", "bottom", "text-top", "text-bottom", "sub", "super"
    ),
    "white-space": _keywords("normal", "nowrap", "pre", "pre-wrap", "pre-line", "break-spaces"),
    "word-break": _keywords("normal", "break-all", "keep-all", "break-word"),
    "overflow-wrap": _keywords("normal", "anywhere", "break-word"),
    "word-wrap": _keywords("normal", "break-word"),
    "width": _WHOLE_LENGTH,
    "min-width": _WHOLE_LENGTH,
    "max-width": _lengths(1, "none"),
    "height": _WHOLE_LENGTH,
    "min-height": _WHOLE_LENGTH,
    "margin": _lengths(4, "auto"),
    **{f"margin-{side}": _WHOLE_LENGTH for side in ("top", "right", "bottom", "left")},
    "padding": _lengths(4),
    **{f"padding-{side}": _SPACING for side in ("top", "right", "bottom", "left")},
    "border": _border,
    **{f"border-{side}": _border for side in ("top", "right", "bottom", "left")},
    "border-width": _each(lambda t: t in _BORDER_WIDTHS or _is_length(t)),
    "border-style": _each(lambda t: t in _BORDER_STYLES),
    "border-color": _each(_is_colour),
    "border-radius": _lengths(4),
    "border-collapse": _keywords("collapse", "separate"),
    "border-spacing": _lengths(2),
    "table-layout": _keywords("auto", "fixed"),
    "float": _keywords("left", "right", "none"),
    "clear": _keywords("left", "right", "both", "none"),
    "display": _keywords(
        "none",
        "block",
        "inline",
        "inline-block",
        "flex",
        "inline-flex",
        "list-item",
        "table",
        "inline-table",
        "table-row",
        "table-cell",
        "table-row-group",
        "table-header-group",
        "table-footer-group",
        "table-caption",
    ),
    "list-style-type": _keywords(
        "none",
        "disc",
        "circle",
        "square",
        "decimal",
        "lower-alpha",
        "upper-alpha",
        "lower-latin",
        "upper-latin",
        "lower-roman",
        "upper-roman",
    ),
}
# Emails write a plain colour as the ``background`` shorthand; anything more (images,
# positions) is dropped.
_SHORTHANDS = {"background": "background-color"}
COLOUR_PROPERTIES = {"color", "background-color"}


def css_declarations(style: str) -> dict[str, str]:
    """The declarations of a ``style`` attribute that fit the whitelist, checked and
    normalised (``{"color": "#c00", "text-align": "center"}``); the last of a repeated property
    wins, as in a browser. Everything else (``url()``, ``expression()``, ``position``,
    negative margins, ``!important``, comments, unknown properties) is dropped."""
    kept: dict[str, str] = {}
    for chunk in _COMMENT.sub(" ", style or "").split(";"):
        name, colon, raw = chunk.partition(":")
        if not colon:
            continue
        name = name.strip().lower()
        name = _SHORTHANDS.get(name, name)
        validator = _DECLARATIONS.get(name)
        if validator is None:
            continue
        value = " ".join(_IMPORTANT.sub("", raw).split())
        if name != "font-family":
            value = value.lower()
        checked = validator(value) if value and not _NEVER.search(value) else None
        if checked and not _NEVER.search(checked):
            kept[name] = checked
    return kept


# --- the sanitizer ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _attributes() -> dict[str, set[str]]:
    attributes = deepcopy(nh3.ALLOWED_ATTRIBUTES)
    attributes.setdefault("*", set()).update({"style", "dir"})
    attributes.setdefault("font", set()).update({"color", "face", "size"})
    for tag in ("table", "td", "th", "tr"):
        attributes.setdefault(tag, set()).update({"align", "valign", "width", "bgcolor"})
    return attributes


def _content_id(value: str) -> str:
    """The Content-ID a ``cid:`` URL names (RFC 2392: URL-encoded, without angle brackets)."""
    return unquote(value.strip()[4:]).strip().strip("<>")


def sanitize_email_html(
    html: str,
    *,
    allow_images: bool = False,
    scope: str = "email",
    inline_images: Mapping[str, str] | None = None,
) -> SafeEmailHtml:
    """``scope`` is the id of the element the HTML is shown in (the CSS applies only inside
    it); ``inline_images`` maps Content-IDs to the URLs of the stored parts they name."""
    if not _SCOPE.fullmatch(scope):
        raise ValueError(f"The scope must be an element id, not {scope!r}.")
    if not html:
        return SafeEmailHtml("", 0)
    inline_images = inline_images or {}
    blocked = 0
    coloured = False
    classes: dict[tuple[tuple[str, str], ...], int] = {}
    # Kept style attributes carry this marker until they are turned into classes below: it
    # cannot be guessed, so no text of the email can look like one.
    marker = f"x{secrets.token_hex(8)}-"

    def url(tag: str, attribute: str, value: str) -> str | None:
        nonlocal blocked
        address = _URL_TABS.sub("", _URL_EDGES.sub("", value))
        if address.startswith("//"):  # scheme-relative: what an https page makes of it
            address = f"https:{address}"
        match = _SCHEME.match(address)
        if match is None:
            return None  # relative: it would point into Centro, not where the sender meant
        scheme = match.group(1).lower()
        if scheme == "cid":
            return inline_images.get(_content_id(address))
        if scheme not in URL_SCHEMES:
            return None
        if tag == "img" and attribute == "src":
            if scheme == "mailto":
                return None
            if not allow_images:
                blocked += 1
                return None
        return address

    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        nonlocal coloured
        if attribute == "style":
            declarations = css_declarations(value)
            if not declarations:
                return None
            coloured = coloured or bool(COLOUR_PROPERTIES & declarations.keys())
            key = tuple(declarations.items())
            return f"{marker}{classes.setdefault(key, len(classes))}"
        if attribute in URL_ATTRIBUTES:
            return url(tag, attribute, value)
        if attribute in ("color", "bgcolor"):
            colour = value.strip().lower()
            if not _is_colour(colour) and not re.fullmatch(r"[0-9a-f]{6}", colour):
                return None
            coloured = True
        return value

    cleaned = nh3.clean(
        html,
        tags=nh3.ALLOWED_TAGS | EXTRA_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=_attributes(),
        attribute_filter=attribute_filter,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )
    # nh3 writes attributes as ` name="value"` with any `"` in a value escaped.
    cleaned = re.sub(rf' style="{marker}(\d+)"', rf' class="{CLASS_PREFIX}\1"', cleaned)
    rules = [
        f"#{scope} .{CLASS_PREFIX}{index} {{ "
        + " ".join(f"{name}: {value};" for name, value in declarations)
        + " }"
        for declarations, index in classes.items()
    ]
    return SafeEmailHtml(cleaned, blocked, "\n".join(rules), coloured)


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
