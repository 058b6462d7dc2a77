"""Signed Twilio webhooks per second against the running server, next to its ceiling.

    .venv/bin/python bench/webhook_ingest.py [--seconds 10] [--concurrency 8] [--url URL]
        [--runs inbound,status,mixed]

Against a server started with `make run` (default http://127.0.0.1:8000; loopback only), it
posts webhooks signed exactly as Twilio signs them from N concurrent clients for a fixed time,
and prints requests/second and p50/p99 latency, run by run:

- ``inbound``: inbound SMS (unique MessageSid each, senders from a small pool so conversations
  are reused as in real traffic);
- ``status``: status callbacks (``sent`` then ``delivered``) of outbound messages it recorded
  beforehand in the bench inbox, as a campaign's sends leave them; the server journals them
  and applies them in batches after answering, so the run also prints the delay from each
  callback's request to its status in the database (what the page shows), p50/p99;
- ``mixed``: what a running campaign brings back: four status callbacks for each reply;
- ``chatwoot``: Chatwoot's signed ``message_created`` webhooks (``X-Chatwoot-Signature`` over
  the timestamp and the raw JSON), customers of a small pool writing in their mirrored
  conversations, to a "Bench Chatwoot" inbox with mirroring on; the payloads are the Chatwoot
  simulator's own. Seed 004's goal for it: under 100 ms. It also times sends through the
  Chatwoot provider against the simulator in this process (goal: under 500 ms).

Then it does the same against a bare endpoint of the same server that only answers 204
(``/__bench__/noop``, mounted when the server runs with DEBUG=true or BENCH_ENDPOINTS=true), the
ceiling of the stack, and prints each run's ratio to it.

The webhooks go to a dedicated "Bench SMS" inbox of the demo tenant (created once, through the
same action as `manage.py create_inbox`) so the demo's own conversations stay clean; pass
``--inbox ID`` to use another Twilio SMS inbox. Run it with the same environment as the server
(DATABASE_URL, REDIS_URL, PUBLIC_BASE_URL): it reads the inbox and signs for PUBLIC_BASE_URL.
"""

import argparse
import asyncio
import ipaddress
import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnichannel.settings")

import django

MAX_SECONDS = 120
MAX_CONCURRENCY = 64
MAX_REQUESTS = 200_000
WARM_UP_REQUESTS = 20
BENCH_ADDRESS = "+15005550009"  # not a demo inbox number
BENCH_ACCOUNT_SID = "AC" + "be7c4" * 6 + "00"
SENDERS = [f"+1415555{n:04d}" for n in range(200, 250)]
RUNS = ("inbound", "status", "mixed", "chatwoot")
# Issue 19's goals, printed beside the numbers.
GOAL_INBOUND_RPS = 600
GOAL_STATUS_RPS = 1500
GOAL_P99_MS = 50
GOAL_RATIO = 0.5
GOAL_APPLIED_P99_S = 2.0
GOAL_CHATWOOT_MS = 100  # seed 004: a Chatwoot webhook handled in under 100 ms
GOAL_CHATWOOT_SEND_MS = 500  # seed 004: a send to Chatwoot in under 500 ms
BENCH_CHATWOOT_NAME = "Bench Chatwoot"
# Status callbacks a run can post at most: 2 per outbound message recorded beforehand.
MAX_OUTBOUND = 100_000
APPLY_WAIT_SECONDS = 60


