"""Talking to Google: the OAuth web flow (authorization URL, code exchange, with httpx) and the
Calendar API through ``google-api-python-client`` built from the discovery document that ships
inside the package (``static_discovery``: never fetched), against ``GOOGLE_CALENDAR_API_URL``.

Errors come out as :class:`GoogleError` with what the caller needs to decide: ``revoked``
(the refresh token no longer works: reconnect), ``status`` (410 sync token gone, 412 ETag
mismatch, 404…) and ``retryable``.
"""

import base64
import datetime as dt
import hashlib
import json
import logging
import secrets
from typing import Any
from urllib.parse import urlencode

import google_auth_httplib2
import httplib2
import httpx
from django.conf import settings
from django.utils import timezone
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from calendar_app.google.models import GoogleConnection

logger = logging.getLogger(__name__)

SCOPES = (
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
)
TIMEOUT = 20
# How many times a request is retried on 5xx, 429 and rate-limit 403 (the library backs off).
RETRIES = 2


class GoogleError(Exception):
    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        reason: str = "",
        revoked: bool = False,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.revoked = revoked
        self.retryable = retryable


def is_enabled() -> bool:
    """Whether the deployment has a Google OAuth client (else the feature is off)."""
    return bool(settings.GOOGLE_OAUTH_CLIENT_ID and settings.GOOGLE_OAUTH_CLIENT_SECRET)


# --- the OAuth web flow -------------------------------------------------------------------------


def new_pkce() -> tuple[str, str]:
    """A PKCE ``(code_verifier, S256 code_challenge)`` pair."""
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


def authorization_url(*, state: str, code_challenge: str, redirect_uri: str) -> str:
    """Google's consent page: offline access (a refresh token) and ``prompt=consent`` so a
    member who connected before gets a refresh token again."""
    query = {
        "client_id": settings.GOOGLE_OAUTH_CLIENT_ID,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": " ".join(SCOPES),
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
        "state": state,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
    }
    return f"{settings.GOOGLE_OAUTH_AUTH_URL}?{urlencode(query)}"


def exchange_code(*, code: str, code_verifier: str, redirect_uri: str) -> dict[str, Any]:
    """The tokens for an authorization code: ``access_token``, ``refresh_token``,
    ``expires_in``, ``scope``. Raises :class:`GoogleError`."""
    try:
        response = httpx.post(
            settings.GOOGLE_OAUTH_TOKEN_URL,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": code_verifier,
                "redirect_uri": redirect_uri,
                "client_id": settings.GOOGLE_OAUTH_CLIENT_ID,
                "client_secret": settings.GOOGLE_OAUTH_CLIENT_SECRET,
            },
            timeout=TIMEOUT,
        )
    except httpx.HTTPError as exc:
        raise GoogleError(f"Google could not be reached: {exc}", retryable=True) from exc
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    if response.status_code != 200 or not isinstance(payload, dict):
        error = payload.get("error", "") if isinstance(payload, dict) else ""
        raise GoogleError(
            f"Google refused the authorization code ({error or response.status_code}).",
            status=response.status_code,
            reason=str(error),
        )
    if not payload.get("access_token"):
        raise GoogleError("Google's answer holds no access token.")
    return payload


# --- the Calendar API ---------------------------------------------------------------------------


def _reason(exc: HttpError) -> str:
    try:
        error = json.loads(exc.content)["error"]
        errors = error.get("errors") or [{}]
        return str(errors[0].get("reason") or error.get("status") or "")
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        return ""


def _naive_utc(moment: dt.datetime | None) -> dt.datetime | None:
    # google-auth compares expiry with a naive UTC "now".
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment else None


