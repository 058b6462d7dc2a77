"""A local Google Calendar simulator (not Google) speaking the wire format Centro uses: the
OAuth endpoints (a consent page that approves at once, the token endpoint for codes and
refresh tokens, ``invalid_grant`` once a grant is revoked), and Calendar API v3 under
``/calendar/v3/``: calendarList.list, events list (pages, ``nextSyncToken`` on the last
page, ``syncToken`` answering only changes with deletions as ``status: cancelled``, 410 once
tokens expire), get, insert (a client id; 409 when it exists), patch and delete honouring
``If-Match`` (412), events.watch and channels.stop; ``notify`` posts a push notification the
way Google does (headers only). Errors have Google's JSON shape. The tests' fake server, and
the demo's. Facts: ../shared/providers/google-calendar.md.

Run alone: ``python -m calendar_app.google.simulator --port 8769``.
"""

import argparse
import copy
import datetime as dt
import itertools
import json
import os
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import httpx

from inbox.providers.simulator_serving import serve_until_stopped

CLIENT_ID = "centro-test.apps.googleusercontent.com"
CLIENT_SECRET = "centro-test-secret"  # noqa: S105  (the fake's own)
EMAIL = "ana@acme.test"
PAGE_SIZE_MAX = 2500
UPDATED_EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
BASE32HEX = set("abcdefghijklmnopqrstuv0123456789")


class GoogleCalendarServer(ThreadingHTTPServer):
    def __init__(
        self,
        *,
        address: tuple[str, int] = ("127.0.0.1", 0),
        email: str = EMAIL,
        client: tuple[str, str] = (CLIENT_ID, CLIENT_SECRET),
    ):
        super().__init__(address, _Handler)
        self.email = email
        self.client = client  # the OAuth client (id, secret) the token endpoint accepts
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        self.requests: list[tuple[str, str, dict, dict]] = []  # method, path, query, body
        self.preconditions: list[tuple[str, str, int]] = []  # method, If-Match sent, answer
        self.codes: dict[str, dict] = {}  # authorization code -> its grant
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> account email
        self.access_tokens: dict[str, str] = {}
        self.calendars: dict[str, dict] = {
            self.email: {
                "id": self.email,
                "summary": self.email,
                "primary": True,
                "timeZone": "UTC",
                "accessRole": "owner",
            },
        }
        self.events: dict[str, dict[str, dict]] = {self.email: {}}  # calendar -> id -> event
        self.seq = itertools.count(1)
        self.last_seq = 0
        self.token_floor = 0  # sync tokens below this answer 410
        self.channels: dict[str, dict] = {}  # channel id -> {calendar, token, address, resourceId}
        # Google may answer fewer items than maxResults: a test sets this to see many pages.
        self.page_limit = PAGE_SIZE_MAX

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/calendar/v3/"

    # --- what a test (or the demo) does on "Google's side" --------------------------------------

    def add_calendar(self, calendar_id: str, summary: str, time_zone: str = "UTC") -> dict:
        with self.lock:
            self.calendars[calendar_id] = {
                "id": calendar_id,
                "summary": summary,
                "timeZone": time_zone,
                "accessRole": "owner",
            }
            self.events.setdefault(calendar_id, {})
            return self.calendars[calendar_id]

    def grant(self, email: str | None = None) -> str:
        """An authorization code, as the consent page would give (for tests that skip it)."""
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"email": email or self.email}
        return code

    def _touch(self, event: dict) -> dict:
        seq = next(self.seq)
        self.last_seq = seq
        event["_seq"] = seq
        event["etag"] = f'"{seq:016d}"'
        # Monotonic, as Google's is: a millisecond per change.
        moment = UPDATED_EPOCH + dt.timedelta(milliseconds=seq)
        event["updated"] = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return event

    def put_event(self, calendar_id: str, event: dict) -> dict:
        """Create or replace an event as if made in Google's UI."""
        with self.lock:
            event = copy.deepcopy(event)
            event.setdefault("id", f"g{secrets.token_hex(8)}")
            event.setdefault("status", "confirmed")
            event.setdefault("kind", "calendar#event")
            self.events.setdefault(calendar_id, {})[event["id"]] = self._touch(event)
            return self.public(event)

    def move_event(self, calendar_id: str, event_id: str, start: str, end: str) -> dict:
        with self.lock:
            event = self.events[calendar_id][event_id]
            event["start"], event["end"] = {"dateTime": start}, {"dateTime": end}
            return self.public(self._touch(event))

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        with self.lock:
            event = self.events[calendar_id][event_id]
            event["status"] = "cancelled"
            self._touch(event)

    def expire_sync_tokens(self) -> None:
        """Every sync token handed out so far now answers 410 Gone."""
        self.token_floor = self.last_seq + 1

    def revoke(self) -> None:
        """The user removed Centro's access: refresh and access tokens stop working."""
        self.refresh_tokens.clear()
        self.access_tokens.clear()

    def push_headers(self, channel_id: str, state: str = "exists") -> dict[str, str]:
        channel = self.channels[channel_id]
        channel["messages"] = channel.get("messages", 0) + 1
        return {
            "X-Goog-Channel-ID": channel_id,
            "X-Goog-Channel-Token": channel["token"],
            "X-Goog-Resource-State": state,
            "X-Goog-Resource-ID": channel["resourceId"],
            "X-Goog-Resource-URI": f"{self.api_url}calendars/{quote(channel['calendar'])}/events",
            "X-Goog-Message-Number": str(channel["messages"]),
        }

    def notify(self, calendar_id: str, state: str = "exists") -> list[int]:
        """POST a notification to every channel watching ``calendar_id`` (the demo)."""
        statuses = []
        for channel_id, channel in list(self.channels.items()):
            if channel["calendar"] != calendar_id:
                continue
            try:
                answer = httpx.post(
                    channel["address"], headers=self.push_headers(channel_id, state), timeout=10
                )
                statuses.append(answer.status_code)
            except httpx.HTTPError:
                statuses.append(0)
        return statuses

    @staticmethod
    def public(event: dict) -> dict:
        return {k: v for k, v in copy.deepcopy(event).items() if not k.startswith("_")}


