"""A local Chatwoot simulator (not Chatwoot) speaking its Application API and its webhooks:
the ``api_access_token`` header, accounts with inboxes, contacts, conversations and messages
in memory, answers in Chatwoot's shapes (``payload``/``meta`` envelopes, 401 ``{"error":
"Invalid Access Token"}``, 422 for a phone already taken, 404 ``Resource could not be
found``), and, like Chatwoot, webhooks for what happens: ``message_created`` for every message
(those posted through the API too), ``conversation_created``, ``contact_created``,
``conversation_status_changed`` with its ``conversation_updated``, signed as Chatwoot ≥ 4.12
signs them (``X-Chatwoot-Delivery``, ``X-Chatwoot-Timestamp``, ``X-Chatwoot-Signature =
"sha256=" + HMAC-SHA256(secret, f"{ts}.{body}")``; no secret: no signature headers, as an
older Chatwoot). Facts: ../shared/providers/chatwoot.md §2 and §3.

The tests' fake server, and the demo's (``make run`` starts it). Runs without Django.

Simulating what people do in Chatwoot (each fires its webhooks), from Python::

    server.incoming("+15551234567", "Hi!", name="Jane")   # a customer writes -> the message
    server.agent_reply(conversation_id, "On it")            # an agent answers in Chatwoot
    server.private_note(conversation_id, "VIP")             # an agent's private note
    server.set_status(conversation_id, "resolved")          # open/resolved/pending/snoozed
    server.configure_webhook(url, secret)                   # where webhooks go ("" url: none)
    server.events                                           # every webhook payload built
    server.deliveries                                       # (url, headers, body, status)
    server.wait_for_webhooks()                              # the posts in flight are done

or over HTTP (no token; the simulator listens on loopback): ``POST /_simulator/incoming
{"phone", "content", "name"?}``, ``POST /_simulator/reply {"conversation_id", "content"}``,
``POST /_simulator/note {"conversation_id", "content"}``, ``POST /_simulator/status
{"conversation_id", "status"}``, ``POST /_simulator/webhook {"url", "secret"}``, ``GET
/_simulator/state``. Each answers ``{"message"|"conversation": …, "events": [names fired]}``.

Run alone: ``python -m inbox.providers.chatwoot.simulator --port 8768`` (webhooks go to
``--webhook-url`` or ``CHATWOOT_SIMULATOR_WEBHOOK_URL``, signed with
``CHATWOOT_SIMULATOR_WEBHOOK_SECRET``).
"""

import argparse
import copy
import hashlib
import hmac
import itertools
import json
import logging
import os
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx

from inbox.providers.simulator_serving import serve_until_stopped

logger = logging.getLogger(__name__)

TOKEN = "cw-agent-token"  # noqa: S105 (the simulator's own made-up token)
ACCOUNT_ID = 1
ACCOUNT_NAME = "Acme"
# Another account on the same server, of which the token's user is not a member.
FOREIGN_ACCOUNT_ID = 2
INBOX_ID = 7
INBOX_NAME = "Centro"
AGENT = {"id": 3, "name": "Ann Agent", "email": "ann@acme.test"}
STATUSES = ("open", "resolved", "pending", "snoozed")
MESSAGE_TYPES = {"incoming": 0, "outgoing": 1, "activity": 2, "template": 3}
PAGE_SIZE = 15
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
NOT_FOUND = {"error": "Resource could not be found"}


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Chatwoot's ``X-Chatwoot-Signature`` of a raw body sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def webhook_headers(secret: str, body: bytes, *, timestamp: str | None = None) -> dict:
    """The headers Chatwoot sends with a webhook body (``lib/webhooks/trigger.rb``)."""
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-Chatwoot-Delivery": str(uuid.uuid4()),
    }
    if secret:
        ts = timestamp or str(int(time.time()))
        headers["X-Chatwoot-Timestamp"] = ts
        headers["X-Chatwoot-Signature"] = signature(secret, ts, body)
    return headers


class SimulatorError(Exception):
    """A request the simulator answers with an error (``status`` and Chatwoot's body)."""

    def __init__(self, status: int, body: dict) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