def loopback_only(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https"):
        raise SystemExit(f"--url must be http(s), not {url!r}.")
    if host != "localhost":
        try:
            if not ipaddress.ip_address(host).is_loopback:
                raise ValueError
        except ValueError:
            raise SystemExit(
                f"--url must point at this machine (loopback), not {host!r}."
            ) from None
    return url.rstrip("/")


def bench_inbox(inbox_id: int | None):
    from inbox.actions.inboxes import do_create_inbox
    from inbox.models import Inbox
    from omnichannel.channels import Channel
    from omnichannel.models import Tenant

    if inbox_id is not None:
        inbox = Inbox.objects.filter(pk=inbox_id, kind=Channel.SMS, is_active=True).first()
        if inbox is None:
            raise SystemExit(f"There is no active SMS inbox with id {inbox_id}.")
        return inbox
    tenant = Tenant.objects.filter(slug="demo-travel").first()
    if tenant is None:
        raise SystemExit("No demo tenant: start the server with `make run` (it seeds one).")
    inbox = Inbox.objects.filter(tenant=tenant, kind=Channel.SMS, address=BENCH_ADDRESS).first()
    if inbox is None:
        inbox = do_create_inbox(
            tenant,
            name="Bench SMS",
            kind=Channel.SMS,
            provider="twilio",
            address=BENCH_ADDRESS,
            credentials={
                "account_sid": BENCH_ACCOUNT_SID,
                "auth_token": secrets.token_hex(16),
                "api_base_url": "http://127.0.0.1:9",  # never called for inbound traffic
            },
        )
    if not inbox.is_active:
        raise SystemExit(f"The bench inbox {inbox.pk} is disabled; enable it or pass --inbox.")
    return inbox


class Signer:
    """Builds unique inbound forms for one inbox, signed over PUBLIC_BASE_URL + path."""

    def __init__(self, inbox) -> None:
        from urllib.parse import urlsplit

        from twilio.request_validator import RequestValidator

        from inbox.providers import webhook_url
        from inbox.providers.twilio.simulator import inbound_params

        self.inbox = inbox
        self.public_url = webhook_url(inbox, "inbound")
        self.path = urlsplit(self.public_url).path
        self.status_url = webhook_url(inbox, "status")
        self.status_path = urlsplit(self.status_url).path
        self.validator = RequestValidator(inbox.get_credentials()["auth_token"])
        self.account_sid = inbox.get_credentials()["account_sid"]
        self.inbound_params = inbound_params
        self.count = 0

    def next(self) -> tuple[dict[str, str], dict[str, str]]:
        self.count += 1
        params = self.inbound_params(
            self.inbox,
            sender=SENDERS[self.count % len(SENDERS)],
            body=f"Bench message {self.count}",
        )
        signature = self.validator.compute_signature(self.public_url, params)
        return params, {"X-Twilio-Signature": signature}

    def status(self, sid: str, to: str, status: str) -> tuple[dict[str, str], dict[str, str]]:
        """A status callback of our message ``sid``, as Twilio posts it."""
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "From": self.inbox.address,
            "MessageSid": sid,
            "MessageStatus": status,
            "SmsSid": sid,
            "SmsStatus": status,
            "To": to,
        }
        signature = self.validator.compute_signature(self.status_url, params)
        return params, {"X-Twilio-Signature": signature}


@dataclass
class Request:
    url: str
    data: dict[str, str]
    headers: dict[str, str]
    expect: int
    kind: str
    key: tuple | None = None  # a status callback's (sid, status): when it was posted is kept
    content: bytes | None = None  # a raw body (JSON) instead of the form ``data``


def record_outbound(inbox, count: int) -> list[tuple[str, str]]:
    """``count`` outbound messages of the bench inbox handed to Twilio (queued, with a SID),
    as a campaign's sends leave them; their (SID, recipient)."""
    from django.db import transaction

    from contacts.actions import get_or_create_contact_by_phone
    from inbox.actions.conversations import get_or_open_active_conversation
    from inbox.models import Delivery, Message

    conversations = []
    for phone in SENDERS:
        contact, _ = get_or_create_contact_by_phone(inbox.tenant, phone=phone)
        with transaction.atomic():
            conversations.append((get_or_open_active_conversation(inbox, contact), phone))
    sent = []
    for start in range(0, count, 2000):
        chunk = range(start, min(count, start + 2000))
        messages = Message.objects.bulk_create(
            Message(
                tenant=inbox.tenant,
                conversation=conversations[n % len(conversations)][0],
                inbox=inbox,
                direction=Message.Direction.OUTBOUND,
                sender_type=Message.SenderType.SYSTEM,
                body=f"Bench campaign message {n}",
                status=Message.Status.QUEUED,
            )
            for n in chunk
        )
        deliveries = []
        for n, message in zip(chunk, messages, strict=True):
            sid, to = "SM" + secrets.token_hex(16), conversations[n % len(conversations)][1]
            sent.append((sid, to))
            deliveries.append(
                Delivery(
                    tenant=inbox.tenant,
                    message=message,
                    inbox=inbox,
                    provider="twilio",
                    recipient=to,
                    provider_message_id=sid,
                )
            )
        Delivery.objects.bulk_create(deliveries)
    return sent


