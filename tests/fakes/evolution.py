"""The fake Evolution API server is the provider's simulator (``inbox.providers.evolution
.simulator``, also the demo's); the recorded payload shapes are the tests' fixtures."""

import json
from pathlib import Path

from inbox.providers.evolution.simulator import (  # noqa: F401  (the tests' names)
    API_KEY,
    INSTANCE,
    OWN_JID,
    QR_PNG,
    EvolutionServer,
    envelope,
    new_id,
    start,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "evolution"


def fixture(name: str) -> dict:
    """A payload from tests/fixtures/evolution/<name>.json (a fresh copy)."""
    return json.loads((FIXTURES / f"{name}.json").read_text())