class CalendarClient:
    """The Calendar API for one connection; a refreshed access token is saved back."""

    def __init__(self, connection: GoogleConnection) -> None:
        self.connection = connection
        self.credentials = Credentials(
            token=connection.access_token or None,
            refresh_token=connection.refresh_token,
            token_uri=settings.GOOGLE_OAUTH_TOKEN_URL,
            client_id=settings.GOOGLE_OAUTH_CLIENT_ID,
            client_secret=settings.GOOGLE_OAUTH_CLIENT_SECRET,
            scopes=list(SCOPES),
            expiry=_naive_utc(connection.access_token_expires_at),
        )
        http = google_auth_httplib2.AuthorizedHttp(
            self.credentials, http=httplib2.Http(timeout=TIMEOUT)
        )
        self.service = build(
            "calendar",
            "v3",
            http=http,
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": settings.GOOGLE_CALENDAR_API_URL},
        )

    def _execute(self, request, *, if_match: str = "") -> Any:
        if if_match:
            request.headers["If-Match"] = if_match
        try:
            return request.execute(num_retries=RETRIES)
        except RefreshError as exc:
            text = str(exc)
            revoked = any(
                code in text for code in ("invalid_grant", "unauthorized_client", "invalid_client")
            )
            raise GoogleError(
                f"Google refused to refresh the access token: {text[:200]}",
                revoked=revoked,
                retryable=not revoked,
            ) from exc
        except TransportError as exc:
            raise GoogleError(f"Google could not be reached: {exc}", retryable=True) from exc
        except HttpError as exc:
            status = exc.resp.status
            reason = _reason(exc)
            raise GoogleError(
                f"Google answered {status} {reason}".strip(),
                status=status,
                reason=reason,
                # A 401 after the library refreshed the token: the grant is gone.
                revoked=status == 401,
                retryable=status >= 500 or status == 429,
            ) from exc
        except (OSError, httplib2.HttpLib2Error) as exc:
            raise GoogleError(f"Google could not be reached: {exc}", retryable=True) from exc
        finally:
            self._save_token()

    def _save_token(self) -> None:
        token = self.credentials.token or ""
        if token and token != self.connection.access_token:
            expiry = self.credentials.expiry
            self.connection.access_token = token
            self.connection.access_token_expires_at = (
                expiry.replace(tzinfo=dt.UTC) if expiry else None
            )
            type(self.connection).objects.filter(pk=self.connection.pk).update(
                access_token=token,
                access_token_expires_at=self.connection.access_token_expires_at,
            )

    def list_calendars(self) -> list[dict]:
        calendars, page = [], None
        while True:
            answer = self._execute(self.service.calendarList().list(pageToken=page, maxResults=250))
            calendars += answer.get("items", [])
            page = answer.get("nextPageToken")
            if not page:
                return calendars

    def list_events(
        self, calendar_id: str, *, sync_token: str = "", page_token: str = "", time_min=None
    ) -> dict:
        params: dict[str, Any] = {"calendarId": calendar_id, "singleEvents": True}
        params["maxResults"] = 250
        if page_token:
            params["pageToken"] = page_token
        if sync_token:
            params["syncToken"] = sync_token
        elif time_min is not None:
            params["timeMin"] = time_min.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        return self._execute(self.service.events().list(**params))

    def get_event(self, calendar_id: str, event_id: str) -> dict:
        return self._execute(self.service.events().get(calendarId=calendar_id, eventId=event_id))

    def insert_event(self, calendar_id: str, body: dict) -> dict:
        return self._execute(
            self.service.events().insert(calendarId=calendar_id, body=body, sendUpdates="none")
        )

    def patch_event(self, calendar_id: str, event_id: str, body: dict, *, etag: str) -> dict:
        request = self.service.events().patch(
            calendarId=calendar_id, eventId=event_id, body=body, sendUpdates="none"
        )
        return self._execute(request, if_match=etag)

    def delete_event(self, calendar_id: str, event_id: str, *, etag: str) -> None:
        request = self.service.events().delete(
            calendarId=calendar_id, eventId=event_id, sendUpdates="none"
        )
        self._execute(request, if_match=etag)

    def watch(self, calendar_id: str, *, channel_id: str, token: str, address: str) -> dict:
        body = {"id": channel_id, "type": "web_hook", "address": address, "token": token}
        return self._execute(self.service.events().watch(calendarId=calendar_id, body=body))

    def stop_channel(self, *, channel_id: str, resource_id: str) -> None:
        body = {"id": channel_id, "resourceId": resource_id}
        self._execute(self.service.channels().stop(body=body))


def parse_time(value: dict | None, zone: dt.tzinfo = dt.UTC) -> dt.datetime | None:
    """An event's ``start``/``end``: an RFC 3339 ``dateTime``, or an all-day ``date`` (midnight
    in the calendar's ``zone``; the end date is exclusive)."""
    if not value:
        return None
    if value.get("dateTime"):
        moment = dt.datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))
        return moment if moment.tzinfo else timezone.make_aware(moment, dt.UTC)
    if value.get("date"):
        return dt.datetime.combine(dt.date.fromisoformat(value["date"]), dt.time(), zone)
    return None


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def parse_updated(item: dict) -> dt.datetime | None:
    """An event's ``updated`` (when it last changed in Google), None when absent or bad."""
    try:
        return dt.datetime.fromisoformat(str(item.get("updated") or "").replace("Z", "+00:00"))
    except ValueError:
        return None
