"""Status callbacks applied in batches from the webhook journal, after the request answered.

A status callback's request only verifies, checks and journals it (``inbox.webhooks.base``);
:func:`do_apply_status_batch` then claims up to a batch of the journaled callbacks (rows other
workers hold are skipped), parses them again from their stored bodies and moves every delivery
they name in one statement: an ``UPDATE … FROM (VALUES …)`` whose WHERE is the forward-only
rule of :func:`inbox.actions.receive.do_apply_status` in SQL, mirrored onto each message whose
latest delivery it is. The journal rows are marked in the same transaction, so a worker killed
mid-batch leaves them pending for the next one and nothing half-applied.

Several callbacks of one delivery in a batch (sent, then delivered) are reduced to the one the
rule would end on: the highest rank, the first of equal ranks. A callback naming no delivery
yet (it beat the send's bookkeeping) is deferred as in the request path: the journal's replay
sweep retries it. Failures reach the ``on_delivery_failed`` hooks and opt-outs the contact's
consent, as one by one; the realtime updates of a batch go out once it committed.
"""

import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from contacts.actions import do_set_consent
from contacts.models import Consent
from inbox import hooks
from inbox.models import STATUS_RANK, TERMINAL_FAILURES, Delivery, Inbox, Message
from inbox.providers import get_provider
from inbox.providers.base import MalformedWebhook, StatusEvent
from omnichannel.events import EventType, publish_to_tenants
from omnichannel.models import WebhookEvent
from omnichannel.webhooks import journal

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
_FAILURES = tuple(str(status) for status in TERMINAL_FAILURES)
# The time columns a status sets, with those it implies (WhatsApp may skip "delivered").
_TIME_COLUMNS = {
    "sent_at": ("sent", "delivered", "read"),
    "delivered_at": ("delivered", "read"),
    "read_at": ("read",),
    "failed_at": _FAILURES,
}


@dataclass
class _Claimed:
    event: WebhookEvent
    status: StatusEvent | None = None
    note: str = ""
    state: str = WebhookEvent.State.PROCESSED


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(str(value)) for value in values)})"


def _rank(column: str) -> str:
    whens = " ".join(f"WHEN '{status}' THEN {rank}" for status, rank in STATUS_RANK.items())
    return f"(CASE {column} {whens} ELSE 0 END)"


def _superseded(current: str, new: str) -> str:
    """SQL: ``new`` may replace ``current`` (the rule of ``_statuses_superseded_by``)."""
    return (
        f"({_rank(current)} < {_rank(new)} AND (NOT {_in(current, _FAILURES)} OR {new} = 'read'))"
    )


def _apply_sql(rows: int) -> str:
    values = ", ".join(["(%s, %s::bigint, %s, %s, %s)"] * rows)
    failed = _in("v.status", _FAILURES)
    times = ", ".join(
        f"{column} = CASE WHEN {_in('v.status', statuses)} THEN COALESCE(d.{column}, %s) "
        f"ELSE d.{column} END"
        for column, statuses in _TIME_COLUMNS.items()
    )
    delivery, message = Delivery._meta.db_table, Message._meta.db_table
    # Only table names, placeholders and the status constants are formatted in.
    return f"""
    WITH v(pmid, tenant_id, status, error_code, error_message) AS (VALUES {values}),
    old AS (
        SELECT d.id, d.message_id, d.status AS old_status, v.pmid, v.tenant_id
        FROM {delivery} d JOIN v ON d.provider = %s AND d.provider_message_id = v.pmid
            AND d.tenant_id = v.tenant_id
        ORDER BY d.id
        FOR UPDATE OF d
    ),
    moved AS (
        UPDATE {delivery} d SET status = v.status, {times},
            error_code = CASE WHEN {failed} THEN v.error_code ELSE d.error_code END,
            error_message = CASE WHEN {failed} THEN v.error_message ELSE d.error_message END
        FROM old JOIN v ON v.pmid = old.pmid AND v.tenant_id = old.tenant_id
        WHERE d.id = old.id AND {_superseded("d.status", "v.status")}
        RETURNING d.id, d.message_id, d.status, d.error_code, d.error_message
    ),
    mirrored AS (
        UPDATE {message} m SET status = mv.status,
            error_code = CASE WHEN {_in("mv.status", _FAILURES)} THEN mv.error_code
                ELSE m.error_code END,
            error_message = CASE WHEN {_in("mv.status", _FAILURES)} THEN mv.error_message
                ELSE m.error_message END
        FROM moved mv
        WHERE m.id = mv.message_id AND {_superseded("m.status", "mv.status")}
            AND NOT EXISTS (
                SELECT 1 FROM {delivery} later
                WHERE later.message_id = mv.message_id AND later.id > mv.id
            )
        RETURNING m.id, m.status, m.error_code, m.error_message
    )
    SELECT old.tenant_id, old.pmid, old.id, old.old_status, mv.status, m.id, m.conversation_id,
        COALESCE(mi.status, m.status), COALESCE(mi.error_code, m.error_code),
        COALESCE(mi.error_message, m.error_message)
    FROM old
        JOIN {message} m ON m.id = old.message_id
        LEFT JOIN moved mv ON mv.id = old.id
        LEFT JOIN mirrored mi ON mi.id = old.message_id
    """  # noqa: S608


def _error_message(event: StatusEvent) -> str:
    code = str(event.error_code or "").strip()
    return (
        event.error_message.strip()
        or (f"The provider reported error {code}." if code else "")
        or "The provider reported that the message was not delivered."
    )[:500]


