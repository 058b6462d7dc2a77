"""The campaign engine: leased batches of recipients, sent under shared limits, recorded once.

A worker (:func:`work`) claims up to ``CAMPAIGN_BATCH_SIZE`` waiting recipients with
``SELECT … FOR UPDATE SKIP LOCKED`` and leases them (``leased``, with an expiry). It then sends
them in chunks as the token buckets allow: a chunk is first marked ``sending`` (from then on a
crash leaves the outcome unknown), handed to the provider concurrently, and recorded in one
transaction with its Message and Delivery rows and the campaign's counters. Marking a chunk
``sending`` (:func:`start_sending`) is also where consent is checked again, in the same
statement: people who opted out, were blocklisted, erased or deleted since the launch (or
whose WhatsApp window closed, for free-form text) are skipped with their reason instead.
Before every chunk the worker reads the campaign, so pause and cancel take effect within one
batch, and asks the provider account's circuit breaker.

Rows left behind by a worker that died are settled by :func:`return_expired_leases` (beat):
``leased`` rows go back to waiting; ``sending`` rows become ``unknown`` and are never sent
again automatically. A worker told to stop (Celery's warm shutdown) gives its unstarted rows
back at once.
"""

import contextlib
import datetime
import json
import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from campaigns.breaker import CircuitBreaker, account_breaker
from campaigns.media import template_media_urls
from campaigns.models import Campaign, CampaignRecipient
from campaigns.pacing import buckets_for, effective_rate, quiet_hours_sql
from campaigns.progress import publish_progress
from campaigns.ratelimit import take_together
from contacts.actions import do_set_consent
from contacts.models import BlockedAddress, Consent, Contact
from contacts.personal_data import ERASED
from inbox.actions.send import OutboundRecord, do_record_outbound_batch
from inbox.models import Conversation, Inbox
from inbox.providers import ProviderError, get_provider
from inbox.providers.base import OutboundMessage, TemplateRef
from omnichannel.collections_gc import fewer_collections

logger = logging.getLogger(__name__)

R = CampaignRecipient.Status
TOKENS_PER_TAKE = 50
# Provider errors that say the account (not this recipient) is in trouble: the breaker counts them.
# HTTP codes stand for providers without codes of their own (BlueBubbles): a password refused, a
# server failing (its 500 to a send is final, as the message may have gone out, so only the
# code says the server is in trouble).
ACCOUNT_ERROR_CODES = frozenset(
    {"credentials", "20003", "20404", "network", "api", "timeout"}
    | {"401", "500", "502", "503", "504"}
)
RATE_LIMIT_CODES = frozenset({"20429", "429"})
UNKNOWN_AFTER_CRASH = (
    "The worker stopped while handing this message to the provider, so it may have been "
    "sent. It is not sent again automatically: check with the contact before resending."
)

stop_requested = threading.Event()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Leased:
    id: int
    contact_id: int
    address: str
    body: str
    variables: dict
    attempts: int


@dataclass
class Outcome:
    row: Leased
    result: str  # "sent", "failed" or "retry"
    provider_message_id: str = ""
    status: str = ""
    error: ProviderError | None = None
    account_failure: bool = False
    thread_ref: str = ""  # what the provider chose (see ProviderResult), kept on record
    contact_ids: dict = field(default_factory=dict)


# --- claiming -------------------------------------------------------------------------------


def _table() -> str:
    return CampaignRecipient._meta.db_table


def _lease_expiry() -> datetime.datetime:
    # From the application's clock, like the sweep that compares it (return_expired_leases).
    return timezone.now() + datetime.timedelta(seconds=settings.CAMPAIGN_LEASE_SECONDS)


