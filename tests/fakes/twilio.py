"""The fake Twilio for tests: one simulator per test session, reset before every test.

The REAL ``twilio`` SDK talks HTTP to it on 127.0.0.1 (inboxes point ``api_base_url`` at it).
Fixtures built on these helpers live in tests/inbox/conftest.py.
"""

import itertools
import secrets

from contacts.phones import format_phone
from inbox.models import Inbox
from inbox.providers.twilio.simulator import TwilioSimulator, start
from omnichannel.channels import Channel

_server: TwilioSimulator | None = None
_numbers = itertools.count(100)


def simulator() -> TwilioSimulator:
    """The session's simulator (started on first use; strict about credentials)."""
    global _server
    if _server is None:
        _server, _ = start(accounts={})
    return _server


def new_account_sid() -> str:
    return "AC" + secrets.token_hex(16)


def make_twilio_inbox(
    tenant,
    *,
    kind: str = Channel.SMS,
    address: str | None = None,
    sim: TwilioSimulator | None = None,
    account_sid: str | None = None,
    auth_token: str | None = None,
    name: str = "",
    **settings,
) -> Inbox:
    """A Twilio inbox of ``tenant`` whose API calls go to ``sim`` (registered there)."""
    sim = sim or simulator()
    account_sid = account_sid or new_account_sid()
    auth_token = auth_token or secrets.token_hex(16)
    sim.add_account(account_sid, auth_token)
    address = address or f"+1415555{next(_numbers):04d}"
    inbox = Inbox(
        tenant=tenant,
        # The name do_create_inbox gives an unnamed inbox.
        name=name or f"{Channel(kind).label} {format_phone(address, tenant.default_region)}",
        kind=kind,
        provider="twilio",
        address=address,
        settings={"api_base_url": sim.base_url, **settings},
    )
    inbox.set_credentials({"account_sid": account_sid, "auth_token": auth_token})
    inbox.save()
    return inbox