def _winner(claims: list[_Claimed]) -> _Claimed:
    """What one by one would end on: the highest rank, the first of equal ranks."""
    return max(claims, key=lambda claim: (STATUS_RANK[claim.status.status], -claim.event.pk))


def _parse(claims: list[_Claimed]) -> None:
    providers: dict[int, object] = {}
    for claim in claims:
        inbox = claim.event.inbox
        try:
            if inbox is None:
                raise MalformedWebhook("The inbox of this status callback no longer exists.")
            provider = providers.get(inbox.pk) or providers.setdefault(
                inbox.pk, get_provider(inbox)
            )
            events = provider.parse(journal.rebuild_request(claim.event))
            if len(events) != 1 or not isinstance(events[0], StatusEvent):
                raise MalformedWebhook("This request is not one status callback.")
        except MalformedWebhook as exc:
            claim.state, claim.note = WebhookEvent.State.INVALID, str(exc)
            continue
        claim.status = events[0]


def _apply(source: str, claims: list[_Claimed]) -> list[tuple[int, dict]]:
    """Move the deliveries ``claims`` name; the realtime payloads of those that moved."""
    groups: dict[tuple[int, str], list[_Claimed]] = {}
    for claim in claims:
        if claim.status is not None:
            key = (claim.event.tenant_id, claim.status.provider_message_id)
            groups.setdefault(key, []).append(claim)
    ranked = {
        key: [claim for claim in group if claim.status.status in STATUS_RANK]
        for key, group in groups.items()
    }
    winners = {key: _winner(group) for key, group in ranked.items() if group}
    found: dict[tuple[int, str], tuple] = {}
    if winners:
        params: list = []
        for (tenant_id, pmid), claim in winners.items():
            event = claim.status
            failed = event.status in TERMINAL_FAILURES
            code = str(event.error_code or "").strip()[:20] if failed else ""
            params += [pmid, tenant_id, event.status, code, _error_message(event) if failed else ""]
        params += [source] + [timezone.now()] * len(_TIME_COLUMNS)
        with connection.cursor() as cursor:
            cursor.execute(_apply_sql(len(winners)), params)
            rows = cursor.fetchall()
        found = {(row[0], row[1]): row[2:] for row in rows}

    payloads, failed_ids = [], []
    for key, group in groups.items():
        row = found.get(key)
        if row is None:
            for claim in group:
                _defer(claim, key[1])
            continue
        delivery_id, old_status, new_status, message_id, conversation_id, *message = row
        final = new_status or old_status
        winner = winners.get(key)
        for claim in group:
            if new_status and claim is winner:
                claim.note = f"Delivery {delivery_id} is {final}."
            else:
                claim.note = (
                    f"Delivery {delivery_id} stays {final} (not moved to {claim.status.status})."
                )
        if new_status is None:
            continue
        if new_status in _FAILURES:
            failed_ids.append(delivery_id)
            if winner.status.opt_out:
                _opt_out(delivery_id, winner.event.inbox, winner.status)
        payloads.append(
            (
                key[0],
                {
                    "message_id": message_id,
                    "conversation_id": conversation_id,
                    "status": message[0],
                    "error_code": message[1],
                    "error_message": message[2],
                    "delivery_id": delivery_id,
                    "delivery_status": new_status,
                },
            )
        )
    for delivery in Delivery.objects.filter(pk__in=failed_ids).order_by("pk"):
        hooks.delivery_failed(delivery)
    return payloads


def _defer(claim: _Claimed, provider_message_id: str) -> None:
    """As the request path: pending for the replay sweep, closed once it waited too long."""
    note = (
        f"No delivery has id {provider_message_id} yet (sent outside Centro, or the send is "
        "still being recorded)."
    )
    if timezone.now() - claim.event.received_at < journal.DEFER_LIMIT:
        claim.state, claim.note = WebhookEvent.State.PENDING, note
    else:
        claim.note = f"{note} Closed after {journal.DEFER_LIMIT} of retries."


def _opt_out(delivery_id: int, inbox: Inbox, event: StatusEvent) -> None:
    message = Message.objects.select_related("conversation__contact").get(
        deliveries__pk=delivery_id
    )
    do_set_consent(
        message.conversation.contact,
        channel=inbox.kind,
        sender=inbox.address,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.PROVIDER_ERROR,
        detail=f"Error {event.error_code} on {event.provider_message_id}",
    )


def do_apply_status_batch(source: str, kind: str = "status", *, limit: int = BATCH_SIZE) -> int:
    """Apply up to ``limit`` journaled status callbacks of ``source``; how many were claimed.

    A callback that asks for a fallback (its provider sends it again elsewhere) is processed
    on its own, as the request path does. Should the batch break, each of its callbacks is
    processed on its own instead, so one bad row is marked failed and the others applied.
    """
    with transaction.atomic():
        events = journal.claim(source, kind, limit=limit)
        claims = [_Claimed(event) for event in events]
        _parse(claims)
        alone = [claim for claim in claims if claim.status is not None and claim.status.fall_back]
        batched = [claim for claim in claims if claim not in alone]
        try:
            with transaction.atomic():
                payloads = _apply(source, batched)
                journal.finish_claimed([(c.event, c.state, c.note) for c in batched])
        except Exception:
            logger.exception("A batch of %s status callbacks failed; one by one instead.", source)
            for claim in claims:
                claim.event.refresh_from_db()
            alone, payloads = claims, []
        for claim in alone:
            journal.process(claim.event)
        publish_to_tenants(EventType.MESSAGE_STATUS_UPDATED, payloads)
    return len(events)