def _error(status: int, reason: str, message: str) -> dict:
    return {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}],
        }
    }


class _Handler(BaseHTTPRequestHandler):
    server: GoogleCalendarServer

    def log_message(self, *args) -> None:
        pass

    def _reply(self, status: int, payload=None, headers: dict | None = None) -> None:
        body = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if payload is not None:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _fail(self, status: int, reason: str, message: str) -> None:
        self._reply(status, _error(status, reason, message))

    def _read(self) -> tuple[dict, dict]:
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            body = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
        else:
            body = json.loads(raw) if raw.strip() else {}
        self.server.requests.append((self.command, split.path, query, body))
        return query, body

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or header[7:] not in self.server.access_tokens:
            self._fail(401, "authError", "Invalid Credentials")
            return False
        return True

    # --- OAuth ---------------------------------------------------------------------------------

    def _consent(self, query: dict) -> None:
        code = self.server.grant()
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        self._reply(302, None, {"Location": target})

    def _token(self, body: dict) -> None:
        server = self.server
        if (body.get("client_id"), body.get("client_secret")) != server.client:
            return self._reply(401, {"error": "invalid_client"})
        grant = body.get("grant_type")
        if grant == "authorization_code":
            found = server.codes.pop(body.get("code", ""), None)
            if found is None:
                return self._reply(
                    400, {"error": "invalid_grant", "error_description": "Malformed auth code."}
                )
            refresh = f"1//r{secrets.token_urlsafe(24)}"
            server.refresh_tokens[refresh] = found["email"]
        elif grant == "refresh_token":
            refresh = body.get("refresh_token", "")
            if refresh not in server.refresh_tokens:
                return self._reply(
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    },
                )
        else:
            return self._reply(400, {"error": "unsupported_grant_type"})
        access = f"ya29.{secrets.token_urlsafe(24)}"
        server.access_tokens[access] = server.refresh_tokens[refresh]
        answer = {
            "access_token": access,
            "expires_in": 3599,
            "token_type": "Bearer",
            "scope": " ".join(body.get("scope", "").split()) or "calendar",
        }
        if grant == "authorization_code":
            answer["refresh_token"] = refresh
        self._reply(200, answer)

    # --- Calendar API ----------------------------------------------------------------------------

    def _route(self) -> list[str] | None:
        path = urlsplit(self.path).path
        if not path.startswith("/calendar/v3/"):
            return None
        return [unquote(part) for part in path[len("/calendar/v3/") :].split("/")]

    def do_GET(self) -> None:
        query, _ = self._read()
        if urlsplit(self.path).path == "/o/oauth2/auth":
            return self._consent(query)
        parts = self._route()
        if parts is None:
            return self._fail(404, "notFound", "Not Found")
        if not self._authorized():
            return
        server = self.server
        with server.lock:
            if parts == ["users", "me", "calendarList"]:
                items = [copy.deepcopy(c) for c in server.calendars.values()]
                return self._reply(200, {"kind": "calendar#calendarList", "items": items})
            if len(parts) == 3 and parts[0] == "calendars" and parts[2] == "events":
                return self._list(parts[1], query)
            if len(parts) == 4 and parts[0] == "calendars" and parts[2] == "events":
                event = server.events.get(parts[1], {}).get(parts[3])
                if event is None:
                    return self._fail(404, "notFound", "Not Found")
                return self._reply(200, server.public(event))
        self._fail(404, "notFound", "Not Found")

    def _list(self, calendar_id: str, query: dict) -> None:
        server = self.server
        if calendar_id not in server.events:
            return self._fail(404, "notFound", "Not Found")
        events = sorted(server.events[calendar_id].values(), key=lambda e: e["_seq"])
        token = query.get("syncToken", "")
        if token:
            if "timeMin" in query or "timeMax" in query:
                return self._fail(400, "invalid", "Sync token is incompatible with timeMin.")
            since = int(token.removeprefix("st"))
            if since < server.token_floor:
                return self._fail(
                    410,
                    "fullSyncRequired",
                    "Sync token is no longer valid, a full sync is required.",
                )
            events = [e for e in events if e["_seq"] > since]
        else:
            # A full sync leaves deleted events out unless showDeleted is set.
            if query.get("showDeleted") != "true":
                events = [e for e in events if e["status"] != "cancelled"]
            time_min = query.get("timeMin")
            if time_min:
                events = [e for e in events if e["end"].get("dateTime", "9") > time_min]
        size = min(int(query.get("maxResults", 250)), server.page_limit)
        offset = int(query.get("pageToken", "0") or 0)
        page = events[offset : offset + size]
        answer = {
            "kind": "calendar#events",
            "summary": calendar_id,
            "items": [server.public(e) for e in page],
        }
        if offset + size < len(events):
            answer["nextPageToken"] = str(offset + size)
        else:
            answer["nextSyncToken"] = f"st{server.last_seq}"
        self._reply(200, answer)

    def do_POST(self) -> None:
        _, body = self._read()
        path = urlsplit(self.path).path
        if path == "/token":
            return self._token(body)
        parts = self._route()
        if parts is None:
            return self._fail(404, "notFound", "Not Found")
        if not self._authorized():
            return
        server = self.server
        with server.lock:
            if parts == ["channels", "stop"]:
                server.channels.pop(body.get("id", ""), None)
                return self._reply(204)
            if len(parts) == 4 and parts[0] == "calendars" and parts[2:] == ["events", "watch"]:
                if parts[1] not in server.events:
                    return self._fail(404, "notFound", "Not Found")
                resource_id = f"res-{secrets.token_hex(6)}"
                server.channels[body["id"]] = {
                    "calendar": parts[1],
                    "token": body.get("token", ""),
                    "address": body["address"],
                    "resourceId": resource_id,
                }
                return self._reply(
                    200,
                    {
                        "kind": "api#channel",
                        "id": body["id"],
                        "resourceId": resource_id,
                        "resourceUri": f"{server.api_url}calendars/{quote(parts[1])}/events",
                        "token": body.get("token", ""),
                        "expiration": "1893456000000",
                    },
                )
            if len(parts) == 3 and parts[0] == "calendars" and parts[2] == "events":
                calendar = server.events.get(parts[1])
                if calendar is None:
                    return self._fail(404, "notFound", "Not Found")
                event_id = body.get("id") or f"g{secrets.token_hex(8)}"
                if len(event_id) < 5 or not set(event_id) <= BASE32HEX:
                    return self._fail(400, "invalid", "Invalid resource id value.")
                if event_id in calendar:
                    return self._fail(409, "duplicate", "The requested identifier already exists.")
                event = {
                    **body,
                    "id": event_id,
                    "status": body.get("status", "confirmed"),
                    "kind": "calendar#event",
                }
                calendar[event_id] = server._touch(event)
                return self._reply(200, server.public(event))
        self._fail(404, "notFound", "Not Found")

    def _existing(self, parts: list[str]) -> dict | None:
        if len(parts) != 4 or parts[0] != "calendars" or parts[2] != "events":
            self._fail(404, "notFound", "Not Found")
            return None
        event = self.server.events.get(parts[1], {}).get(parts[3])
        if event is None:
            self._fail(404, "notFound", "Not Found")
            return None
        if event["status"] == "cancelled":
            self._fail(410, "deleted", "Resource has been deleted")
            return None
        match = self.headers.get("If-Match")
        if match and match != event["etag"]:
            self.server.preconditions.append((self.command, match, 412))
            self._fail(412, "conditionNotMet", "Precondition Failed")
            return None
        self.server.preconditions.append((self.command, match or "", 200))
        return event

    def do_PATCH(self) -> None:
        _, body = self._read()
        parts = self._route() or []
        if not self._authorized():
            return
        with self.server.lock:
            event = self._existing(parts)
            if event is None:
                return
            event.update({k: v for k, v in body.items() if k not in ("id", "etag")})
            self._reply(200, self.server.public(self.server._touch(event)))

    def do_DELETE(self) -> None:
        self._read()
        parts = self._route() or []
        if not self._authorized():
            return
        with self.server.lock:
            event = self._existing(parts)
            if event is None:
                return
            event["status"] = "cancelled"
            self.server._touch(event)
            self._reply(204)


