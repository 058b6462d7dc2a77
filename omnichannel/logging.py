"""Structured JSON logs and a filter that redacts secrets and masks personal data.

Secrets (API tokens, passwords, provider keys, auth headers, credentials in URLs) become
``[REDACTED]``; emails keep their first letter and domain; phone numbers keep their last four
digits. Numbers that are not phones (ids, durations, timestamps, dates, IP addresses, ports) are
left alone: a phone is either international (``+`` then 8 to 15 digits, spaced or not, as we
store them) or a national number written in groups (``(555) 123-4567``, ``55 1234 5678``). A bare
run of digits is never taken for a phone.
"""

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

REDACTED = "[REDACTED]"

# --- Keys whose values are secrets (extra= fields, dict keys) --------------------------------

_SENSITIVE_KEY_WORDS = (
    r"pass(?:word|wd|phrase)?|pwd|secret|token|csrftoken|api[_-]?key|auth|authorization"
    r"|credentials?|signature|cookie|session|sessionid|private[_-]?key|dsn"
)
# A secret word as a whole part of a snake/kebab/dotted key: `access_token`, `X-Twilio-Signature`,
# `password2`; not `author` or `tokenizer`.
_SECRET_KEY = re.compile(rf"(?:^|[_.-])(?:{_SENSITIVE_KEY_WORDS})s?(?:$|[_.\d-])")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def is_secret_key(key: str) -> bool:
    """``authToken`` and ``auth_token`` alike: camelCase is split before matching."""
    return bool(_SECRET_KEY.search(_CAMEL_BOUNDARY.sub("_", key).lower()))


# --- Secrets inside free text -----------------------------------------------------------------

Replacement = str | Callable[[re.Match], str]

# The end of a key (`client_secret`, `X-Twilio-Signature`, `password`): what comes before it
# stays as it is. No leading `[\w-]*`: that would make long words cost quadratic time.
_KEY_IN_TEXT = (
    r"(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|auth[_-]?token"
    r"|authorization|credentials?|signature|cookie|sessionid|private[_-]?key)"
)


def _keep_key(match: re.Match) -> str:
    quote = match.group("quote") or ""
    return f"{match.group('key')}{match.group('sep')}{quote}{REDACTED}{quote}"


# Applied in order; each is (pattern, replacement). Centro tokens go first so that no other
# pattern can cut one in two and leave a piece behind.
SECRET_PATTERNS: list[tuple[re.Pattern, Replacement]] = [
    (re.compile(r"ctr_[A-Za-z0-9_-]{16,}"), REDACTED),  # Centro API tokens
    # `scheme://user:password@host`: keep the user, drop the password.
    (
        re.compile(r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,30}://[^\s:/@]*:)[^\s@/]+@"),
        rf"\1{REDACTED}@",
    ),
    # Authorization headers: keep the scheme, drop the credentials. "Basic" must be followed by
    # something that looks like base64 (so "basic validation" stays); "Token x" and "Digest x"
    # are caught with their header name below.
    (re.compile(r"(?i)\b(bearer)(\s+)[a-z0-9._~+/=-]{8,}"), rf"\1\2{REDACTED}"),
    (
        re.compile(r"\b([Bb]asic|BASIC)(\s+)(?=[a-z0-9+/]*[A-Z0-9+/=])[A-Za-z0-9+/]{8,}={0,2}"),
        rf"\1\2{REDACTED}",
    ),
    (re.compile(r"\b(?:sk|pk|rk|whsec)_(?:live|test)_[A-Za-z0-9]{8,}"), REDACTED),  # Stripe
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), REDACTED),  # OpenAI-style keys
    (re.compile(r"\b(?:AC|SK)[0-9a-fA-F]{32}\b"), REDACTED),  # Twilio account / API key SIDs
    # key=value, key: value, "key": "value", key='two words' (the key stays readable).
    (
        re.compile(
            rf"(?i)(?P<key>{_KEY_IN_TEXT}[\"']?)(?P<sep>\s*[:=]\s*)"
            r"(?:(?P<quote>[\"'])(?:\\.|(?!(?P=quote)).)*(?P=quote)"
            r"|(?:(?:bearer|basic|digest|token)\s+)?(?:\[REDACTED\]|[^\s\"',;&)}\]]+))"
        ),
        _keep_key,
    ),
    # "auth token 9f8e…": a secret word, a space, then a long value with digits in it.
    (
        re.compile(
            r"(?i)\b((?:secret|token|password|api[_ -]?key|signature)\s+)"
            r"(?=[A-Za-z0-9_+/=.-]*\d)[A-Za-z0-9_+/=.-]{16,}"
        ),
        rf"\1{REDACTED}",
    ),
]