def claim(campaign: Campaign, worker: str, limit: int) -> list[Leased]:
    """Lease up to ``limit`` waiting recipients outside their quiet hours, in order."""
    quiet, params = quiet_hours_sql(campaign)
    sql = f"""
        WITH picked AS (
            SELECT r.id FROM {_table()} r
            WHERE r.campaign_id = %s AND r.status = 'pending' AND {quiet}
            ORDER BY r.id LIMIT %s
            FOR UPDATE SKIP LOCKED
        )
        UPDATE {_table()} r
        SET status = 'leased', leased_by = %s, lease_expires_at = %s
        FROM picked WHERE r.id = picked.id
        RETURNING r.id, r.contact_id, r.address, r.body, r.variables, r.attempts
    """  # noqa: S608  (table name from the model; values are parameters)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [campaign.pk, *params, limit, worker, _lease_expiry()])
        rows = cursor.fetchall()
    leased = [Leased(*row) for row in sorted(rows)]
    for row in leased:
        if isinstance(row.variables, str):  # Django has psycopg hand raw jsonb back as text
            row.variables = json.loads(row.variables)
    return leased


def has_claimable(campaign: Campaign) -> bool:
    """Is any recipient waiting and outside their quiet hours right now?"""
    quiet, params = quiet_hours_sql(campaign)
    sql = f"""
        SELECT EXISTS (SELECT 1 FROM {_table()} r
        WHERE r.campaign_id = %s AND r.status = 'pending' AND {quiet})
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [campaign.pk, *params])
        return bool(cursor.fetchone()[0])


def heartbeat(campaign_id: int) -> None:
    """A worker is on this campaign (beat starts no other while this is recent)."""
    Campaign.objects.filter(pk=campaign_id).update(last_batch_at=timezone.now())


def release(campaign_id: int, worker: str) -> int:
    """Give back the rows ``worker`` leased and has not started sending."""
    return CampaignRecipient.objects.filter(
        campaign_id=campaign_id, status=R.LEASED, leased_by=worker
    ).update(status=R.PENDING, leased_by="", lease_expires_at=None)


def _free_form_window(campaign: Campaign) -> int | None:
    """Hours since the contact last wrote within which free-form text may go out (WhatsApp's
    24); None when the channel has no such window or the campaign sends an approved template."""
    if campaign.template.content_sid:
        return None
    return _senders.get(campaign.inbox).capabilities.session_window_hours


def start_sending(campaign: Campaign, worker: str, ids: list[int]) -> set[int]:
    """Hand-off: mark the rows still leased to ``worker`` as being sent (from here a crash
    leaves their outcome unknown), except those nobody may message any more, which are
    skipped with their reason. Returns the ids to send.

    What may have changed since the launch is read here, right before the provider call, for
    the whole chunk in ONE statement: the contact deleted or erased, opted out of this channel
    and sender (STOP, unsubscribe link, bounce, complaint, a provider's opt-out error), the
    address blocklisted, or, for free-form WhatsApp, the 24-hour window closed. The campaign's
    ``skipped`` and ``pending`` counters change in the same statement as the rows; its row is
    locked before theirs, in the order cancelling takes them.
    """
    if not ids:
        return set()
    inbox = campaign.inbox
    window = _free_form_window(campaign)
    now = timezone.now()
    sql = f"""
        WITH held AS (
            -- The campaign first, as cancelling locks it before its rows: no deadlock.
            SELECT id FROM {Campaign._meta.db_table} WHERE id = %(campaign)s
            FOR NO KEY UPDATE
        ), verdict AS (
            SELECT r.id, CASE
                WHEN r.contact_id IS NULL THEN 'deleted'
                WHEN c.erased_at IS NOT NULL THEN 'erased'
                WHEN EXISTS (
                    SELECT 1 FROM {Consent._meta.db_table} k
                    WHERE k.contact_id = r.contact_id AND k.channel = %(channel)s
                        AND k.sender = %(sender)s AND k.status = 'opted_out'
                ) THEN 'opted_out'
                WHEN EXISTS (
                    SELECT 1 FROM {BlockedAddress._meta.db_table} b
                    WHERE b.tenant_id = r.tenant_id AND b.kind = 'phone' AND b.value = r.address
                ) THEN 'blocked'
                WHEN %(window)s AND NOT EXISTS (
                    SELECT 1 FROM {Conversation._meta.db_table} v
                    WHERE v.tenant_id = r.tenant_id AND v.contact_id = r.contact_id
                        AND v.inbox_id = %(inbox)s AND v.last_inbound_at >= %(cutoff)s
                ) THEN 'outside_window'
                ELSE '' END AS reason
            FROM held
            JOIN {_table()} r ON r.campaign_id = held.id
            LEFT JOIN {Contact._meta.db_table} c ON c.id = r.contact_id
            WHERE r.id = ANY(%(ids)s) AND r.status = 'leased' AND r.leased_by = %(worker)s
        ), moved AS (
            UPDATE {_table()} r SET
                status = CASE WHEN v.reason = '' THEN 'sending' ELSE 'skipped' END,
                skip_reason = v.reason,
                lease_expires_at = CASE WHEN v.reason = '' THEN %(expiry)s::timestamptz END,
                leased_by = CASE WHEN v.reason = '' THEN r.leased_by ELSE '' END,
                finished_at = CASE WHEN v.reason = '' THEN NULL ELSE %(now)s::timestamptz END
            FROM verdict v
            WHERE r.id = v.id AND r.status = 'leased' AND r.leased_by = %(worker)s
            RETURNING r.id, v.reason
        ), counted AS (
            UPDATE {Campaign._meta.db_table} SET
                skipped = skipped + s.n, pending = pending - s.n
            FROM (SELECT count(*) AS n FROM moved WHERE reason <> '') s
            WHERE id = (SELECT id FROM held) AND s.n > 0
        )
        SELECT id, reason FROM moved
    """  # noqa: S608  (table names from the models; values are parameters)
    params = {
        "ids": list(ids),
        "worker": worker,
        "campaign": campaign.pk,
        "channel": inbox.kind,
        "sender": inbox.address,
        "inbox": inbox.pk,
        "window": window is not None,
        "cutoff": now - datetime.timedelta(hours=window or 0),
        "expiry": _lease_expiry(),
        "now": now,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    skipped = [reason for _, reason in rows if reason]
    if skipped:
        logger.info(
            "Campaign %s: %d recipients skipped at hand-off (%s).",
            campaign.pk,
            len(skipped),
            ", ".join(sorted(set(skipped))),
        )
    return {pk for pk, reason in rows if not reason}


# --- sending --------------------------------------------------------------------------------


class _Senders:
    """One provider object per inbox for the process, and so one pool of kept-alive HTTP
    connections that every send thread shares and later batches reuse (a provider that is not
    ``thread_safe``: one per thread). Built again when the inbox's configuration changes."""

    def __init__(self) -> None:
        self._shared: dict[int, tuple[str, object]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def get(self, inbox: Inbox):
        # The campaign's inbox is loaded afresh by every work(); its fingerprint once per load.
        version = inbox.__dict__.get("_sender_version")
        if version is None:
            version = inbox.__dict__["_sender_version"] = _configuration(inbox)
        local = self._local.__dict__.setdefault("providers", {})
        held = local.get(inbox.pk) or self._shared.get(inbox.pk)
        if held is not None and held[0] == version:
            return held[1]
        with self._lock:
            held = self._shared.get(inbox.pk)
            if held is None or held[0] != version:
                provider = get_provider(inbox)
                held = (version, provider)
                if getattr(provider, "thread_safe", False):
                    self._shared[inbox.pk] = held
                else:
                    self._shared.pop(inbox.pk, None)
                    local[inbox.pk] = held
        return held[1]


def _configuration(inbox: Inbox) -> str:
    return json.dumps(
        [inbox.provider, inbox.kind, inbox.address, inbox.settings], sort_keys=True, default=str
    )


_senders = _Senders()


def _metadata(campaign: Campaign, row: Leased, media_urls: list[str]) -> dict:
    """What the stored message keeps of what the provider read: the template or the media."""
    content_sid = campaign.template.content_sid
    if content_sid:
        return {"template": {"content_sid": content_sid, "variables": row.variables}}
    return {"media_urls": media_urls} if media_urls else {}


def _outbound(campaign: Campaign, row: Leased, media_urls: list[str]) -> OutboundMessage:
    """What the provider sends: the approved template (with the row's variables), or the
    rendered body and the media."""
    content_sid = campaign.template.content_sid
    if content_sid:
        return OutboundMessage(
            recipient=row.address,
            body=row.body,
            template=TemplateRef(content_sid, row.variables),
        )
    return OutboundMessage(recipient=row.address, body=row.body, media_urls=tuple(media_urls))


def _send_one(campaign: Campaign, row: Leased, media_urls: list[str]) -> Outcome:
    try:
        result = _senders.get(campaign.inbox).send(_outbound(campaign, row, media_urls))
    except ProviderError as exc:
        # Server errors, timeouts and bad credentials are the account's trouble; a rate limit
        # only asks us to slow down, and a refused number is that recipient's.
        account = exc.code in ACCOUNT_ERROR_CODES or (
            not exc.permanent and exc.code not in RATE_LIMIT_CODES
        )
        if exc.permanent or row.attempts + 1 >= settings.CAMPAIGN_MAX_ATTEMPTS:
            return Outcome(row, "failed", error=exc, account_failure=account)
        return Outcome(row, "retry", error=exc, account_failure=account)
    except Exception as exc:  # a bug must not leave the chunk half-recorded
        logger.exception("Campaign %s: sending to recipient %s crashed.", campaign.pk, row.id)
        return Outcome(
            row, "retry", error=ProviderError(str(exc)[:200], code="crash", permanent=False)
        )
    return Outcome(
        row,
        "sent",
        result.provider_message_id,
        result.status,
        thread_ref=result.thread_ref,
        contact_ids=dict(result.contact_ids),
    )


def send_chunk(
    campaign: Campaign, rows: list[Leased], pool: ThreadPoolExecutor, media_urls: list[str]
) -> list[Outcome]:
    return list(pool.map(lambda row: _send_one(campaign, row, media_urls), rows))


# --- recording ------------------------------------------------------------------------------


def _messages_for(
    campaign: Campaign, outcomes: list[Outcome], now, media_urls: list[str]
) -> dict[int, int]:
    """Message and Delivery rows for the settled outcomes: recipient id -> message id."""
    settled = [o for o in outcomes if o.result in ("sent", "failed")]
    if not settled:
        return {}
    rows = [
        OutboundRecord(
            contact_id=o.row.contact_id,
            recipient=o.row.address,
            body=o.row.body,
            metadata={
                "campaign_id": campaign.pk,
                # The thread labels the bubble with it (the inbox does not read campaigns).
                "campaign_name": campaign.name,
                "campaign_recipient_id": o.row.id,
                **_metadata(campaign, o.row, media_urls),
            },
            attempts=o.row.attempts + 1,
            provider_message_id=o.provider_message_id,
            error=o.error if o.result == "failed" else None,
            thread_ref=o.thread_ref,
            contact_ids=o.contact_ids,
        )
        for o in settled
    ]
    message_ids = do_record_outbound_batch(campaign.inbox, rows, at=now)
    return {
        o.row.id: message_id
        for o, message_id in zip(settled, message_ids, strict=True)
        if message_id is not None
    }


def record(
    campaign: Campaign, worker: str, outcomes: list[Outcome], media_urls: list[str] = ()
) -> None:
    """Write a chunk's outcomes, their messages and the counters, all or nothing.

    Only rows still this worker's are written; one that the lease sweep marked ``unknown``
    meanwhile is settled by what really happened. A person erased while their message was
    being handed over is recorded without their address or text.
    """
    if not outcomes:
        return
    now = timezone.now()
    with transaction.atomic():
        locked = (
            CampaignRecipient.objects.select_for_update()
            .filter(
                pk__in=[o.row.id for o in outcomes],
                leased_by=worker,
                status__in=[R.SENDING, R.UNKNOWN],
            )
            .values_list("pk", "status", "address")
        )
        current, erased = {}, set()
        for pk, status, address in locked:
            current[pk] = status
            if not address:
                erased.add(pk)
        outcomes = [o for o in outcomes if o.row.id in current]
        if not outcomes:
            return
        for o in outcomes:
            if o.row.id in erased:
                o.row.address, o.row.body, o.row.variables = "", ERASED, {}
                o.thread_ref, o.contact_ids = "", {}
                if o.error is not None:
                    o.error = ProviderError(
                        "",
                        code=o.error.code,
                        permanent=o.error.permanent,
                        retry_after=o.error.retry_after,
                        opt_out=o.error.opt_out,
                    )
        message_ids = _messages_for(campaign, outcomes, now, list(media_urls))
        columns: list[list] = [[], [], [], [], [], []]
        for o in outcomes:
            error = o.error
            for column, value in zip(
                columns,
                (
                    o.row.id,
                    {"sent": R.SENT, "failed": R.FAILED, "retry": R.PENDING}[o.result],
                    message_ids.get(o.row.id),
                    o.provider_message_id,
                    error.code[:20] if error else "",
                    error.message[:500] if error else "",
                ),
                strict=True,
            ):
                column.append(value)
        sent = sum(o.result == "sent" for o in outcomes)
        failed = sum(o.result == "failed" for o in outcomes)
        from_sending = sum(o.result != "retry" and current[o.row.id] == R.SENDING for o in outcomes)
        from_unknown = sum(current[o.row.id] == R.UNKNOWN for o in outcomes)
        back_from_unknown = sum(
            o.result == "retry" and current[o.row.id] == R.UNKNOWN for o in outcomes
        )
        # The rows and the campaign's counters in one statement, the rows as arrays: the same
        # short SQL for PostgreSQL to parse whatever the size of the chunk.
        sql = f"""
            WITH settled AS (
                UPDATE {_table()} r SET
                    status = v.status,
                    message_id = v.message_id,
                    provider_message_id = v.provider_id,
                    error_code = v.code,
                    error_message = v.error,
                    attempts = r.attempts + 1,
                    sent_at = CASE WHEN v.status = 'sent' THEN %(now)s ELSE r.sent_at END,
                    finished_at = CASE WHEN v.status = 'pending' THEN NULL ELSE %(now)s END,
                    leased_by = CASE WHEN v.status = 'pending' THEN '' ELSE r.leased_by END,
                    lease_expires_at = NULL
                FROM unnest(
                    %(ids)s::bigint[], %(statuses)s::text[], %(messages)s::bigint[],
                    %(provider_ids)s::text[], %(codes)s::text[], %(errors)s::text[]
                ) AS v(id, status, message_id, provider_id, code, error)
                WHERE r.id = v.id
            )
            -- pending counts every row not yet settled (waiting, leased or sending).
            UPDATE {Campaign._meta.db_table} SET
                sent = sent + %(sent)s,
                failed = failed + %(failed)s,
                pending = pending - %(from_sending)s + %(back_from_unknown)s,
                unknown = unknown - %(from_unknown)s,
                last_batch_at = %(now)s
            WHERE id = %(campaign)s
        """  # noqa: S608
        ids, statuses, messages, provider_ids, codes, errors = columns
        with connection.cursor() as cursor:
            cursor.execute(
                sql,
                {
                    "now": now,
                    "ids": ids,
                    "statuses": statuses,
                    "messages": messages,
                    "provider_ids": provider_ids,
                    "codes": codes,
                    "errors": errors,
                    "sent": sent,
                    "failed": failed,
                    "from_sending": from_sending,
                    "back_from_unknown": back_from_unknown,
                    "from_unknown": from_unknown,
                    "campaign": campaign.pk,
                },
            )
        for o in outcomes:
            if o.error is not None and o.error.opt_out and o.row.contact_id:
                contact = Contact.objects.filter(pk=o.row.contact_id).first()
                if contact is not None:
                    do_set_consent(
                        contact,
                        channel=campaign.inbox.kind,
                        sender=campaign.inbox.address,
                        status=Consent.Status.OPTED_OUT,
                        source=Consent.Source.PROVIDER_ERROR,
                        detail=f"{campaign.inbox.provider} error {o.error.code}",
                    )


# --- the lifecycle hooks the engine needs ---------------------------------------------------


def breaker_for(campaign: Campaign, client=None) -> CircuitBreaker:
    inbox = campaign.inbox
    breaker = account_breaker(
        inbox.provider,
        get_provider(inbox).account(),
        threshold=settings.CAMPAIGN_BREAKER_THRESHOLD,
        cooldown=float(
            inbox.option("breaker_cooldown_seconds", settings.CAMPAIGN_BREAKER_COOLDOWN)
        ),
    )
    if client is not None:
        breaker = CircuitBreaker(client, breaker.key, breaker.threshold, breaker.cooldown)
    return breaker


def pause_for_breaker(
    campaign: Campaign, last_error: ProviderError | None, retry_in: float
) -> bool:
    """Pause a running campaign because its provider account keeps failing."""
    detail = f" The last error: {last_error.message}" if last_error else ""
    reason = (
        f"Paused automatically: {campaign.inbox.provider_label} failed "
        f"{settings.CAMPAIGN_BREAKER_THRESHOLD} times in a row.{detail} It resumes by itself "
        f"after a {round(retry_in)}-second cool-down once the provider answers again."
    )
    paused = Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.RUNNING).update(
        status=Campaign.Status.PAUSED, pause_reason=reason[:500], paused_by_breaker=True
    )
    if paused:
        logger.warning("Campaign %s paused by the circuit breaker.", campaign.pk)
        publish_progress(campaign.pk, force=True)
    return bool(paused)


def finish_if_done(campaign_id: int) -> bool:
    now = timezone.now()
    done = Campaign.objects.filter(
        pk=campaign_id, status=Campaign.Status.RUNNING, pending=0
    ).update(status=Campaign.Status.COMPLETED, finished_at=now)
    if done:
        publish_progress(campaign_id, force=True)
    return bool(done)


# --- the worker loop ------------------------------------------------------------------------


def _load(campaign_id: int) -> Campaign | None:
    return (
        Campaign.objects.select_related("inbox", "inbox__tenant", "template", "tenant")
        .filter(pk=campaign_id)
        .first()
    )


def work(
    campaign_id: int,
    *,
    worker: str | None = None,
    seconds: float | None = None,
    stop: threading.Event = stop_requested,
    redis_client: redis.Redis | None = None,
) -> str:
    """Send the campaign's recipients until there is nothing claimable, the campaign stops
    running, ``seconds`` pass or ``stop`` is set. Returns why it returned: ``finished``,
    ``waiting`` (recipients left but none claimable now), ``not_running``, ``paused``,
    ``deadline`` or ``stopped``."""
    worker = worker or worker_name()
    deadline = time.monotonic() + (seconds or settings.CAMPAIGN_WORK_SECONDS)
    campaign = _load(campaign_id)
    if campaign is None or campaign.status != Campaign.Status.RUNNING:
        return "not_running"
    buckets = buckets_for(campaign, client=redis_client)
    # No more rows than this worker can send while its lease lasts (slow pacing: a few).
    lease_budget = effective_rate(campaign) * settings.CAMPAIGN_LEASE_SECONDS / 4
    batch_size = max(1, min(settings.CAMPAIGN_BATCH_SIZE, int(lease_budget)))
    breaker = breaker_for(campaign, client=redis_client)
    media_urls = template_media_urls(campaign.template)
    with contextlib.suppress(ProviderError):  # the first send reports it, per recipient
        _senders.get(campaign.inbox).prepare()
    reason = "deadline"
    with (
        fewer_collections(),
        ThreadPoolExecutor(max_workers=settings.CAMPAIGN_SEND_THREADS) as pool,
    ):
        try:
            while time.monotonic() < deadline:
                if stop.is_set():
                    reason = "stopped"
                    break
                heartbeat(campaign_id)
                batch = claim(campaign, worker, batch_size)
                if not batch:
                    reason = "finished" if finish_if_done(campaign_id) else "waiting"
                    break
                reason = _work_batch(
                    campaign, worker, batch, buckets, breaker, pool, deadline, stop, media_urls
                )
                if reason != "more":
                    break
                reason = "deadline"
        finally:
            release(campaign_id, worker)
    publish_progress(campaign_id, force=True)
    return reason


def _work_batch(campaign, worker, batch, buckets, breaker, pool, deadline, stop, media_urls) -> str:
    while batch:
        if stop.is_set():
            return "stopped"
        if time.monotonic() > deadline:
            return "deadline"
        status = Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).first()
        if status != Campaign.Status.RUNNING:
            return "paused" if status == Campaign.Status.PAUSED else "not_running"
        try:
            decision = breaker.allow()
            if not decision.allowed:
                if decision.state == "open":
                    pause_for_breaker(campaign, None, decision.retry_in)
                    return "paused"
                time.sleep(0.05)  # another worker is probing
                continue
            wanted = 1 if decision.state == "half_open" else min(len(batch), TOKENS_PER_TAKE)
            granted, wait = take_together(buckets, wanted)
        except redis.RedisError as exc:
            logger.warning("Campaign %s: Redis unavailable (%s); waiting.", campaign.pk, exc)
            time.sleep(0.5)
            continue
        if not granted:
            heartbeat(campaign.pk)
            time.sleep(min(wait, max(0.0, deadline - time.monotonic())) or 0.01)
            continue
        chunk, batch = batch[:granted], batch[granted:]
        started = start_sending(campaign, worker, [row.id for row in chunk])
        chunk = [row for row in chunk if row.id in started]
        outcomes = send_chunk(campaign, chunk, pool, media_urls)
        record(campaign, worker, outcomes, media_urls)
        _breaker_verdict(campaign, breaker, outcomes)
        publish_progress(campaign.pk)
        limited = [o for o in outcomes if o.error is not None and o.error.code in RATE_LIMIT_CODES]
        if limited:  # the provider asked us to slow down: every worker of this one waits
            wait = max(o.error.retry_after or 1.0 for o in limited)
            time.sleep(min(wait, max(0.0, deadline - time.monotonic())))
    return "more"


