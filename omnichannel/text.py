"""Text from outside (webhooks, uploads) made safe to store, show and log.

PostgreSQL ``text`` and ``jsonb`` refuse NUL (``\\x00``), and a lone surrogate (which a JSON
``"\\ud800"`` escape produces) cannot even be encoded to UTF-8; other control characters are
storable but are never meant as content. Free text keeps everything else (tab and line breaks
included); an identifier with any of them is not an identifier, and its field is refused.
"""

import re

# C0 controls except tab, line feed and carriage return; DEL; C1 controls; lone surrogates.
_UNWANTED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# For identifiers, tab and line breaks are control characters too.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_ASCII_DIGITS = re.compile(r"[0-9]+")


def clean_text(value: object) -> str:
    """``value`` as text without NUL, other control characters (tab and line breaks stay) and
    lone surrogates."""
    if value is None:
        return ""
    return _UNWANTED.sub("", value if isinstance(value, str) else str(value))


def has_control_chars(value: str) -> bool:
    """Whether ``value`` holds a control character (tab and line breaks included) or a lone
    surrogate: never part of an id, a phone number, an address, a URL or a content type."""
    return _CONTROL.search(value) is not None


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(value: object, limit: int = 60) -> str:
    """``value`` quoted into a message for a person: control characters written as escapes
    (``\\x00``), cut at ``limit`` characters."""
    text = value if isinstance(value, str) else str(value)
    return _CONTROL.sub(_escape, text[:limit]) + ("…" if len(text) > limit else "")


def clean_note(value: object, limit: int = 2000) -> str:
    """An error or note about outside input, safe to store: cleaned and cut at ``limit``."""
    return clean_text(value)[:limit]


def ascii_int(value: str) -> int | None:
    """``value`` as a non-negative integer when it is ASCII digits only, else None (``"²"`` is a
    digit to ``str.isdigit`` but not to ``int``; other scripts' digits are not Twilio's)."""
    text = value.strip()
    return int(text) if _ASCII_DIGITS.fullmatch(text) else None


# type/subtype, optionally followed by parameters (RFC 2045 tokens, printable ASCII).
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+( *;[\x20-\x7e]*)?")


def is_media_type(value: str) -> bool:
    """Whether ``value`` is a media type such as ``image/jpeg`` or ``text/plain; charset=utf-8``."""
    return _MEDIA_TYPE.fullmatch(value) is not None