# --- Personal data ----------------------------------------------------------------------------

EMAIL = re.compile(
    r"(?<![\w.%+-])([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@|%40)([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)\b"
)
# International: `+` (or `%2B` in form bodies), then 8-15 digits with spaces, dots, dashes or
# parentheses between them.
INTERNATIONAL_PHONE = re.compile(
    r"(?:(?<![\w/+])\+|(?<![\w%])%2[Bb])\d(?:[\s().-]{0,2}\d){7,14}(?![\d])"
)
# National, written in groups: `(555) 123-4567`, `555-123-4567`, `55 1234 5678`, `1 555 123 4567`.
NATIONAL_PHONE = re.compile(
    r"(?<![\w.+/:%-])(?:\(\d{1,4}\)[ .-]?|\d{1,4}[ .-])(?:\d{2,4}[ .-]){0,3}\d{3,4}"
    r"(?![\w/:]|[.-]\d)"
)
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_ISO_DATE_START = re.compile(r"\d{4}-\d{2}-\d{2}")


def _mask_digits(digits: str, prefix: str = "") -> str:
    return f"{prefix}{'*' * (len(digits) - 4)}{digits[-4:]}"


def _mask_international(match: re.Match) -> str:
    raw = match.group(0)
    prefix = "+" if raw.startswith("+") else raw[:3]
    return _mask_digits(re.sub(r"\D", "", raw[len(prefix) :]), prefix)


def _mask_national(match: re.Match) -> str:
    raw = match.group(0)
    digits = re.sub(r"\D", "", raw)
    if not 9 <= len(digits) <= 15 or _IPV4.fullmatch(raw) or _ISO_DATE_START.match(raw):
        return raw
    return _mask_digits(digits)


def redact_text(text: str) -> str:
    for pattern, replacement in SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    text = EMAIL.sub(lambda m: f"{m.group(1)}***{m.group(2)}{m.group(3)}", text)
    text = INTERNATIONAL_PHONE.sub(_mask_international, text)
    return NATIONAL_PHONE.sub(_mask_national, text)


def redact_value(key: str | None, value: Any) -> Any:
    """A log field's value, redacted; objects become their (redacted) text, as JSON shows them."""
    if key is not None and is_secret_key(key):
        return REDACTED
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {str(k): redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(None, v) for v in value]
    return redact_text(str(value))


# Attributes every LogRecord has; anything else came from `extra=` and is logged as a field.
# color_message: uvicorn's copy of the message with terminal colours in it, for its own console.
_RECORD_ATTRS = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class RedactingFilter(logging.Filter):
    """Rewrites the record in place so that every later handler sees only the redacted text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # A bad format string still gets logged, redacted.
            message = f"{record.msg} {record.args}"
        record.msg = redact_text(message)
        record.args = None
        for name, value in list(vars(record).items()):
            if name not in _RECORD_ATTRS:
                setattr(record, name, redact_value(name, value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        record.exc_info = None  # The traceback objects still hold the secrets; the text does not.
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the `extra=` fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRS:
                entry[f"extra_{name}" if name in entry else name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str)


def json_logging(level: str, loggers: dict[str, dict] | None = None) -> dict:
    """A ``logging.config.dictConfig`` dict: every line JSON (:class:`JsonFormatter`) on
    stderr, secrets redacted (:class:`RedactingFilter`), the root at ``level``. Django's
    settings and the web server's parent process (omnichannel.serve) log the same way."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "omnichannel.logging.RedactingFilter"}},
        "formatters": {"json": {"()": "omnichannel.logging.JsonFormatter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["redact"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": loggers or {},
    }