class Traffic:
    """The requests of one run: inbound messages, status callbacks, or one reply to every
    ``replies_every`` - 1 callbacks. Callbacks come as a campaign's do: a window of messages
    reported sent, then the same ones delivered."""

    WINDOW = 100

    def __init__(self, base: str, signer: Signer, outbound, *, replies_every: int = 0) -> None:
        self.base, self.signer, self.replies_every = base, signer, replies_every
        self.callbacks = self._callbacks(outbound) if outbound is not None else None
        self.count = 0

    @staticmethod
    def _callbacks(outbound):
        for start in range(0, len(outbound), Traffic.WINDOW):
            window = outbound[start : start + Traffic.WINDOW]
            for status in ("sent", "delivered"):
                for sid, to in window:
                    yield sid, to, status

    def inbound(self) -> Request:
        data, headers = self.signer.next()
        return Request(self.base + self.signer.path, data, headers, 200, "inbound")

    def next(self) -> Request | None:
        self.count += 1
        if self.callbacks is None or (self.replies_every and self.count % self.replies_every == 0):
            return self.inbound()
        callback = next(self.callbacks, None)
        if callback is None:
            return None
        sid, to, status = callback
        data, headers = self.signer.status(sid, to, status)
        url = self.base + self.signer.status_path
        return Request(url, data, headers, 204, "status", key=(sid, status))


def chatwoot_inbox(tenant):
    """The demo tenant's "Bench Chatwoot" inbox (mirroring on, a webhook secret of its own),
    made once through the same action as Settings → Channels; its API is never called."""
    from inbox.actions.inboxes import do_create_inbox
    from inbox.models import Inbox
    from omnichannel.channels import Channel

    inbox = Inbox.objects.filter(
        tenant=tenant, kind=Channel.CHATWOOT, name=BENCH_CHATWOOT_NAME
    ).first()
    if inbox is None:
        inbox = do_create_inbox(
            tenant,
            name=BENCH_CHATWOOT_NAME,
            kind=Channel.CHATWOOT,
            provider="chatwoot",
            address="",
            credentials={
                "api_url": "http://127.0.0.1:9",
                "api_access_token": secrets.token_hex(16),
                "account_id": "1",
                "inbox_id": "7",
                "webhook_secret": secrets.token_urlsafe(24),
                "mirror": True,
                "notify": False,
            },
        )
    if not inbox.is_active:
        raise SystemExit(f"The bench Chatwoot inbox {inbox.pk} is disabled; enable it.")
    return inbox


class ChatwootTraffic:
    """Signed ``message_created`` webhooks as Chatwoot posts them: the Chatwoot simulator
    (never served here, only its payload builder) records a customer of ``SENDERS`` writing,
    and the payload it would post is signed with the inbox's secret."""

    def __init__(self, base: str, inbox) -> None:
        from contacts.actions import get_or_create_contact_by_phone
        from inbox.providers import webhook_url
        from inbox.providers.chatwoot.simulator import ChatwootServer, webhook_headers

        for phone in SENDERS:  # known contacts: their messages are mirrored, not set aside
            get_or_create_contact_by_phone(inbox.tenant, phone=phone)
        self.server = ChatwootServer(address=("127.0.0.1", 0))
        self.url = base + urlsplit(webhook_url(inbox, "events")).path
        self.secret = inbox.get_credentials()["webhook_secret"]
        self.headers = webhook_headers
        self.count = 0

    def next(self) -> Request:
        self.count += 1
        with self.server.lock:
            self.server.incoming(SENDERS[self.count % len(SENDERS)], f"Bench {self.count}")
            payload = next(
                e for e in reversed(self.server.events) if e["event"] == "message_created"
            )
            self.server.events.clear()
        body = json.dumps(payload).encode()
        headers = {**self.headers(self.secret, body), "Content-Type": "application/json"}
        return Request(self.url, {}, headers, 200, "chatwoot", content=body)

    def close(self) -> None:
        self.server.server_close()


