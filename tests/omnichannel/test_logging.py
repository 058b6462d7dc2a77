"""Logs are JSON lines with secrets redacted and phones/emails masked, through the real config.

The handler under test is the one settings.LOGGING installed on the root logger (JsonFormatter +
RedactingFilter); its stream is swapped for a buffer while a test logs.
"""

import io
import json
import logging
import secrets
import string
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnichannel.logging import JsonFormatter, RedactingFilter, redact_text

TOKEN = "ctr_" + secrets.token_urlsafe(32)
TWILIO_AUTH_TOKEN = secrets.token_hex(16)
BEARER = secrets.token_urlsafe(24)
PASSWORD = "hunter2"
EXTRA_PASSWORD = "s3cr3t-Pa55word!"
API_KEY = "sk-" + secrets.token_urlsafe(24)
URLSAFE = string.ascii_letters + string.digits + "-_"


@pytest.fixture
def json_log():
    """Lines written by the root handler that settings.LOGGING configured, as parsed JSON."""
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if isinstance(handler.formatter, JsonFormatter)
        and any(isinstance(f, RedactingFilter) for f in handler.filters)
    ]
    assert len(handlers) == 1, "settings.LOGGING installs one JSON, redacting handler"
    handler = handlers[0]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    logger = logging.getLogger(f"centro.test.{secrets.token_hex(4)}")

    def lines() -> list[dict]:
        raw = [line for line in buffer.getvalue().splitlines() if line]
        parsed = [json.loads(line) for line in raw]  # every line is one JSON object
        return [entry for entry in parsed if entry["logger"] == logger.name]

    try:
        yield logger, lines, buffer
    finally:
        handler.setStream(previous)


def test_it_writes_a_record_with_a_token_a_password_and_a_phone_redacted(json_log):
    logger, lines, buffer = json_log
    logger.warning(
        "Sending to +5215512345678 with token %s failed (password=%s, Authorization: Bearer %s)",
        TOKEN,
        PASSWORD,
        BEARER,
        extra={
            "password": EXTRA_PASSWORD,
            "twilio_auth_token": TWILIO_AUTH_TOKEN,
            "headers": {"Authorization": f"Bearer {BEARER}", "X-Api-Key": API_KEY},
            "note": f"auth_token={TWILIO_AUTH_TOKEN} api key {API_KEY}",
            "contact": "Call (555) 123-4567 or write to maria.lopez@example.com",
            "attempt": 3,
        },
    )

    output = buffer.getvalue()
    for secret in (TOKEN, PASSWORD, EXTRA_PASSWORD, TWILIO_AUTH_TOKEN, BEARER, API_KEY):
        assert secret not in output
    for personal in ("5215512345678", "1551234", "555) 123", "maria.lopez", "lopez@"):
        assert personal not in output

    [entry] = lines()
    assert entry["level"] == "WARNING"
    assert entry["message"] == (
        "Sending to +*********5678 with token [REDACTED] failed "
        "(password=[REDACTED], Authorization: [REDACTED])"
    )
    assert entry["password"] == "[REDACTED]"
    assert entry["twilio_auth_token"] == "[REDACTED]"
    assert entry["headers"] == {"Authorization": "[REDACTED]", "X-Api-Key": "[REDACTED]"}
    assert entry["note"] == "auth_token=[REDACTED] api key [REDACTED]"
    assert entry["contact"] == "Call ******4567 or write to m***@example.com"
    assert entry["attempt"] == 3
    assert entry["time"].endswith("+00:00")


def test_it_redacts_secrets_in_exception_tracebacks(json_log):
    logger, lines, buffer = json_log

    def connect(password: str) -> None:
        raise ConnectionError(f"login refused for postgres://app:{password}@db:5432/centro")

    try:
        connect(EXTRA_PASSWORD)
    except ConnectionError:
        logger.exception("Could not reach the database with key %s", TOKEN)

    assert EXTRA_PASSWORD not in buffer.getvalue()
    assert TOKEN not in buffer.getvalue()
    [entry] = lines()
    assert "Traceback (most recent call last)" in entry["exception"]
    assert "postgres://app:[REDACTED]@db:5432/centro" in entry["exception"]


def test_it_redacts_stack_info_and_objects_logged_as_fields(json_log):
    logger, lines, buffer = json_log

    class Request:
        def __str__(self) -> str:
            return f"<Request GET /api/v1/x?api_key={TOKEN}>"

    logger.info("Handled", extra={"request": Request()}, stack_info=True)
    assert TOKEN not in buffer.getvalue()
    [entry] = lines()
    assert entry["request"] == "<Request GET /api/v1/x?api_key=[REDACTED]>"
    assert "stack" in entry


