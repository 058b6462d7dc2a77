"""A Centro status change pushed to the bridged Chatwoot conversation.

One call: ``POST {api_url}/api/v1/accounts/{account_id}/conversations/{id}/toggle_status``
with ``{"status": ..., "snoozed_until": <unix>}`` and the ``api_access_token`` header. Kept to
this function so the provider's ``push_status`` can switch to the shared Chatwoot client
without its callers noticing.
"""

from datetime import datetime
from urllib.parse import quote

from inbox.providers.base import ProviderError
from inbox.providers.chatwoot.events import STATUS_TO_CHATWOOT
from inbox.providers.server_http import server_request

TIMEOUT = 10.0


def push_status(
    provider, thread_ref: str, status: str, snoozed_until: datetime | None = None
) -> None:
    """Set the Chatwoot conversation ``thread_ref`` (its display id) to what Centro's
    ``status`` is there; ``ProviderError`` (``permanent`` when retrying cannot help)."""
    word = STATUS_TO_CHATWOOT.get(status)
    if word is None:
        raise ProviderError(f"Centro's status “{status}” has no Chatwoot match.", permanent=True)
    credentials = provider._credentials()
    base = str(credentials.get("api_url") or "").rstrip("/")
    account = str(credentials.get("account_id") or "")
    token = str(credentials.get("api_access_token") or "")
    if not (base and account and token and thread_ref):
        raise ProviderError(
            "This Chatwoot inbox lacks its API URL, account id or access token.",
            code="credentials",
            permanent=True,
        )
    body: dict = {"status": word}
    if word == "snoozed" and snoozed_until is not None:
        body["snoozed_until"] = int(snoozed_until.timestamp())
    url = (
        f"{base}/api/v1/accounts/{quote(account, safe='')}/conversations/"
        f"{quote(thread_ref, safe='')}/toggle_status"
    )
    response = server_request(
        "POST",
        url,
        server="The Chatwoot server",
        url_label="Chatwoot URL",
        timeout=TIMEOUT,
        sends=False,  # setting a status twice is harmless: a timeout is retried
        unknown_outcome="",
        json=body,
        headers={"api_access_token": token, "Accept": "application/json"},
    )
    if response.status_code >= 400:
        raise ProviderError.from_http_status(
            response.status_code, service="Chatwoot", detail=response.text[:200]
        )