def _breaker_verdict(campaign: Campaign, breaker: CircuitBreaker, outcomes: list[Outcome]) -> None:
    try:
        if any(o.result == "sent" for o in outcomes):
            breaker.record_success()
            return
        failures = [o for o in outcomes if o.account_failure]
        for outcome in failures:
            if breaker.record_failure():
                pause_for_breaker(campaign, outcome.error, breaker.cooldown)
                return
    except redis.RedisError as exc:
        logger.warning("Campaign %s: breaker unavailable (%s).", campaign.pk, exc)


# --- the sweep (beat) -----------------------------------------------------------------------


def return_expired_leases() -> dict[str, int]:
    """Leases past their expiry: unstarted rows wait again, started ones become unknown."""
    now = timezone.now()
    expired = CampaignRecipient.objects.filter(lease_expires_at__lt=now)
    returned = expired.filter(status=R.LEASED).update(
        status=R.PENDING, leased_by="", lease_expires_at=None
    )
    unknown = 0
    with transaction.atomic():
        rows = list(
            expired.filter(status=R.SENDING)
            .select_for_update(skip_locked=True)
            .values_list("pk", "campaign_id")
        )
        if rows:
            CampaignRecipient.objects.filter(pk__in=[pk for pk, _ in rows]).update(
                status=R.UNKNOWN,
                error_code="unknown_outcome",
                error_message=UNKNOWN_AFTER_CRASH,
                finished_at=now,
                lease_expires_at=None,
            )
            per_campaign: dict[int, int] = {}
            for _, campaign_id in rows:
                per_campaign[campaign_id] = per_campaign.get(campaign_id, 0) + 1
            for campaign_id, count in per_campaign.items():
                Campaign.objects.filter(pk=campaign_id).update(
                    pending=F("pending") - count, unknown=F("unknown") + count
                )
            unknown = len(rows)
    if returned or unknown:
        logger.warning("Campaign leases expired: %d returned, %d unknown.", returned, unknown)
    return {"returned": returned, "unknown": unknown}