class ChatwootServer(ThreadingHTTPServer):
    """One Chatwoot installation with the account ``ACCOUNT_ID`` (its inbox ``INBOX_ID``, an
    API channel) and a foreign account; the token ``token`` is the agent ``AGENT``'s."""

    daemon_threads = True

    def __init__(
        self,
        token: str = TOKEN,
        *,
        address: tuple[str, int] = ("127.0.0.1", 0),
        webhook_url: str = "",
        webhook_secret: str = "",
    ) -> None:
        super().__init__(address, _Handler)
        self.token = token
        self.lock = threading.RLock()
        self.reset()
        self.configure_webhook(webhook_url, webhook_secret)

    def reset(self) -> None:
        """Forget every record and request (the webhook target stays)."""
        with getattr(self, "lock", threading.RLock()):
            self.requests: list[tuple[str, str, dict]] = []  # (method, path, body or query)
            self.accounts = {
                ACCOUNT_ID: {"id": ACCOUNT_ID, "name": ACCOUNT_NAME, "member": True},
                FOREIGN_ACCOUNT_ID: {"id": FOREIGN_ACCOUNT_ID, "name": "Other", "member": False},
            }
            self.inboxes = {
                (ACCOUNT_ID, INBOX_ID): self._inbox_record(INBOX_ID, INBOX_NAME),
                (FOREIGN_ACCOUNT_ID, INBOX_ID): self._inbox_record(INBOX_ID, "Not yours"),
            }
            self.contacts: dict[int, dict] = {}
            self.conversations: dict[tuple[int, int], dict] = {}  # (account, display id)
            self.messages: list[dict] = []
            self.events: list[dict] = []
            self.deliveries: list[tuple[str, dict, bytes, int | None]] = []
            self.failures: list[tuple[str, int, dict]] = []  # (path part, status, body)
            self._contact_ids = itertools.count(77)
            self._message_ids = itertools.count(4242)
            self._display_ids = itertools.count(123)
            self._posts: list[threading.Thread] = []

    def configure_webhook(self, url: str, secret: str = "") -> None:
        """Where webhooks go ("" url: none are posted, they are only recorded in ``events``)
        and the secret that signs them ("": unsigned, as Chatwoot before 4.12)."""
        self.webhook_url = url or ""
        self.webhook_secret = secret or ""

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def paths(self, method: str = "") -> list[str]:
        """The API paths requested so far (simulation routes left out)."""
        return [
            path
            for m, path, _ in self.requests
            if (not method or m == method) and not path.startswith("/_simulator")
        ]

    def fail_next(self, status: int, body: dict | None = None, *, path: str = "") -> None:
        """Answer the next API request whose path contains ``path`` with ``status``."""
        with self.lock:
            self.failures.append((path, status, body if body is not None else {}))

    # --- records in Chatwoot's shapes ----------------------------------------------------------

    def _inbox_record(self, inbox_id: int, name: str) -> dict:
        return {
            "id": inbox_id,
            "avatar_url": "",
            "channel_id": 3,
            "name": name,
            "channel_type": "Channel::Api",
            "greeting_enabled": False,
            "greeting_message": None,
            "working_hours_enabled": False,
            "enable_email_collect": True,
            "csat_survey_enabled": False,
            "enable_auto_assignment": True,
            "out_of_office_message": None,
            "timezone": "UTC",
            "allow_messages_after_resolved": True,
            "lock_to_single_conversation": False,
            "webhook_url": "",
            "inbox_identifier": f"inbox{inbox_id}identifier",
            "provider": None,
        }

    def contact_api(self, contact: dict) -> dict:
        """A contact as the API shows it (``_contact.json.jbuilder``)."""
        inbox = self.inboxes[(contact["account_id"], INBOX_ID)]
        return {
            "additional_attributes": copy.deepcopy(contact["additional_attributes"]),
            "availability_status": "offline",
            "email": contact["email"],
            "id": contact["id"],
            "name": contact["name"],
            "phone_number": contact["phone_number"],
            "blocked": False,
            "identifier": contact["identifier"],
            "thumbnail": "",
            "custom_attributes": copy.deepcopy(contact["custom_attributes"]),
            "last_activity_at": contact["last_activity_at"],
            "created_at": contact["created_at"],
            "contact_inboxes": [
                {
                    "source_id": source_id,
                    "inbox": {
                        k: inbox[k]
                        for k in ("id", "avatar_url", "channel_id", "name", "channel_type")
                    }
                    | {"provider": None},
                }
                for source_id in contact["source_ids"]
            ],
        }

    def contact_push(self, contact: dict) -> dict:
        """``Contact#push_event_data`` (in a conversation's ``meta.sender``)."""
        return {
            "additional_attributes": copy.deepcopy(contact["additional_attributes"]),
            "custom_attributes": copy.deepcopy(contact["custom_attributes"]),
            "email": contact["email"],
            "id": contact["id"],
            "identifier": contact["identifier"],
            "name": contact["name"],
            "phone_number": contact["phone_number"],
            "thumbnail": "",
            "blocked": False,
            "type": "contact",
        }

    def contact_webhook(self, contact: dict) -> dict:
        """``Contact#webhook_data`` (a message's top-level sender, contact events)."""
        return {
            "account": self.account_data(contact["account_id"]),
            "additional_attributes": copy.deepcopy(contact["additional_attributes"]),
            "avatar": "",
            "custom_attributes": copy.deepcopy(contact["custom_attributes"]),
            "email": contact["email"],
            "id": contact["id"],
            "identifier": contact["identifier"],
            "name": contact["name"],
            "phone_number": contact["phone_number"],
            "thumbnail": "",
            "blocked": False,
        }

    def account_data(self, account_id: int) -> dict:
        account = self.accounts[account_id]
        return {"id": account["id"], "name": account["name"]}

    def message_push(self, message: dict) -> dict:
        """``Message#webhook_push_event_data`` (inside ``conversation.messages[]``)."""
        conversation = self.conversations[(message["account_id"], message["conversation_id"])]
        contact = self.contacts[conversation["contact_id"]]
        sender = (
            self.contact_push(contact)
            if message["sender_type"] == "Contact"
            else {**AGENT, "type": "user"}
        )
        return {
            "id": message["id"],
            "content": message["content"],
            "account_id": message["account_id"],
            "inbox_id": message["inbox_id"],
            "conversation_id": message["conversation_id"],
            "message_type": MESSAGE_TYPES[message["message_type"]],
            "created_at": int(message["created_at"]),
            "updated_at": _iso(message["created_at"]),
            "private": message["private"],
            "status": "sent",
            "source_id": message["source_id"],
            "content_type": "text",
            "content_attributes": {},
            "sender_type": message["sender_type"],
            "sender_id": message["sender_id"],
            "external_source_ids": {},
            "additional_attributes": {},
            "processed_message_content": message["content"],
            "sentiment": {},
            "conversation": {
                "assignee_id": None,
                "unread_count": conversation["unread_count"],
                "last_activity_at": int(conversation["last_activity_at"]),
                "contact_inbox": {"source_id": conversation["source_id"]},
            },
            "sender": sender,
        }

    def message_api(self, message: dict) -> dict:
        """A message as the API answers it (``_message.json.jbuilder``)."""
        if message["sender_type"] == "Contact":
            contact = self.contacts[message["sender_id"]]
            sender = {**self.contact_push(contact)}
        else:
            sender = {
                **AGENT,
                "available_name": "Ann",
                "avatar_url": "",
                "type": "user",
                "availability_status": "online",
                "thumbnail": "",
            }
            sender.pop("email")
        return {
            "id": message["id"],
            "content": message["content"],
            "inbox_id": message["inbox_id"],
            "echo_id": message["echo_id"],
            "conversation_id": message["conversation_id"],
            "message_type": MESSAGE_TYPES[message["message_type"]],
            "content_type": "text",
            "status": "sent",
            "content_attributes": {},
            "created_at": int(message["created_at"]),
            "private": message["private"],
            "source_id": message["source_id"],
            "sender": sender,
        }

    def _conversation_messages(self, conversation: dict) -> list[dict]:
        return [
            m
            for m in self.messages
            if m["account_id"] == conversation["account_id"]
            and m["conversation_id"] == conversation["id"]
        ]

    def conversation_api(self, conversation: dict) -> dict:
        """A conversation as the API answers it (``_conversation.json.jbuilder``)."""
        contact = self.contacts[conversation["contact_id"]]
        messages = self._conversation_messages(conversation)
        last = next((m for m in reversed(messages) if not m["private"]), None)
        return {
            "meta": {
                "sender": self.contact_push(contact),
                "channel": "Channel::Api",
                "hmac_verified": False,
            },
            "id": conversation["id"],
            "messages": [self.message_api(m) for m in messages[-1:]],
            "account_id": conversation["account_id"],
            "uuid": conversation["uuid"],
            "additional_attributes": {},
            "agent_last_seen_at": 0,
            "assignee_last_seen_at": 0,
            "can_reply": True,
            "contact_last_seen_at": 0,
            "custom_attributes": {},
            "inbox_id": conversation["inbox_id"],
            "labels": [],
            "muted": False,
            "snoozed_until": None,
            "status": conversation["status"],
            "created_at": int(conversation["created_at"]),
            "updated_at": conversation["last_activity_at"],
            "timestamp": int(conversation["last_activity_at"]),
            "first_reply_created_at": None,
            "unread_count": conversation["unread_count"],
            "last_non_activity_message": self.message_api(last) if last else None,
            "last_activity_at": int(conversation["last_activity_at"]),
            "priority": None,
            "waiting_since": int(conversation["created_at"]),
            "sla_policy_id": None,
        }

    def conversation_webhook(self, conversation: dict, *, with_message: dict | None = None):
        """``Conversations::EventDataPresenter#webhook_data``."""
        contact = self.contacts[conversation["contact_id"]]
        messages = self._conversation_messages(conversation)
        shown = with_message or (messages[-1] if messages else None)
        created = conversation["created_at"]
        return {
            "additional_attributes": {},
            "can_reply": True,
            "channel": "Channel::Api",
            "contact_inbox": {
                "id": conversation["contact_id"] + 13,
                "contact_id": conversation["contact_id"],
                "inbox_id": conversation["inbox_id"],
                "source_id": conversation["source_id"],
                "created_at": _iso(created),
                "updated_at": _iso(created),
                "hmac_verified": False,
                "pubsub_token": f"pubsub{conversation['contact_id']}",
            },
            "id": conversation["id"],
            "inbox_id": conversation["inbox_id"],
            "messages": [self.message_push(shown)] if shown else [],
            "labels": [],
            "meta": {
                "sender": self.contact_push(contact),
                "assignee": None,
                "assignee_type": None,
                "team": None,
                "hmac_verified": False,
            },
            "status": conversation["status"],
            "custom_attributes": {},
            "snoozed_until": None,
            "unread_count": conversation["unread_count"],
            "first_reply_created_at": None,
            "priority": None,
            "waiting_since": int(created),
            "agent_last_seen_at": 0,
            "contact_last_seen_at": 0,
            "last_activity_at": int(conversation["last_activity_at"]),
            "timestamp": int(conversation["last_activity_at"]),
            "created_at": int(created),
            "updated_at": round(conversation["last_activity_at"], 3),
            "account": self.account_data(conversation["account_id"]),
        }

    def message_webhook(self, message: dict) -> dict:
        """The ``message_created`` payload of ``message`` (§2.5)."""
        conversation = self.conversations[(message["account_id"], message["conversation_id"])]
        if message["sender_type"] == "Contact":
            sender = self.contact_webhook(self.contacts[message["sender_id"]])
        else:
            sender = {**AGENT, "type": "user"}
        inbox = self.inboxes[(message["account_id"], message["inbox_id"])]
        return {
            "account": self.account_data(message["account_id"]),
            "additional_attributes": {},
            "content_attributes": {},
            "content_type": "text",
            "content": message["content"],
            "conversation": self.conversation_webhook(conversation, with_message=message),
            "created_at": _iso(message["created_at"]),
            "id": message["id"],
            "inbox": {"id": inbox["id"], "name": inbox["name"]},
            "message_type": message["message_type"],
            "private": message["private"],
            "sender": sender,
            "source_id": message["source_id"],
            "event": "message_created",
        }

    # --- what happens in Chatwoot --------------------------------------------------------------

    def _account(self, account_id: int) -> dict:
        account = self.accounts.get(account_id)
        if account is None:
            raise SimulatorError(404, NOT_FOUND)
        if not account["member"]:
            raise SimulatorError(401, {"error": "You are not authorized to access this account"})
        return account

    def _inbox(self, account_id: int, inbox_id) -> dict:
        inbox = self.inboxes.get((account_id, _int(inbox_id)))
        if inbox is None:
            raise SimulatorError(404, NOT_FOUND)
        return inbox

    def _contact(self, account_id: int, contact_id) -> dict:
        contact = self.contacts.get(_int(contact_id))
        if contact is None or contact["account_id"] != account_id:
            raise SimulatorError(404, NOT_FOUND)
        return contact

    def _conversation(self, account_id: int, display_id) -> dict:
        conversation = self.conversations.get((account_id, _int(display_id)))
        if conversation is None:
            raise SimulatorError(404, NOT_FOUND)
        return conversation

    def create_contact(self, account_id: int, body: dict, *, fire: bool = True) -> dict:
        phone = body.get("phone_number") or None
        email = (body.get("email") or "").lower() or None
        identifier = body.get("identifier") or None
        errors, attributes = [], []
        if phone and not E164.match(phone):
            errors.append("Phone number should be in e164 format")
            attributes.append("phone_number")
        for key, value, label in (
            ("phone_number", phone, "Phone number"),
            ("email", email, "Email"),
            ("identifier", identifier, "Identifier"),
        ):
            if value and any(
                c[key] == value for c in self.contacts.values() if c["account_id"] == account_id
            ):
                errors.append(f"{label} has already been taken")
                attributes.append(key)
        if errors:
            raise SimulatorError(422, {"message": ", ".join(errors), "attributes": attributes})
        if body.get("inbox_id"):
            self._inbox(account_id, body["inbox_id"])
        now = time.time()
        contact = {
            "id": next(self._contact_ids),
            "account_id": account_id,
            "name": body.get("name") or "",
            "email": email,
            "phone_number": phone,
            "identifier": identifier,
            "additional_attributes": dict(body.get("additional_attributes") or {}),
            "custom_attributes": dict(body.get("custom_attributes") or {}),
            "last_activity_at": None,
            "created_at": int(now),
            "source_ids": [],
        }
        self.contacts[contact["id"]] = contact
        if body.get("inbox_id"):
            contact["source_ids"].append(str(uuid.uuid4()))
        if fire:
            self.fire({**self.contact_webhook(contact), "event": "contact_created"})
        return contact

    def create_conversation(
        self, account_id: int, inbox_id, contact_id, *, status: str = "open", source_id=None
    ) -> dict:
        inbox = self._inbox(account_id, inbox_id)
        contact = self._contact(account_id, contact_id)
        if not contact["source_ids"]:
            contact["source_ids"].append(source_id or str(uuid.uuid4()))
        now = time.time()
        conversation = {
            "id": next(self._display_ids),
            "account_id": account_id,
            "inbox_id": inbox["id"],
            "contact_id": contact["id"],
            "uuid": str(uuid.uuid4()),
            "status": status if status in STATUSES else "open",
            "source_id": source_id or contact["source_ids"][0],
            "unread_count": 0,
            "created_at": now,
            "last_activity_at": now,
        }
        self.conversations[(account_id, conversation["id"])] = conversation
        self.fire({**self.conversation_webhook(conversation), "event": "conversation_created"})
        return conversation

    def create_message(
        self,
        account_id: int,
        display_id,
        *,
        content: str,
        message_type: str = "outgoing",
        private: bool = False,
        source_id=None,
        echo_id=None,
        sender: str = "User",
    ) -> dict:
        conversation = self._conversation(account_id, display_id)
        if message_type not in ("incoming", "outgoing", "template"):
            raise SimulatorError(422, {"message": f"Message type {message_type} is not valid"})
        now = time.time()
        message = {
            "id": next(self._message_ids),
            "account_id": account_id,
            "inbox_id": conversation["inbox_id"],
            "conversation_id": conversation["id"],
            "content": content,
            "message_type": message_type,
            "private": bool(private),
            "source_id": source_id,
            "echo_id": echo_id,
            "sender_type": sender,
            "sender_id": conversation["contact_id"] if sender == "Contact" else AGENT["id"],
            "created_at": now,
        }
        self.messages.append(message)
        conversation["last_activity_at"] = now
        contact = self.contacts[conversation["contact_id"]]
        contact["last_activity_at"] = int(now)
        if message_type == "incoming":
            conversation["unread_count"] += 1
            if conversation["status"] in ("resolved", "snoozed"):
                self._change_status(conversation, "open")
        self.fire(self.message_webhook(message))
        return message

    def _change_status(self, conversation: dict, status: str) -> None:
        previous = conversation["status"]
        if previous == status:
            return
        before = _iso(conversation["last_activity_at"])
        conversation["status"] = status
        now = time.time()
        conversation["last_activity_at"] = now
        data = self.conversation_webhook(conversation)
        self.fire({**data, "event": "conversation_status_changed", "changed_attributes": None})
        self.fire(
            {
                **data,
                "event": "conversation_updated",
                "changed_attributes": [
                    {"status": {"previous_value": previous, "current_value": status}},
                    {"updated_at": {"previous_value": before, "current_value": _iso(now)}},
                ],
            }
        )

    # --- the simulation API (what people do in Chatwoot) ---------------------------------------

    def incoming(self, phone: str, content: str, *, name: str = "") -> dict:
        """A customer with ``phone`` writes to the inbox: their contact and conversation are
        found or made; the message record (its ``conversation_id`` is the display id)."""
        with self.lock:
            contact = next(
                (
                    c
                    for c in self.contacts.values()
                    if c["account_id"] == ACCOUNT_ID and c["phone_number"] == phone
                ),
                None,
            )
            if contact is None:
                contact = self.create_contact(
                    ACCOUNT_ID, {"name": name or phone, "phone_number": phone, "inbox_id": INBOX_ID}
                )
            conversation = self.open_conversation_of(contact["id"])
            if conversation is None:
                conversation = self.create_conversation(ACCOUNT_ID, INBOX_ID, contact["id"])
            return self.create_message(
                ACCOUNT_ID,
                conversation["id"],
                content=content,
                message_type="incoming",
                source_id=f"sim-{uuid.uuid4().hex[:12]}",
                sender="Contact",
            )

    def agent_reply(self, conversation_id: int, content: str) -> dict:
        """An agent answers in Chatwoot (an outgoing message without our ``source_id``)."""
        with self.lock:
            return self.create_message(ACCOUNT_ID, conversation_id, content=content)

    def private_note(self, conversation_id: int, content: str) -> dict:
        """An agent's private note (Chatwoot sends it to webhooks too)."""
        with self.lock:
            return self.create_message(ACCOUNT_ID, conversation_id, content=content, private=True)

    def set_status(self, conversation_id: int, status: str) -> dict:
        """An agent resolves, reopens, snoozes or parks the conversation."""
        if status not in STATUSES:
            raise ValueError(f"A status is one of {', '.join(STATUSES)}.")
        with self.lock:
            conversation = self._conversation(ACCOUNT_ID, conversation_id)
            self._change_status(conversation, status)
            return conversation

    def open_conversation_of(self, contact_id: int, inbox_id: int = INBOX_ID) -> dict | None:
        """The contact's latest unresolved conversation in the inbox."""
        found = [
            c
            for c in self.conversations.values()
            if c["contact_id"] == contact_id and c["inbox_id"] == inbox_id
            if c["status"] != "resolved"
        ]
        return max(found, key=lambda c: c["id"]) if found else None

    def contact_by_phone(self, phone: str) -> dict | None:
        return next((c for c in self.contacts.values() if c["phone_number"] == phone), None)

    # --- webhooks ------------------------------------------------------------------------------

    def fire(self, payload: dict) -> None:
        """Record a webhook payload and POST it to the configured URL (in the background, as
        Chatwoot's job queue does; ``wait_for_webhooks`` waits for them)."""
        self.events.append(payload)
        url, secret = self.webhook_url, self.webhook_secret
        if not url:
            return
        body = json.dumps(payload).encode()
        thread = threading.Thread(target=self._post, args=(url, secret, body), daemon=True)
        self._posts.append(thread)
        thread.start()

    def _post(self, url: str, secret: str, body: bytes) -> None:
        headers = webhook_headers(secret, body)
        try:
            status = httpx.post(url, content=body, headers=headers, timeout=5).status_code
        except httpx.HTTPError as exc:
            logger.warning("Could not post a webhook to %s: %s", url, exc)
            status = None
        with self.lock:
            self.deliveries.append((url, headers, body, status))

    def wait_for_webhooks(self, timeout: float = 10.0) -> None:
        """Wait until the webhook posts started so far are answered."""
        deadline = time.monotonic() + timeout
        for thread in list(self._posts):
            thread.join(max(0.0, deadline - time.monotonic()))

    def event_names(self) -> list[str]:
        return [event["event"] for event in self.events]


