"""Contacts fixtures: the Twilio simulator comes from the inbox tests' fixtures."""

from tests.inbox.conftest import fake_twilio  # noqa: F401  (fixture)