@pytest.mark.parametrize(
    "text",
    [
        "took 1234ms",
        "took 1234 ms for 56 rows",
        "created at 2026-11-22",
        "at 2026-11-22T10:15:30.123456+00:00",
        "2026-11-22 10:15:30,123 worker ready",
        "2026-11-22 1530 sweep",
        "from 127.0.0.1:6379 and 192.168.100.200",
        "conversation 123456789 of tenant 42",
        "epoch 1763778896 or 1763778896123",
        "request 3f1c2a9e-2b7d-4c1e-9a8b-0123456789ab",
        "version 6.1.0, ratio 0.123456789",
        "HTTP/1.1 200 OK 1024 bytes",
        "token expired after 3600 seconds",
        "basic validation failed for 12 fields",
        "author maria, tokens used 512",
    ],
)
def test_it_leaves_numbers_and_words_that_are_not_secrets_or_phones_alone(text):
    assert redact_text(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+5215512345678", "+*********5678"),
        ("+52 1 55 1234 5678", "+*********5678"),
        ("+1 (555) 123-4567", "+*******4567"),
        ("whatsapp:+5215512345678", "whatsapp:+*********5678"),
        ("From=%2B5215512345678&To=%2B15551234567", "From=%2B*********5678&To=%2B*******4567"),
        ("(555) 123-4567", "******4567"),
        ("555-123-4567", "******4567"),
        ("555.123.4567", "******4567"),
        ("55 1234 5678", "******5678"),
        ("owner@acme.test", "o***@acme.test"),
        ("email=owner%40acme.test", "email=o***%40acme.test"),
    ],
)
def test_it_masks_phones_to_the_last_four_digits_and_emails_to_a_letter(text, expected):
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"password": "hunter 2"}', '{"password": "[REDACTED]"}'),
        ("client_secret='abc def'", "client_secret='[REDACTED]'"),
        ("?api_key=abc123&page=2", "?api_key=[REDACTED]&page=2"),
        ("Cookie: sessionid=abc; csrftoken=def", "Cookie: [REDACTED]; csrftoken=[REDACTED]"),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: [REDACTED]"),
        ("(b'authorization', b'Basic dXNlcjpwYXNz')", "(b'authorization', b'Basic [REDACTED]')"),
        ("Authorization: Token abc123def456", "Authorization: [REDACTED]"),
        ("X-Twilio-Signature: 0123abcd/+=", "X-Twilio-Signature: [REDACTED]"),
        ("redis://:hunter2@127.0.0.1:6379/1", "redis://:[REDACTED]@127.0.0.1:6379/1"),
        ("key sk_live_abcdefgh12345678", "key [REDACTED]"),
        ("whsec_test_abcdefgh12345678", "[REDACTED]"),
        pytest.param(
            f"Twilio auth token {TWILIO_AUTH_TOKEN}",
            "Twilio auth token [REDACTED]",
            id="twilio-auth-token",  # the token is random: the same id in every xdist worker
        ),
    ],
)
def test_it_redacts_secrets_in_text(text, expected):
    assert redact_text(text) == expected


def test_it_redacts_secret_fields_by_name_but_not_lookalikes(json_log):
    logger, lines, _ = json_log
    logger.info(
        "fields",
        extra={
            "accessToken": "a1",
            "client_secret": "a2",
            "password2": "a3",
            "HTTP_AUTHORIZATION": "a4",
            "author": "maria",
            "tokenizer": "bpe",
            "user_id": 7,
        },
    )
    [entry] = lines()
    for key in ("accessToken", "client_secret", "password2", "HTTP_AUTHORIZATION"):
        assert entry[key] == "[REDACTED]"
    assert (entry["author"], entry["tokenizer"], entry["user_id"]) == ("maria", "bpe", 7)


def test_it_keeps_its_own_fields_when_extra_uses_their_names(json_log):
    logger, lines, _ = json_log
    logger.info("hello", extra={"level": "custom", "time": "then"})
    [entry] = lines()
    assert entry["level"] == "INFO"
    assert (entry["extra_level"], entry["extra_time"]) == ("custom", "then")


@given(
    before=st.text(),
    body=st.text(alphabet=URLSAFE, min_size=43, max_size=43),
    after=st.text(),
)
def test_it_never_outputs_a_centro_token_wherever_it_appears(before, body, after):
    token = f"ctr_{body}"
    assert token not in redact_text(before + token + after)

    record = logging.makeLogRecord(
        {
            "name": "centro.property",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "%s",
            "args": (before + token + after,),
            "seen": [before + token],
            "payload": {"note": token + after},
        }
    )
    RedactingFilter().filter(record)
    assert token not in JsonFormatter().format(record)


@pytest.mark.parametrize("unit", ["a", "a.", "1-", "password", "x@", "+1", "ctr_", "a://"])
def test_it_redacts_long_lines_in_linear_time(unit):
    """A 100 kB attachment or payload in a log line must not stall the process (no ReDoS)."""
    text = unit * (100_000 // len(unit))
    started = time.perf_counter()
    redact_text(text)
    assert time.perf_counter() - started < 5  # quadratic patterns took minutes here