def _int(value) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise SimulatorError(404, NOT_FOUND) from None


# Application API routes under /api/v1/accounts/{account_id}.
ROUTES = [
    ("GET", re.compile(r"^/inboxes$"), "list_inboxes"),
    ("GET", re.compile(r"^/inboxes/(?P<inbox>[^/]+)$"), "show_inbox"),
    ("GET", re.compile(r"^/contacts/search$"), "search_contacts"),
    ("POST", re.compile(r"^/contacts$"), "create_contact"),
    ("GET", re.compile(r"^/contacts/(?P<contact>[^/]+)$"), "show_contact"),
    ("PATCH", re.compile(r"^/contacts/(?P<contact>[^/]+)$"), "update_contact"),
    ("PUT", re.compile(r"^/contacts/(?P<contact>[^/]+)$"), "update_contact"),
    ("GET", re.compile(r"^/contacts/(?P<contact>[^/]+)/conversations$"), "contact_conversations"),
    ("POST", re.compile(r"^/conversations$"), "create_conversation"),
    ("GET", re.compile(r"^/conversations/(?P<conversation>[^/]+)$"), "show_conversation"),
    ("GET", re.compile(r"^/conversations/(?P<conversation>[^/]+)/messages$"), "list_messages"),
    ("POST", re.compile(r"^/conversations/(?P<conversation>[^/]+)/messages$"), "create_message"),
    (
        "POST",
        re.compile(r"^/conversations/(?P<conversation>[^/]+)/toggle_status$"),
        "toggle_status",
    ),
]
ACCOUNT_PATH = re.compile(r"^/api/v1/accounts/(?P<account>[^/]+)(?P<rest>/.*)$")