def chatwoot_sends(tenant, count: int) -> dict[str, list[float]]:
    """Seconds per send through the Chatwoot provider against the simulator served in this
    process: a first send to a new phone (search, create the contact, its conversations, open
    one, post) and the next one to the same conversation (one call)."""
    import threading

    from inbox.models import Inbox
    from inbox.providers.base import OutboundMessage
    from inbox.providers.chatwoot.provider import ChatwootProvider
    from inbox.providers.chatwoot.simulator import ACCOUNT_ID, INBOX_ID, ChatwootServer
    from omnichannel.channels import Channel

    server = ChatwootServer(address=("127.0.0.1", 0))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    inbox = Inbox(tenant=tenant, kind=Channel.CHATWOOT, provider="chatwoot", name="Bench")
    inbox.set_credentials(
        {
            "api_url": server.base_url,
            "api_access_token": server.token,
            "account_id": str(ACCOUNT_ID),
            "inbox_id": str(INBOX_ID),
        }
    )
    provider = ChatwootProvider(inbox)
    first, repeat = [], []
    try:
        for n in range(count):
            phone = f"+1415556{n:04d}"
            started = time.perf_counter()
            result = provider.send(OutboundMessage(recipient=phone, body=f"Bench {n}"))
            first.append(time.perf_counter() - started)
            started = time.perf_counter()
            provider.send(
                OutboundMessage(recipient=phone, body="Again", thread_ref=result.thread_ref)
            )
            repeat.append(time.perf_counter() - started)
    finally:
        server.shutdown()
        server.server_close()
    return {"first send (new contact)": first, "next send (one call)": repeat}


async def hammer(url: str, make_request, *, seconds: float, concurrency: int, expect: int) -> dict:
    """POST ``make_request()``'s ``(data, headers)`` to ``url`` from ``concurrency`` clients
    for ``seconds``: the run's numbers."""

    def request() -> Request:
        data, headers = make_request()
        return Request(url, data, headers, expect, "all")

    return (await hammer_requests(request, seconds=seconds, concurrency=concurrency))["all"]


async def hammer_requests(
    make_request: Callable[[], Request | None],
    *,
    seconds: float,
    concurrency: int,
    posted: dict | None = None,
    warm_up: bool = True,
) -> dict[str, dict]:
    """POST ``make_request()`` (until it returns None) from ``concurrency`` clients for
    ``seconds``: the numbers of each kind of request and of them ``all``; ``posted`` gets the
    wall-clock time each keyed request was sent at."""
    import httpx

    latencies: dict[str, list[float]] = {}
    errors: dict[str, dict[str, int]] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10.0, trust_env=False) as client:

        async def one() -> bool:
            request = make_request()
            if request is None:
                return False
            if posted is not None and request.key is not None:
                posted[request.key] = time.time()
            started = time.perf_counter()
            try:
                body = (
                    {"content": request.content}
                    if request.content is not None
                    else {"data": request.data}
                )
                response = await client.post(request.url, headers=request.headers, **body)
                status = response.status_code
                outcome = str(status) if status != request.expect else None
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            elapsed = time.perf_counter() - started
            for kind in {request.kind, "all"}:
                latencies.setdefault(kind, []).append(elapsed)
                if outcome is not None:
                    counts = errors.setdefault(kind, {})
                    counts[outcome] = counts.get(outcome, 0) + 1
            return True

        if warm_up:
            for _ in range(WARM_UP_REQUESTS):
                await one()
            latencies.clear()
            errors.clear()
        sent = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal sent
            while time.perf_counter() < deadline and sent < MAX_REQUESTS:
                sent += 1
                if not await one():
                    return

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    results = {}
    for kind, values in latencies.items():
        ordered = sorted(values)
        results[kind] = {
            "requests": len(ordered),
            "rps": len(ordered) / elapsed if elapsed else 0.0,
            "p50_ms": statistics.median(ordered) * 1000,
            "p99_ms": ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000,
            "errors": errors.get(kind, {}),
        }
    empty = {"requests": 0, "rps": 0.0, "p50_ms": 0.0, "p99_ms": 0.0, "errors": {}}
    return results or {"all": empty}


