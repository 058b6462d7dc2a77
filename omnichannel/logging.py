"""Structured JSON logs and a filter that redacts secrets and masks personal data."""

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

SECRET_KEY_NAMES = re.compile(
    r"(pass(word)?|secret|token|api[_-]?key|auth(orization)?|credential|signature|cookie|session)",
    re.IGNORECASE,
)
# Values that are secrets wherever they appear in a message.
SECRET_VALUE_PATTERNS = [
    re.compile(r"(?i)\b(bearer|basic)\s+[a-z0-9._~+/=-]{8,}"),
    re.compile(r"\bctr_[A-Za-z0-9_-]{16,}"),  # Centro API tokens
    re.compile(r"\b(sk|pk|rk|whsec)_(live|test)_[A-Za-z0-9]{8,}"),  # Stripe keys
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),  # OpenAI-style keys
    re.compile(r"(?i)\b(AC|SK)[0-9a-f]{32}\b"),  # Twilio account / API key SIDs
    re.compile(
        r"(?i)((?:password|passwd|secret|token|api[_-]?key|auth[_-]?token)[\"']?\s*[:=]\s*[\"']?)"
        r"[^\s\"',;&]+"
    ),
]
EMAIL = re.compile(r"\b([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)\b")
PHONE = re.compile(r"(?<![\w/])(\+?\d[\d\s().-]{6,}\d)(?![\w/])")
REDACTED = "[REDACTED]"


def _mask_phone(match: re.Match) -> str:
    raw = match.group(1)
    digits = re.sub(r"\D", "", raw)
    if len(digits) < 8 or len(digits) > 15:
        return raw
    prefix = "+" if raw.startswith("+") else ""
    return f"{prefix}{'*' * (len(digits) - 4)}{digits[-4:]}"


def redact_text(text: str) -> str:
    for pattern in SECRET_VALUE_PATTERNS:
        if pattern.groups and pattern.pattern.startswith("(?i)(("):
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        else:
            text = pattern.sub(REDACTED, text)
    text = EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return PHONE.sub(_mask_phone, text)


def redact_value(key: str | None, value: Any) -> Any:
    if key is not None and SECRET_KEY_NAMES.search(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(None, v) for v in value]
    return value


# Attributes every LogRecord has; anything else came from `extra=` and is logged as a field.
_RECORD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class RedactingFilter(logging.Filter):
    """Rewrites the record in place so that every handler sees only the redacted text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        record.msg = redact_text(message)
        record.args = None
        for name, value in list(vars(record).items()):
            if name not in _RECORD_ATTRS:
                setattr(record, name, redact_value(name, value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRS:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str)