def start(**options) -> GoogleCalendarServer:
    server = GoogleCalendarServer(**options)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def add_demo_events(server: GoogleCalendarServer, *, days: int = 5) -> None:
    """A busy hour on each of the next working days, as if the account's owner had them in
    Google: what the demo's connected calendar shows as busy."""
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day = today
    added = 0
    while added < days:
        day += dt.timedelta(days=1)
        if day.weekday() >= 5:
            continue
        start = day + dt.timedelta(hours=15)
        server.put_event(
            server.email,
            {
                "summary": "Busy (simulator)",
                "start": {"dateTime": start.isoformat().replace("+00:00", "Z")},
                "end": {
                    "dateTime": (start + dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
                },
            },
        )
        added += 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8769)
    parser.add_argument(
        "--demo-events", action="store_true", help="a busy hour on each of the next 5 workdays"
    )
    args = parser.parse_args(argv)
    # The client the token endpoint accepts: the one Centro is configured with (`make run`
    # makes one up and passes it through the environment, never a command line), else the
    # tests' fixed one.
    client = (
        os.environ.get("GOOGLE_OAUTH_CLIENT_ID") or CLIENT_ID,
        os.environ.get("GOOGLE_OAUTH_CLIENT_SECRET") or CLIENT_SECRET,
    )
    server = GoogleCalendarServer(address=(args.host, args.port), client=client)
    if args.demo_events:
        add_demo_events(server)
    serve_until_stopped(
        server,
        f"Google Calendar simulator (a local fake, not Google) on {server.base_url}: "
        f"GOOGLE_OAUTH_AUTH_URL={server.base_url}/o/oauth2/auth "
        f"GOOGLE_OAUTH_TOKEN_URL={server.base_url}/token "
        f"GOOGLE_CALENDAR_API_URL={server.api_url} "
        f"GOOGLE_OAUTH_CLIENT_ID={client[0]}",
    )


if __name__ == "__main__":
    main()