def applied_delays(inbox, posted: dict[tuple, float]) -> dict:
    """Once the journal is drained: seconds from each callback's request to its status in the
    database (the time column it set), p50/p99, and how many never showed."""
    from inbox.models import Delivery
    from omnichannel.models import WebhookEvent

    deadline = time.monotonic() + APPLY_WAIT_SECONDS
    pending = WebhookEvent.objects.filter(inbox=inbox, kind="status", state="pending", attempts=0)
    while pending.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    sids = {sid for sid, _status in posted}
    shown = {}
    for start in range(0, len(sids), 5000):
        chunk = list(sids)[start : start + 5000]
        rows = Delivery.objects.filter(inbox=inbox, provider_message_id__in=chunk)
        for sid, sent_at, delivered_at in rows.values_list(
            "provider_message_id", "sent_at", "delivered_at"
        ):
            shown[(sid, "sent")] = sent_at
            shown[(sid, "delivered")] = delivered_at
    delays, missing = [], 0
    for key, at in posted.items():
        moment = shown.get(key)
        if moment is None:
            missing += 1
        else:
            delays.append(max(0.0, (moment - datetime.fromtimestamp(at, UTC)).total_seconds()))
    delays.sort()
    return {
        "p50_s": statistics.median(delays) if delays else 0.0,
        "p99_s": delays[max(0, int(len(delays) * 0.99) - 1)] if delays else 0.0,
        "max_s": delays[-1] if delays else 0.0,
        "missing": missing,
        "still_pending": pending.count(),
    }


def line(label: str, result: dict) -> str:
    errors = ", ".join(f"{k} x{v}" for k, v in sorted(result["errors"].items())) or "none"
    return (
        f"{label:<26} n={result['requests']:<7} {result['rps']:8.1f} req/s  "
        f"p50={result['p50_ms']:7.2f} ms  p99={result['p99_ms']:7.2f} ms  errors: {errors}"
    )


