"""Keyset ("cursor") pagination: the cursor is an opaque token holding the sort key of the last
row of a page (a moment and an id), so pages stay stable while new rows arrive and deep pages
cost the same as the first one. The inbox's conversation lists and the contact lists use it.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from django.utils.dateparse import parse_datetime


class InvalidCursor(ValueError):
    """A cursor we did not hand out (or one tampered with): the caller answers 400."""


def encode_cursor(moment: datetime | None, pk: int) -> str:
    raw = json.dumps([moment.isoformat() if moment else None, pk], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime | None, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(pk, int) or isinstance(pk, bool):
            raise TypeError
        parsed = None
        if moment is not None:
            parsed = parse_datetime(moment)
            if parsed is None or parsed.tzinfo is None:
                raise ValueError
        return parsed, pk
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise InvalidCursor(
            "The cursor is not valid; use next_cursor from a previous page."
        ) from exc


@dataclass(frozen=True)
class Page:
    """One page of rows and the cursor of the next one (None on the last page)."""

    items: list
    next_cursor: str | None
