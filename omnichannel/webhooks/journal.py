"""The webhook journal: every authenticated provider request, kept before it is processed.

``record`` stores the raw request (so nothing is lost), ``process`` runs the handler the
source's app registered for the event's type (``omnichannel.webhooks.handlers_for``) and
records the outcome, ``replay`` re-runs a journaled event from
its stored body without verifying it again (it was verified when it arrived). Handlers are
idempotent through unique provider ids, so replaying a processed event changes nothing.
Events an app applies in batches instead (status callbacks) are taken with ``claim`` and their
outcomes recorded with ``finish_claimed``, in the transaction that applied them.

States: pending (stored, not yet processed, interrupted, or deferred: it refers to something
not recorded yet, such as a status callback that beat the send's bookkeeping; the beat sweep
replays pending events), processed (the ``error`` column then holds a note such as
"duplicate"), invalid (authentic but unusable: the reason), failed (our error: replay it once
fixed).

Whatever a request holds, journaling it never raises: the raw body is kept binary-safe, and every
note stored or answered (which may quote the request) is cleaned of what PostgreSQL text cannot
hold. The beat sweep replays each event in its own transaction and carries on past one that
breaks: that one is marked failed with the reason, the others are processed.
"""

import io
import logging
import time
from datetime import timedelta
from urllib.parse import urlsplit

from django.core.handlers.wsgi import WSGIRequest
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.utils import timezone

from omnichannel.models import Tenant, WebhookEvent
from omnichannel.text import clean_note, clean_text
from omnichannel.webhooks import MalformedWebhook, handlers_for

logger = logging.getLogger(__name__)

# How long a deferred event keeps being retried before it is closed with its note.
DEFER_LIMIT = timedelta(minutes=10)


class Deferred(Exception):
    """Raised by a handler when the event refers to something not recorded yet."""


# Headers never journaled: they carry credentials (anymail's basic auth) or sessions.
SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


def headers_of(request: HttpRequest) -> dict[str, str]:
    """The request's headers as the provider sent them, without :data:`SECRET_HEADERS`."""
    return {
        clean_text(name)[:100]: clean_text(value)[:1000]
        for name, value in request.headers.items()
        if name.lower() not in SECRET_HEADERS
    }


def record(
    inbox=None,
    *,
    source: str = "",
    tenant: Tenant | None = None,
    kind: str,
    url: str,
    content_type: str,
    body: str | bytes,
    headers: dict[str, str] | None = None,
    external_id: str = "",
    invalid: str = "",
    dedupe_key: str = "",
    unique_external_id: bool = False,
) -> WebhookEvent:
    """Journal an authenticated request (committed on its own, before any processing), or,
    with ``invalid`` (the reason), one already found unusable.

    A request that repeats one already journaled for the inbox, by its ``dedupe_key`` (the
    source's own notion of "the same event") or, with ``unique_external_id``, by its
    ``external_id`` (a delivery id the source never reuses), is journaled already processed,
    noted as a duplicate of the first (``is_duplicate`` says so): never applied twice, even
    when both copies arrive at once (the key is unique per inbox).

    ``body`` as bytes is kept exactly: as text when it is UTF-8 without NUL characters, else
    base64 (``body_encoding``), so multipart email with binary attachments replays intact.
    The other columns only describe the request, so they are stored cleaned.
    """
    encoding = ""
    if isinstance(body, str):
        body = body.encode("utf-8", errors="surrogatepass")
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is None or "\x00" in text:
            import base64

            body, encoding = base64.b64encode(body).decode("ascii"), "base64"
        else:
            body = text
    dedupe_key = clean_text(dedupe_key).strip()[:200]
    external_id = clean_text(external_id).strip()[:100]
    fields = dict(
        body_encoding=encoding,
        tenant_id=inbox.tenant_id if inbox is not None else getattr(tenant, "pk", None),
        inbox=inbox,
        provider=source or inbox.provider,
        kind=clean_text(kind)[:60],
        url=clean_text(url)[:1000],
        content_type=clean_text(content_type)[:300],
        headers=headers or {},
        body=body,
        external_id=external_id,
        **(
            {"state": WebhookEvent.State.INVALID, "error": clean_note(invalid), "attempts": 1}
            | {"processed_at": timezone.now()}
            if invalid
            else {}
        ),
    )
    if inbox is not None and not invalid and (dedupe_key or unique_external_id):
        first = _first_copy(inbox, dedupe_key, external_id if unique_external_id else "")
        if first is None:
            try:
                with transaction.atomic():
                    return WebhookEvent.objects.create(**fields, dedupe_key=dedupe_key)
            except IntegrityError:  # the other copy, concurrently
                first = _first_copy(inbox, dedupe_key, "")
        return _duplicate(fields, first)
    return WebhookEvent.objects.create(**fields)