class _Handler(BaseHTTPRequestHandler):
    server: ChatwootServer

    def log_message(self, *args) -> None:
        pass

    def _reply(self, status: int, payload) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        server = self.server
        with server.lock:
            server.requests.append((method, path, body if method != "GET" else query))
            if path.startswith("/_simulator/"):
                return self._simulate(method, path.removeprefix("/_simulator/"), body or {})
            if not isinstance(body, dict):
                return self._reply(400, {"error": "The body is not a JSON object"})
            failure = next((f for f in server.failures if f[0] in path), None)
            if failure is not None:
                server.failures.remove(failure)
                return self._reply(failure[1], failure[2])
            if self.headers.get("api_access_token") != server.token:
                return self._reply(401, {"error": "Invalid Access Token"})
            try:
                status, payload = self._route(method, path, query, body)
            except SimulatorError as exc:
                return self._reply(exc.status, exc.body)
            return self._reply(status, payload)

    def _route(self, method: str, path: str, query: dict, body: dict) -> tuple[int, object]:
        server = self.server
        if method == "GET" and path == "/api/v1/profile":
            return 200, {
                **AGENT,
                "access_token": server.token,
                "account_id": ACCOUNT_ID,
                "available_name": "Ann",
                "avatar_url": "",
                "confirmed": True,
                "display_name": None,
                "message_signature": None,
                "role": "administrator",
                "ui_settings": {},
                "uid": AGENT["email"],
                "type": "user",
                "accounts": [
                    {
                        "id": a["id"],
                        "name": a["name"],
                        "status": "active",
                        "active_at": None,
                        "role": "administrator",
                        "permissions": ["administrator"],
                        "availability": "online",
                        "availability_status": "online",
                        "auto_offline": True,
                    }
                    for a in server.accounts.values()
                    if a["member"]
                ],
            }
        match = ACCOUNT_PATH.match(path)
        if match is None:
            raise SimulatorError(404, NOT_FOUND)
        account_id = _int(match["account"])
        server._account(account_id)
        for route_method, pattern, name in ROUTES:
            found = pattern.match(match["rest"])
            if found and route_method == method:
                return getattr(self, f"_{name}")(account_id, query, body, **found.groupdict())
        raise SimulatorError(404, NOT_FOUND)

    # --- the API's routes ----------------------------------------------------------------------

    def _list_inboxes(self, account_id, query, body):
        inboxes = [i for (a, _), i in self.server.inboxes.items() if a == account_id]
        return 200, {"payload": inboxes}

    def _show_inbox(self, account_id, query, body, inbox):
        return 200, self.server._inbox(account_id, inbox)

    def _search_contacts(self, account_id, query, body):
        q = (query.get("q") or "").strip()
        if not q:
            raise SimulatorError(422, {"error": "Specify search string with parameter q"})
        page = max(1, _int(query.get("page") or 1))
        needle = q.lower()
        found = [
            c
            for c in sorted(
                self.server.contacts.values(),
                key=lambda c: -(c["last_activity_at"] or c["created_at"]),
            )
            if c["account_id"] == account_id
            and (
                any(needle in (c[k] or "").lower() for k in ("name", "email", "phone_number"))
                or q in (c["identifier"] or "")
            )
        ]
        rows = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return 200, {
            "meta": {
                "count": len(rows),
                "current_page": page,
                "has_more": len(found) > page * PAGE_SIZE,
            },
            "payload": [self.server.contact_api(c) for c in rows],
        }

    def _create_contact(self, account_id, query, body):
        contact = self.server.create_contact(account_id, body)
        shown = self.server.contact_api(contact)
        inbox = None
        if body.get("inbox_id"):
            inbox = self.server._inbox(account_id, body["inbox_id"])
        return 200, {
            "payload": {
                "contact": shown,
                "contact_inbox": {
                    "inbox": inbox,
                    "source_id": contact["source_ids"][0] if inbox else None,
                },
            }
        }

    def _show_contact(self, account_id, query, body, contact):
        return 200, {"payload": self.server.contact_api(self.server._contact(account_id, contact))}

    def _update_contact(self, account_id, query, body, contact):
        record = self.server._contact(account_id, contact)
        before = self.server.contact_api(record)
        for key in ("name", "email", "phone_number", "identifier"):
            if key in body:
                record[key] = body[key] or None if key != "name" else body[key] or ""
        for key in ("custom_attributes", "additional_attributes"):
            if isinstance(body.get(key), dict):
                record[key] = {**record[key], **body[key]}  # merged, as Chatwoot does
        after = self.server.contact_api(record)
        if after != before:
            self.server.fire({**self.server.contact_webhook(record), "event": "contact_updated"})
        return 200, {"payload": after}

    def _contact_conversations(self, account_id, query, body, contact):
        record = self.server._contact(account_id, contact)
        found = [
            self.server.conversation_api(c)
            for c in self.server.conversations.values()
            if c["account_id"] == account_id and c["contact_id"] == record["id"]
        ]
        return 200, {"payload": found}

    def _create_conversation(self, account_id, query, body):
        if not body.get("contact_id") or not body.get("inbox_id"):
            raise SimulatorError(422, {"message": "Contact and inbox are required"})
        conversation = self.server.create_conversation(
            account_id,
            body["inbox_id"],
            body["contact_id"],
            status=body.get("status") or "open",
            source_id=body.get("source_id"),
        )
        first = body.get("message")
        if isinstance(first, dict) and first.get("content"):
            self.server.create_message(account_id, conversation["id"], content=first["content"])
        return 200, self.server.conversation_api(conversation)

    def _show_conversation(self, account_id, query, body, conversation):
        record = self.server._conversation(account_id, conversation)
        return 200, self.server.conversation_api(record)

    def _list_messages(self, account_id, query, body, conversation):
        record = self.server._conversation(account_id, conversation)
        contact = self.server.contacts[record["contact_id"]]
        return 200, {
            "meta": {"labels": [], "additional_attributes": {}, "contact": contact["id"]},
            "payload": [
                self.server.message_api(m) for m in self.server._conversation_messages(record)
            ],
        }

    def _create_message(self, account_id, query, body, conversation):
        content = body.get("content")
        if not isinstance(content, str) or not content.strip():
            raise SimulatorError(422, {"message": "Content can't be blank"})
        message = self.server.create_message(
            account_id,
            conversation,
            content=content,
            message_type=body.get("message_type") or "outgoing",
            private=bool(body.get("private")),
            source_id=body.get("source_id"),
            echo_id=body.get("echo_id"),
            sender="Contact" if body.get("message_type") == "incoming" else "User",
        )
        return 200, self.server.message_api(message)

    def _toggle_status(self, account_id, query, body, conversation):
        record = self.server._conversation(account_id, conversation)
        status = body.get("status")
        if status not in STATUSES:
            status = "open" if record["status"] != "open" else "resolved"
        self.server._change_status(record, status)
        return 200, {
            "meta": {},
            "payload": {
                "success": True,
                "current_status": record["status"],
                "conversation_id": record["id"],
            },
        }

    # --- the simulation routes -----------------------------------------------------------------

    def _simulate(self, method: str, action: str, body: dict) -> None:
        server = self.server
        before = len(server.events)
        try:
            if method == "GET" and action == "state":
                return self._reply(
                    200,
                    {
                        "contacts": [server.contact_api(c) for c in server.contacts.values()],
                        "conversations": [
                            server.conversation_api(c) for c in server.conversations.values()
                        ],
                        "webhook_url": server.webhook_url,
                        "events": server.event_names(),
                    },
                )
            if method != "POST":
                raise SimulatorError(404, NOT_FOUND)
            if action == "webhook":
                server.configure_webhook(str(body.get("url") or ""), str(body.get("secret") or ""))
                return self._reply(200, {"webhook_url": server.webhook_url})
            if action == "incoming":
                shown = {
                    "message": server.message_api(
                        server.incoming(
                            str(body.get("phone") or ""),
                            str(body.get("content") or ""),
                            name=str(body.get("name") or ""),
                        )
                    )
                }
            elif action in ("reply", "note"):
                call = server.agent_reply if action == "reply" else server.private_note
                message = call(_int(body.get("conversation_id")), str(body.get("content") or ""))
                shown = {"message": server.message_api(message)}
            elif action == "status":
                status = str(body.get("status") or "")
                if status not in STATUSES:
                    raise SimulatorError(422, {"error": f"status is one of {STATUSES}"})
                conversation = server.set_status(_int(body.get("conversation_id")), status)
                shown = {"conversation": server.conversation_api(conversation)}
            else:
                raise SimulatorError(404, NOT_FOUND)
        except SimulatorError as exc:
            return self._reply(exc.status, exc.body)
        fired = [event["event"] for event in server.events[before:]]
        return self._reply(200, {**shown, "events": fired})


def start(token: str = TOKEN, **options) -> ChatwootServer:
    server = ChatwootServer(token, **options)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="A local Chatwoot simulator for demos and tests (not Chatwoot)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8768)
    parser.add_argument("--token", default=TOKEN)
    parser.add_argument(
        "--webhook-url",
        default=os.environ.get("CHATWOOT_SIMULATOR_WEBHOOK_URL", ""),
        help="Where webhooks are posted (default: $CHATWOOT_SIMULATOR_WEBHOOK_URL).",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    server = ChatwootServer(
        args.token,
        address=(args.host, args.port),
        webhook_url=args.webhook_url,
        # Not on the command line, which every user of the machine can read.
        webhook_secret=os.environ.get("CHATWOOT_SIMULATOR_WEBHOOK_SECRET", ""),
    )

    target = f", posting webhooks to {server.webhook_url}" if server.webhook_url else ""
    serve_until_stopped(
        server,
        f"Chatwoot simulator (a local fake, not Chatwoot) on {server.base_url}: account "
        f"{ACCOUNT_ID}, inbox {INBOX_ID}{target}",
    )


if __name__ == "__main__":
    main()