def goals(kind: str, result: dict, bare: dict | None) -> str:
    rps_goal = GOAL_STATUS_RPS if kind == "status" else GOAL_INBOUND_RPS
    text = f"   goal ≥ {rps_goal} req/s, p99 ≤ {GOAL_P99_MS} ms"
    if bare and bare["rps"]:
        text += f", ≥ {GOAL_RATIO}x bare: {result['rps'] / bare['rps']:.2f}x"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="The running server.")
    parser.add_argument("--seconds", type=float, default=10.0, help=f"Per run, ≤ {MAX_SECONDS}.")
    parser.add_argument("--concurrency", type=int, default=8, help=f"≤ {MAX_CONCURRENCY}.")
    parser.add_argument("--inbox", type=int, help="A Twilio SMS inbox id (default: Bench SMS).")
    parser.add_argument("--noop-path", default="/__bench__/noop", help="The bare 204 endpoint.")
    parser.add_argument(
        "--runs", default=",".join(RUNS), help=f"Which runs, comma-separated: {', '.join(RUNS)}."
    )
    parser.add_argument(
        "--outbound",
        type=int,
        default=15_000,
        help=f"Outbound messages recorded for each run with callbacks (2 each), ≤ {MAX_OUTBOUND}.",
    )
    args = parser.parse_args()
    base = loopback_only(args.url)
    seconds = min(max(args.seconds, 1.0), MAX_SECONDS)
    concurrency = min(max(args.concurrency, 1), MAX_CONCURRENCY)
    runs = [run.strip() for run in args.runs.split(",") if run.strip()]
    if not runs or set(runs) - set(RUNS):
        raise SystemExit(f"--runs takes {', '.join(RUNS)}, not {args.runs!r}.")
    outbound_count = min(max(args.outbound, 100), MAX_OUTBOUND)

    django.setup()
    import logging

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise

    inbox = bench_inbox(args.inbox)
    signer = Signer(inbox)
    try:
        httpx.get(base + "/healthz", timeout=5, trust_env=False).raise_for_status()
    except httpx.HTTPError as exc:
        raise SystemExit(
            f"The server at {base} is not answering /healthz ({exc}); `make run`?"
        ) from None

    print(
        f"server {base}, inbox {inbox.pk} ({inbox.address}), {concurrency} concurrent clients, "
        f"{seconds:g} s per run; signing for {signer.public_url.rsplit('/webhooks/', 1)[0]}"
    )
    results = {}
    for run in runs:
        if run == "chatwoot":
            chatwoot = ChatwootTraffic(base, chatwoot_inbox(inbox.tenant))
            try:
                result = asyncio.run(
                    hammer_requests(chatwoot.next, seconds=seconds, concurrency=concurrency)
                )
            finally:
                chatwoot.close()
            results[run] = result
            print(line(run, result["all"]))
            for label, values in chatwoot_sends(inbox.tenant, 50).items():
                values.sort()
                print(
                    f"  chatwoot: {label:<24} n={len(values)}  "
                    f"p50={statistics.median(values) * 1000:7.2f} ms  "
                    f"p99={values[max(0, int(len(values) * 0.99) - 1)] * 1000:7.2f} ms   "
                    f"(goal ≤ {GOAL_CHATWOOT_SEND_MS} ms, seed 004)"
                )
            if result["all"]["errors"].get("403"):
                print("  403s: the server's clock or PUBLIC_BASE_URL differs from this process's?")
            continue
        outbound = None
        if run != "inbound":
            started = time.perf_counter()
            outbound = record_outbound(inbox, outbound_count)
            print(
                f"  ({run}: recorded {len(outbound)} outbound messages to report on in "
                f"{time.perf_counter() - started:.1f} s)"
            )
        traffic = Traffic(base, signer, outbound, replies_every=5 if run == "mixed" else 0)
        posted: dict = {}
        result = asyncio.run(
            hammer_requests(traffic.next, seconds=seconds, concurrency=concurrency, posted=posted)
        )
        results[run] = result
        for kind in ("all", "inbound", "status") if run == "mixed" else ("all",):
            if kind in result:
                label = run if kind == "all" else f"  {run}: {kind}"
                print(line(f"{label}", result[kind]))
        if result["all"]["errors"].get("403"):
            print("  403s: the server's PUBLIC_BASE_URL differs from this process's; same env?")
        if outbound is not None:
            if traffic.callbacks is not None and next(traffic.callbacks, None) is None:
                print(f"  ({run}: ran out of recorded messages; raise --outbound)")
            delays = applied_delays(inbox, posted)
            print(
                f"  {run}: request → status in the database p50={delays['p50_s']:.3f} s "
                f"p99={delays['p99_s']:.3f} s max={delays['max_s']:.3f} s, "
                f"not shown: {delays['missing']}, still pending: {delays['still_pending']}"
                f"   (goal p99 ≤ {GOAL_APPLIED_P99_S:g} s)"
            )

    noop_url = base + "/" + args.noop_path.lstrip("/")
    probe = httpx.post(noop_url, data={}, timeout=5, trust_env=False)
    if probe.status_code != 204:
        print(
            f"bare endpoint {noop_url} answered {probe.status_code}: start the server with "
            "DEBUG=true or BENCH_ENDPOINTS=true to mount it; no ratio."
        )
        bare = None
    else:
        bare = asyncio.run(
            hammer(noop_url, signer.next, seconds=seconds, concurrency=concurrency, expect=204)
        )
        print(line("bare 204 endpoint", bare))
    for run, result in results.items():
        if run == "chatwoot":
            ratio = f", {result['all']['rps'] / bare['rps']:.2f}x bare" if bare else ""
            print(f"{run:<10}   goal p50 and p99 ≤ {GOAL_CHATWOOT_MS} ms (seed 004){ratio}")
            continue
        kind = "status" if run == "status" else "inbound"
        print(f"{run:<10}{goals(kind, result['all'], bare)}")


if __name__ == "__main__":
    main()
