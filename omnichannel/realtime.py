"""What a browser's websocket shows: each socket renders events for its own user and page.

Browsers connect with ``?format=html`` and tell the consumer what they show (a ``view``
message: the conversation open, the list's filters and rows…). When an event arrives, the
renderers apps register here turn it into out-of-band htmx fragments for that socket: the
same partials the views render, with that agent's unread counts, permissions and time zone.
Events carrying a ready ``html`` fragment (the same for everyone) are sent as they are; one
rendered per time zone (``html_by_zone``) is sent in the socket's.

Apps register in their ``AppConfig.ready()``:

- ``@renders(EventType.X)``: ``(socket, payload) -> str`` fragments for an event; with
  ``when=(socket, payload) -> bool`` (plain attribute checks, no database), a socket for which
  it is false is skipped without a trip to the database thread (a status tick only matters to
  the sockets showing its conversation, not to every socket of the tenant);
- ``@on_view``: ``(socket) -> str`` fragments once the page reported what it shows (bringing
  a reconnected page or a conversation just opened up to date, settling the one it left);
- ``@watches``: ``(socket) -> list[str]`` extra groups the socket joins for its view (raises
  nothing and returns ``[]`` for rows outside the tenant);
- ``@handles("kind")``: ``(socket, data) -> None`` for a message the browser sends;
- ``@on_close``: ``(socket) -> None`` once the socket is gone (settling what it was showing).
"""

import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import cached_property

from omnichannel.models import Membership
from omnichannel.zones import display_zone

MAX_ROWS = 500

Renderer = Callable[["SocketView", dict], str]
Relevance = Callable[["SocketView", dict], bool]
ViewHook = Callable[["SocketView"], str]
Watcher = Callable[["SocketView"], list[str]]
Handler = Callable[["SocketView", dict], None]
CloseHook = Callable[["SocketView"], None]

_renderers: dict[str, list[Renderer]] = defaultdict(list)
_relevance: dict[str, list[Relevance | None]] = defaultdict(list)
_view_hooks: list[ViewHook] = []
_watchers: list[Watcher] = []
_handlers: dict[str, Handler] = {}
_close_hooks: list[CloseHook] = []


def renders(*event_types: str, when: Relevance | None = None) -> Callable[[Renderer], Renderer]:
    def register(function: Renderer) -> Renderer:
        for event_type in event_types:
            _renderers[str(event_type)].append(function)
            _relevance[str(event_type)].append(when)
        return function

    return register


def on_view(function: ViewHook) -> ViewHook:
    _view_hooks.append(function)
    return function


def watches(function: Watcher) -> Watcher:
    _watchers.append(function)
    return function


def handles(kind: str) -> Callable[[Handler], Handler]:
    def register(function: Handler) -> Handler:
        _handlers[kind] = function
        return function

    return register


def on_close(function: CloseHook) -> CloseHook:
    _close_hooks.append(function)
    return function


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _ints(values: Any) -> list[int]:
    if not isinstance(values, list):
        return []
    return [n for n in (_int(v) for v in values[:MAX_ROWS]) if n is not None]


@dataclass
class SocketView:
    """One socket's user and what its page shows (as the browser last reported it).

    ``rows`` and ``pinned`` are the conversation ids in the list, in order; renderers keep
    them in step with the fragments they send, and the browser reports them again after
    every change of its own.
    """

    membership: Membership
    cookies: dict[str, str] = field(default_factory=dict)
    page: str = ""
    conversation_id: int | None = None
    list_query: str = ""
    first_page: bool = True
    has_more: bool = False
    rows: list[int] = field(default_factory=list)
    pinned: list[int] = field(default_factory=list)
    oldest_message_id: int | None = None
    newest_message_id: int | None = None
    visible: bool = True
    catch_up: str = ""
    left_conversation_id: int | None = None
    entered_conversation: bool = False
    typing: dict[int, str] = field(default_factory=dict)
    # The other agents with the open conversation open too (user id: name).
    viewers: dict[int, str] = field(default_factory=dict)
    # Tells this socket from the same user's others (another tab on the same conversation).
    key: str = field(default_factory=lambda: secrets.token_hex(8))
    # Messages of the open conversation sent since the page rendered its thread: the event
    # of one a catch-up already sent must not add it twice.
    sent_messages: set[int] = field(default_factory=set)

    @property
    def user(self):
        return self.membership.user

    @property
    def tenant(self):
        return self.membership.tenant

    def update(self, data: dict) -> None:
        """Apply a ``view`` message from the browser (untrusted: ids are checked on use)."""
        conversation_id = _int(data.get("conversation"))
        self.left_conversation_id = None
        self.entered_conversation = conversation_id != self.conversation_id
        if self.entered_conversation:
            self.typing = {}
            self.viewers = {}
            self.sent_messages = set()
            self.left_conversation_id = self.conversation_id
        self.page = str(data.get("page", ""))[:40]
        self.conversation_id = conversation_id
        self.list_query = str(data.get("list", ""))[:1000]
        self.first_page = bool(data.get("first_page", True))
        self.has_more = bool(data.get("more", False))
        self.rows = _ints(data.get("rows"))
        self.pinned = _ints(data.get("pinned"))
        self.oldest_message_id = _int(data.get("oldest_message"))
        self.newest_message_id = _int(data.get("newest_message"))
        self.visible = data.get("visible", True) is not False
        # "open": the page (or its thread: another conversation opened) was just rendered;
        # "reconnect": it may have missed a lot. Either way what it shows is the baseline.
        catch_up = data.get("catch_up")
        self.catch_up = catch_up if catch_up in ("open", "reconnect") else ""

    @cached_property
    def request(self) -> HttpRequest:
        """A request for rendering as this user: templates get their tenant, permissions and
        CSRF token (from the socket's cookie), as the page they update did."""
        request = HttpRequest()
        request.method = "GET"
        request.user = self.user
        request.tenant = self.tenant
        request.membership = self.membership
        request.COOKIES = dict(self.cookies)
        secret = self.cookies.get(settings.CSRF_COOKIE_NAME)
        if secret:
            request.META["CSRF_COOKIE"] = secret
        request.htmx = False
        return request

    @cached_property
    def zone(self):
        """Where this user reads times (omnichannel.zones): fragments are rendered in it."""
        return display_zone(self.user, self.tenant)

    def rebind(self, membership: Membership) -> None:
        self.membership = membership
        self.__dict__.pop("request", None)
        self.__dict__.pop("zone", None)

    def groups(self) -> list[str]:
        return [group for watcher in _watchers for group in watcher(self)]

    def may_render(self, event_type: str, payload: dict) -> bool:
        """Whether a renderer of ``event_type`` may have something for this socket (cheap: no
        database, so callers skip :meth:`render` and its thread hop when it is false)."""
        return any(when is None or when(self, payload) for when in _relevance.get(event_type, ()))

    def render(self, event_type: str, payload: dict) -> str:
        with timezone.override(self.zone):
            return "".join(renderer(self, payload) for renderer in _renderers.get(event_type, ()))

    def viewed(self) -> str:
        with timezone.override(self.zone):
            return "".join(hook(self) for hook in _view_hooks)

    def handle(self, kind: str, data: dict) -> bool:
        handler = _handlers.get(kind)
        if handler is None:
            return False
        with timezone.override(self.zone):
            handler(self, data)
        return True

    def closed(self) -> None:
        for hook in _close_hooks:
            hook(self)
