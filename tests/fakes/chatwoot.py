"""The fake Chatwoot server is the provider's simulator (``inbox.providers.chatwoot
.simulator``, also the demo's); the payload shapes of chatwoot.md §2.5 are the tests'
fixtures (tests/fixtures/chatwoot/)."""

import json
from pathlib import Path

from inbox.providers.chatwoot.simulator import (  # noqa: F401  (the tests' names)
    ACCOUNT_ID,
    AGENT,
    FOREIGN_ACCOUNT_ID,
    INBOX_ID,
    INBOX_NAME,
    TOKEN,
    ChatwootServer,
    signature,
    start,
    webhook_headers,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "chatwoot"


def fixture(name: str) -> dict:
    """A payload from tests/fixtures/chatwoot/<name>.json (a fresh copy)."""
    return json.loads((FIXTURES / f"{name}.json").read_text())