def _first_copy(inbox, dedupe_key: str, external_id: str) -> int | None:
    match = Q(pk__in=[])
    if dedupe_key:
        match |= Q(dedupe_key=dedupe_key)
    if external_id:
        match |= Q(external_id=external_id)
    return (
        WebhookEvent.objects.filter(match, inbox=inbox)
        .order_by("id")
        .values_list("pk", flat=True)
        .first()
    )


def _duplicate(fields: dict, first: int | None) -> WebhookEvent:
    event = WebhookEvent.objects.create(
        **fields,
        state=WebhookEvent.State.PROCESSED,
        error=f"Duplicate of webhook event {first}: not applied again.",
        processed_at=timezone.now(),
    )
    event.is_duplicate = True
    return event


def is_duplicate(event: WebhookEvent) -> bool:
    """Whether :func:`record` found ``event`` to be a copy of one already journaled."""
    return getattr(event, "is_duplicate", False)


def _finish(event: WebhookEvent, state: str, error: str = "") -> WebhookEvent:
    error = clean_note(error)
    event.state = state
    event.error = error
    event.processed_at = timezone.now()
    WebhookEvent.objects.filter(pk=event.pk).update(
        state=state,
        error=error,
        processed_at=event.processed_at,
        attempts=event.attempts,
        duration_ms=event.duration_ms,
    )
    return event


def _defer(event: WebhookEvent, note: str) -> WebhookEvent:
    note = clean_note(note)
    event.state, event.error = WebhookEvent.State.PENDING, note
    WebhookEvent.objects.filter(pk=event.pk).update(
        state=event.state, error=note, attempts=event.attempts
    )
    return event


def mark_processed(event: WebhookEvent, note: str = "") -> WebhookEvent:
    return _finish(event, WebhookEvent.State.PROCESSED, note)


def mark_invalid(event: WebhookEvent, reason: str) -> WebhookEvent:
    return _finish(event, WebhookEvent.State.INVALID, reason)


def mark_failed(event: WebhookEvent, error: str) -> WebhookEvent:
    return _finish(event, WebhookEvent.State.FAILED, error)


def claim(source: str, kind: str, *, limit: int) -> list[WebhookEvent]:
    """Up to ``limit`` fresh pending events of ``source`` and ``kind``, oldest first, locked
    for the caller's transaction (rows another claim holds are skipped, so several workers
    share the backlog). Fresh: never attempted; a deferred one is the replay sweep's."""
    return list(
        WebhookEvent.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("inbox__tenant")
        .filter(state=WebhookEvent.State.PENDING, attempts=0, provider=source, kind=kind)
        .order_by("id")[:limit]
    )


def finish_claimed(outcomes: list[tuple[WebhookEvent, str, str]]) -> None:
    """Record the outcome of many claimed events in one UPDATE: ``(event, state, note)``;
    an event left pending is deferred (the replay sweep tries it again)."""
    if not outcomes:
        return
    moment = timezone.now()
    rows = []
    for event, state, note in outcomes:
        event.attempts += 1
        event.state, event.error = state, clean_note(note)
        event.processed_at = None if state == WebhookEvent.State.PENDING else moment
        rows.append((event.pk, event.state, event.error, event.attempts, event.processed_at))
    values = ", ".join(["(%s, %s, %s, %s, %s::timestamptz)"] * len(rows))
    table = WebhookEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS e SET state = v.state, error = v.error, attempts = v.attempts,"  # noqa: S608
            " processed_at = v.processed_at"
            f" FROM (VALUES {values}) AS v(id, state, error, attempts, processed_at)"
            " WHERE e.id = v.id",
            [value for row in rows for value in row],
        )


