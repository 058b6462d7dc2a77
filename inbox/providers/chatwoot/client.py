"""A small client of Chatwoot's Application API (``/api/v1/…`` with the ``api_access_token``
header): what Centro's Chatwoot bridge calls, for sending, "test connection" and mirroring.

Facts: ../shared/providers/chatwoot.md §3. Answers come in envelopes: a contact search is
``{"meta": {"count", "current_page", "has_more"}, "payload": [contact…]}`` (``count`` is the
rows of this page, not a total), a created contact ``{"payload": {"contact": …,
"contact_inbox": …}}``, a contact ``{"payload": contact}``, a contact's conversations
``{"payload": [conversation…]}``; conversations and messages come bare. A conversation's
``id`` is its per-account display id, what every path takes.

Errors become :class:`ProviderError` (``from_http_status``: 429 and 5xx are retried, other
4xx are final); a 422 carries Chatwoot's own sentence (``{"message": …}`` or ``{"error":
…}``), a 401 says whether the token or the account is wrong. Every request goes through
:func:`inbox.providers.server_http.server_request` (the SSRF guard, timeouts, and a send that
timed out after reaching the server is not retried: it may have been posted).

Public API (the provider, "test connection" and the webhooks/mirror side use it)::

    client = ChatwootClient.for_inbox(inbox)     # or ChatwootClient(api_url, token, account_id)
    client.profile()                             # GET /api/v1/profile -> the token's user
    client.inbox(inbox_id=None)                  # GET …/inboxes/{id} (default: the inbox's)
    client.search_contacts(q, page=1)            # -> SearchPage(contacts, has_more)
    client.find_contact_by_phone("+1555…")       # exact E.164 match over the pages, or None
    client.contact(contact_id)                   # GET …/contacts/{id} -> the contact
    client.create_contact(name=, phone=, email=None, identifier=None, inbox_id=None)
    client.update_contact(contact_id, custom_attributes={…}, **fields)  # PATCH: merges
    client.contact_conversations(contact_id)     # -> [conversation…]
    client.create_conversation(contact_id, inbox_id=None, source_id=None, status=None)
    client.create_message(conversation_id, content, message_type="outgoing", private=False,
                          source_id=None)        # -> the message (its "id")
    client.toggle_status(conversation_id, status)  # open / resolved / pending / snoozed
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from inbox.providers.base import ProviderError
from inbox.providers.server_http import server_request

SERVICE = "Chatwoot"
CALL_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
SEND_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# Pages of a phone search read before giving up (15 contacts a page): a phone matches few.
MAX_SEARCH_PAGES = 5
STATUSES = ("open", "resolved", "pending", "snoozed")
UNKNOWN_OUTCOME = (
    "Chatwoot did not answer in time, so the message may or may not have been posted. It is "
    "not sent again automatically: check the conversation in Chatwoot before resending."
)
INVALID_TOKEN = "Invalid Access Token"  # noqa: S105 (Chatwoot's error text)


@dataclass(frozen=True)
class SearchPage:
    """One page of a contact search: its contacts and whether another page follows."""

    contacts: list[dict]
    has_more: bool


def _object(value) -> dict:
    return value if isinstance(value, dict) else {}


def _detail(answer) -> str:
    """Chatwoot's sentence in an error answer: ``message`` (a record that failed validation),
    ``error`` (a refused request) or ``errors`` (a list)."""
    answer = _object(answer)
    for key in ("message", "error"):
        value = answer.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:300]
    errors = answer.get("errors")
    if isinstance(errors, list):
        return "; ".join(str(item) for item in errors if item)[:300]
    return ""


class ChatwootClient:
    """One Chatwoot account reached with one access token (an agent's or an agent bot's)."""

    def __init__(
        self,
        api_url: str,
        api_access_token: str,
        account_id: int | str,
        *,
        inbox_id: int | str | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.api_access_token = api_access_token
        self.account_id = str(account_id)
        self.inbox_id = str(inbox_id) if inbox_id not in (None, "") else ""

    @classmethod
    def for_inbox(cls, inbox) -> "ChatwootClient":
        """The client of a Chatwoot inbox's stored credentials; ``ProviderError`` (permanent)
        when some are missing."""
        creds = inbox.get_credentials()
        missing = [
            key for key in ("api_url", "api_access_token", "account_id") if not creds.get(key)
        ]
        if missing:
            raise ProviderError(
                f"This inbox has no Chatwoot {', '.join(missing)}; ask an admin to add it.",
                code="credentials",
                permanent=True,
            )
        return cls(
            creds["api_url"],
            creds["api_access_token"],
            creds["account_id"],
            inbox_id=creds.get("inbox_id"),
        )

    # --- transport ---------------------------------------------------------------------------

    def account_path(self, path: str) -> str:
        """``/api/v1/accounts/{account_id}`` + ``path``."""
        return f"/api/v1/accounts/{quote(self.account_id, safe='')}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        sends: bool = False,
        timeout: httpx.Timeout = CALL_TIMEOUT,
        **kwargs,
    ) -> Any:
        """The JSON answer to ``method path`` (a path from the server's root); ``ProviderError``
        for anything but a 2xx. ``sends``: the request posts a message, so a timeout once it
        reached the server is final (it may have been posted)."""
        response = server_request(
            method,
            self.api_url + path,
            headers={"api_access_token": self.api_access_token, "Accept": "application/json"},
            server="The Chatwoot server",
            url_label="Chatwoot URL",
            timeout=timeout,
            sends=sends,
            unknown_outcome=UNKNOWN_OUTCOME,
            **kwargs,
        )
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            answer = {}
        if response.status_code >= 400:
            raise self.error(response.status_code, answer, response.headers.get("Retry-After"))
        return answer

    def error(self, status: int, answer, retry_after: str | None = None) -> ProviderError:
        """What an error answer means for the caller (see the module's docstring)."""
        detail = _detail(answer)
        if status == 401:
            if detail and detail != INVALID_TOKEN:
                # A valid token whose user is not in this account.
                return ProviderError(
                    f"Chatwoot refused account {self.account_id}: {detail}. Check the account "
                    "id, or use a token of a user of that account.",
                    code="401",
                    permanent=True,
                )
            return ProviderError(
                "Chatwoot rejected this inbox's access token (HTTP 401); ask an admin to paste "
                "a valid one (Chatwoot → Profile settings → Access token).",
                code="401",
                permanent=True,
            )
        if status == 422:
            return ProviderError(
                f"Chatwoot refused the request: {detail or 'the data is not valid'} (HTTP 422).",
                code="422",
                permanent=True,
            )
        seconds = None
        if retry_after and retry_after.strip().isdigit():
            seconds = float(retry_after.strip())
        return ProviderError.from_http_status(
            status, service=SERVICE, detail=detail, retry_after=seconds
        )

    # --- the account -------------------------------------------------------------------------

    def profile(self) -> dict:
        """``GET /api/v1/profile``: the token's user (``name``, ``email``, ``accounts``)."""
        return _object(self.request("GET", "/api/v1/profile"))

    def inbox(self, inbox_id: int | str | None = None) -> dict:
        """``GET …/inboxes/{id}``: the inbox (``name``, ``channel_type``…)."""
        inbox_id = self.require_inbox_id(inbox_id)
        return _object(self.request("GET", self.account_path(f"/inboxes/{inbox_id}")))

    def require_inbox_id(self, inbox_id: int | str | None = None) -> str:
        """``inbox_id``, else the configured one; ``ProviderError`` when there is none."""
        value = str(inbox_id) if inbox_id not in (None, "") else self.inbox_id
        if not value.isdigit():
            raise ProviderError(
                "No Chatwoot inbox id is configured; ask an admin to add it.",
                code="credentials",
                permanent=True,
            )
        return value

    # --- contacts ----------------------------------------------------------------------------

    def search_contacts(self, q: str, *, page: int = 1) -> SearchPage:
        """``GET …/contacts/search?q=``: name, email and phone containing ``q`` (httpx encodes
        a phone's ``+`` as ``%2B``; a bare ``+`` would be read as a space)."""
        answer = _object(
            self.request(
                "GET",
                self.account_path("/contacts/search"),
                params={"q": q, "page": page, "include_contact_inboxes": "false"},
            )
        )
        contacts = [c for c in answer.get("payload") or [] if isinstance(c, dict)]
        return SearchPage(contacts, bool(_object(answer.get("meta")).get("has_more")))

    def find_contact_by_phone(self, phone: str) -> dict | None:
        """The contact whose phone is exactly ``phone`` (E.164), reading the search's pages
        (a search for ``+1555`` also finds ``+15551…``); None when there is none."""
        from contacts.phones import InvalidPhone, normalize_phone

        for page in range(1, MAX_SEARCH_PAGES + 1):
            found = self.search_contacts(phone, page=page)
            for contact in found.contacts:
                number = contact.get("phone_number")
                if not isinstance(number, str) or not number:
                    continue
                try:
                    if normalize_phone(number, "") == phone:
                        return contact
                except InvalidPhone:
                    continue
            if not found.has_more:
                break
        return None

    def contact(self, contact_id: int | str) -> dict:
        """``GET …/contacts/{id}``."""
        answer = self.request("GET", self.account_path(f"/contacts/{int(contact_id)}"))
        return _object(_object(answer).get("payload"))

    def create_contact(
        self,
        *,
        name: str = "",
        phone: str = "",
        email: str | None = None,
        identifier: str | None = None,
        inbox_id: int | str | None = None,
    ) -> dict:
        """``POST …/contacts``: the new contact (``payload.contact``). A phone Chatwoot already
        has (422 "has already been taken", a concurrent create) answers the existing contact."""
        body: dict[str, Any] = {"name": name or phone}
        if phone:
            body["phone_number"] = phone
        if email:
            body["email"] = email
        if identifier:
            body["identifier"] = identifier
        target = str(inbox_id) if inbox_id not in (None, "") else self.inbox_id
        if target:
            body["inbox_id"] = int(target)
        try:
            answer = self.request("POST", self.account_path("/contacts"), json=body)
        except ProviderError as exc:
            if exc.code == "422" and "taken" in exc.message and phone:
                existing = self.find_contact_by_phone(phone)
                if existing is not None:
                    return existing
            raise
        contact = _object(_object(_object(answer).get("payload")).get("contact"))
        if not contact.get("id"):
            raise ProviderError(
                "Chatwoot created the contact but gave no id.", code="no_id", permanent=True
            )
        return contact

    def update_contact(
        self, contact_id: int | str, *, custom_attributes: Mapping | None = None, **fields
    ) -> dict:
        """``PATCH …/contacts/{id}``: ``custom_attributes`` (and ``additional_attributes``)
        are merged into what Chatwoot has, not replaced."""
        body = dict(fields)
        if custom_attributes is not None:
            body["custom_attributes"] = dict(custom_attributes)
        answer = self.request("PATCH", self.account_path(f"/contacts/{int(contact_id)}"), json=body)
        return _object(_object(answer).get("payload"))

    def contact_conversations(self, contact_id: int | str) -> list[dict]:
        """``GET …/contacts/{id}/conversations``: the contact's conversations, every inbox."""
        answer = self.request(
            "GET", self.account_path(f"/contacts/{int(contact_id)}/conversations")
        )
        return [c for c in _object(answer).get("payload") or [] if isinstance(c, dict)]

    # --- conversations and messages ----------------------------------------------------------

    def create_conversation(
        self,
        contact_id: int | str,
        *,
        inbox_id: int | str | None = None,
        source_id: str | None = None,
        status: str | None = None,
    ) -> dict:
        """``POST …/conversations`` in the inbox (the configured one by default): the
        conversation (its ``id`` is the display id)."""
        body: dict[str, Any] = {
            "inbox_id": int(self.require_inbox_id(inbox_id)),
            "contact_id": int(contact_id),
        }
        if source_id:
            body["source_id"] = source_id
        if status:
            body["status"] = status
        answer = _object(self.request("POST", self.account_path("/conversations"), json=body))
        if not answer.get("id"):
            raise ProviderError(
                "Chatwoot created the conversation but gave no id.", code="no_id", permanent=True
            )
        return answer

    def create_message(
        self,
        conversation_id: int | str,
        content: str,
        *,
        message_type: str = "outgoing",
        private: bool = False,
        source_id: str | None = None,
    ) -> dict:
        """``POST …/conversations/{id}/messages``: the message (its ``id``). Chatwoot fires
        ``message_created`` for it to the webhooks; ``source_id`` is how our echo is told."""
        body: dict[str, Any] = {
            "content": content,
            "message_type": message_type,
            "private": private,
            "content_type": "text",
        }
        if source_id:
            body["source_id"] = source_id
        answer = _object(
            self.request(
                "POST",
                self.account_path(f"/conversations/{_display_id(conversation_id)}/messages"),
                json=body,
                sends=True,
                timeout=SEND_TIMEOUT,
            )
        )
        if not answer.get("id"):
            raise ProviderError(
                "Chatwoot accepted the message but gave no id.", code="no_id", permanent=True
            )
        return answer

    def toggle_status(
        self, conversation_id: int | str, status: str, *, snoozed_until: int | None = None
    ) -> dict:
        """``POST …/conversations/{id}/toggle_status`` (``snoozed_until``: unix seconds, for
        ``snoozed``): Chatwoot's answer payload (``current_status``)."""
        if status not in STATUSES:
            raise ValueError(f"A Chatwoot conversation status is one of {', '.join(STATUSES)}.")
        body: dict[str, Any] = {"status": status}
        if status == "snoozed" and snoozed_until is not None:
            body["snoozed_until"] = snoozed_until
        answer = self.request(
            "POST",
            self.account_path(f"/conversations/{_display_id(conversation_id)}/toggle_status"),
            json=body,
        )
        return _object(_object(answer).get("payload"))


def _display_id(value: int | str) -> int:
    """A conversation's display id (what Centro stores as the thread ref) as a number."""
    text = str(value).strip()
    if not text.isdigit():
        raise ProviderError(
            f"“{text[:40]}” is not a Chatwoot conversation id.", code="thread", permanent=True
        )
    return int(text)
