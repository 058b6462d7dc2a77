"""The fake BlueBubbles server for tests: the provider's local simulator
(``inbox.providers.bluebubbles.simulator``), started per test, plus the payload fixtures in
tests/fixtures/bluebubbles/ (built from the documented shapes)."""

import json
from pathlib import Path

from inbox.providers.bluebubbles.simulator import (
    PASSWORD,
    BlueBubblesSimulator,
    dm_guid,
    event,
    message_data,
    start,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bluebubbles"
# The name the tests knew it by.
BlueBubblesServer = BlueBubblesSimulator

__all__ = [
    "PASSWORD",
    "BlueBubblesServer",
    "BlueBubblesSimulator",
    "dm_guid",
    "event",
    "fixture",
    "message_data",
    "start",
]


def fixture(name: str) -> dict:
    """A payload from tests/fixtures/bluebubbles/<name>.json (a fresh copy)."""
    return json.loads((FIXTURES / f"{name}.json").read_text())