def rebuild_request(event: WebhookEvent) -> HttpRequest:
    """The journaled request again, from its exact bytes (for replays): what handlers read."""
    raw = event.raw_body()
    request = WSGIRequest(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": urlsplit(event.url).path,
            "SCRIPT_NAME": "",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "443",
            "wsgi.url_scheme": "https",
            "CONTENT_TYPE": event.content_type,
            "CONTENT_LENGTH": str(len(raw)),
            "wsgi.input": io.BytesIO(raw),
        }
    )
    request._body = raw
    return request


def process(event: WebhookEvent, request: HttpRequest | None = None) -> WebhookEvent:
    """Run the handler for ``event`` (with ``request``, else the request rebuilt from the
    journal); record the outcome.

    A handler's writes are one transaction: when it fails nothing of it stays, and the event is
    marked failed (our bug or an outage: replay later) or invalid (the content is unusable).
    """
    request = rebuild_request(event) if request is None else request
    event.attempts += 1
    handler = handlers_for(event.provider).get(event.kind)
    if handler is None:
        return mark_invalid(event, f"No handler for {event.provider} {event.kind!r} events.")
    started = time.perf_counter()
    try:
        with transaction.atomic():
            try:
                note = handler(event.inbox, request)
            finally:
                event.duration_ms = round((time.perf_counter() - started) * 1000)
                logger.debug(
                    "Webhook event %s (%s %s) handled in %d ms",
                    event.pk,
                    event.provider,
                    event.kind,
                    event.duration_ms,
                )
    except MalformedWebhook as exc:
        return mark_invalid(event, str(exc))
    except Deferred as exc:
        if timezone.now() - event.received_at < DEFER_LIMIT:
            return _defer(event, str(exc))
        return mark_processed(event, f"{exc} Closed after {DEFER_LIMIT} of retries.")
    except Exception as exc:
        logger.exception("Webhook event %s (%s) failed", event.pk, event.kind)
        return mark_failed(event, f"{type(exc).__name__}: {exc}")
    return mark_processed(event, note or "")


def replay(event: WebhookEvent, *, pending_only: bool = False) -> WebhookEvent | None:
    """Process a journaled event again from its stored body; None if another replay holds it
    (or, ``pending_only``, when it is no longer pending: a batch processed it meanwhile)."""
    with transaction.atomic():
        events = WebhookEvent.objects.select_for_update(skip_locked=True, of=("self",))
        if pending_only:
            events = events.filter(state=WebhookEvent.State.PENDING)
        locked = events.select_related("inbox__tenant").filter(pk=event.pk).first()
        if locked is None:
            return None
        return process(locked)


def replay_pending(*, older_than: timedelta) -> int:
    """Replay pending events received more than ``older_than`` ago (deferred ones, and any a
    crash interrupted); returns how many were replayed."""
    cutoff = timezone.now() - older_than
    pending = WebhookEvent.objects.filter(
        state=WebhookEvent.State.PENDING, received_at__lt=cutoff
    ).order_by("received_at", "id")
    replayed = 0
    for pk in list(pending.values_list("pk", flat=True)):
        if replay_isolated(WebhookEvent(pk=pk), pending_only=True) is not None:
            replayed += 1
    return replayed


def replay_isolated(event: WebhookEvent, *, pending_only: bool = False) -> WebhookEvent | None:
    """:func:`replay`, except that an event whose replay breaks (even its bookkeeping) is marked
    failed with the reason and logged instead of stopping the caller's run over many events."""
    try:
        return replay(event, pending_only=pending_only)
    except Exception as exc:
        logger.exception("Replaying webhook event %s failed", event.pk)
        error = clean_note(f"The replay failed: {type(exc).__name__}: {exc}")
        try:
            with transaction.atomic():
                WebhookEvent.objects.filter(pk=event.pk).update(
                    state=WebhookEvent.State.FAILED,
                    error=error,
                    processed_at=timezone.now(),
                    attempts=F("attempts") + 1,
                )
        except Exception:
            logger.exception("Webhook event %s could not be marked failed", event.pk)
        event.state, event.error = WebhookEvent.State.FAILED, error
        return event
