"""Inbox routes of the JSON API (mounted by omnichannel.api)."""

from ninja import Router

router = Router(tags=["inbox"])
