"""Commit → websocket frame latency with N agents on one tenant, next to the bare fan-out.

    .venv/bin/python bench/realtime.py [--sockets 50] [--events 30] [--url URL]

Against a server started with `make run` (default http://127.0.0.1:8000; loopback only), it
signs in N agents of the demo tenant (bench users ``bench-agent-<i>@bench.local`` with the
Agent role, created once; each socket gets a real session in the server's session store, as
the login form makes), opens ``/ws/?format=html`` for each as the inbox page does and reports
the inbox page as its view. Then it posts signed inbound webhooks one at a time to the
"Bench SMS" inbox of bench/webhook_ingest.py, each with a unique body, and waits until every
socket has received the frame that carries that message.

Latency is measured from the message's ``created_at`` (read from the database): it is set
just before the INSERT, so the time to the commit is included and the figure is an upper
bound of commit → frame. The HTTP response cannot be the start: it leaves after the commit
and the frames may arrive before it. A frame lost is one socket that had not received the
message within ``--timeout``.

The ceiling, measured on the same sockets in the same run: a bare Channels ``group_send`` to
the tenant's group of an event carrying a ready fragment (an HTML comment, which pages
ignore) → frame, with no Django or database work in the server.

Query cost per event: PostgreSQL's own counters (``pg_stat_user_tables``: sequential plus
index scans, the closest to "queries" without pg_stat_statements) summed over events sent to
one socket, then to all N. The background (beat, the worker) adds a little noise; the
counters are read after PostgreSQL's idle flush (``--settle`` seconds). Run it with the same
environment as the server (DATABASE_URL, REDIS_URL, PUBLIC_BASE_URL).
"""

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnichannel.settings")

import django

MAX_SOCKETS = 500
MAX_EVENTS = 1000
MAX_TIMEOUT = 30.0
GOAL_P50_MS = 5.0
GOAL_P99_MS = 25.0
BENCH_USER = "bench-agent-{}@bench.local"
SENDER = "+14155550300"  # one conversation: its row moves nowhere, as on a busy thread


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nearest rank); 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))  # ceil, at least the first
    return ordered[int(rank) - 1]


def sessions_for(tenant, count: int) -> list[str]:
    """Session keys of ``count`` bench agents of ``tenant``, each signed in with a fresh session."""
    from django.test import Client

    from omnichannel.actions import get_or_create_user
    from omnichannel.models import Membership, Role
    from omnichannel.tenancy import SESSION_KEY

    role = Role.objects.get(tenant=tenant, builtin="agent")
    keys = []
    for index in range(count):
        user, _ = get_or_create_user(BENCH_USER.format(index))
        Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": role})
        client = Client()
        client.force_login(user)  # a real session in the server's store, no password needed
        session = client.session
        session[SESSION_KEY] = tenant.pk
        session.save()
        keys.append(session.session_key)
    return keys


def sign_out(keys: list[str]) -> None:
    """The bench's sessions go with it (the users stay, for the next run)."""
    from importlib import import_module

    from django.conf import settings

    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in keys:
        store(session_key=key).delete()


class Socket:
    """One agent's page: frames with their arrival times, read in the background."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.frames: list[tuple[float, str]] = []
        self.arrived = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.connection:
            self.frames.append((time.time(), frame))
            self.arrived.set()

    def first(self, marker: str, since: int) -> float | None:
        return next((at for at, frame in self.frames[since:] if marker in frame), None)


async def open_sockets(base: str, keys: list[str], cookie_name: str) -> list[Socket]:
    import websockets

    ws_url = "ws" + base[len("http") :] + "/ws/?format=html"
    sockets = []
    for key in keys:
        connection = await websockets.connect(
            ws_url,
            origin=base,
            additional_headers={"Cookie": f"{cookie_name}={key}"},
            compression=None,
        )
        await connection.send(json.dumps({"type": "view", "page": "inbox", "rows": []}))
        sockets.append(Socket(connection))
    await asyncio.sleep(0.5)  # the views applied (groups joined) before the first event
    return sockets


async def quiet(sockets: list[Socket], *, still: float = 0.25, limit: float = 10.0) -> None:
    """Until no socket has received anything for ``still`` seconds (at most ``limit``)."""
    deadline = time.monotonic() + limit
    seen = -1
    while time.monotonic() < deadline:
        count = sum(len(s.frames) for s in sockets)
        if count == seen:
            return
        seen = count
        await asyncio.sleep(still)


async def wait_for(sockets: list[Socket], marker: str, starts: list[int], timeout: float):
    """Arrival time of the first frame containing ``marker`` on each socket (None: lost)."""
    deadline = time.monotonic() + timeout
    arrivals: list[float | None] = [None] * len(sockets)
    while True:
        for index, socket in enumerate(sockets):
            if arrivals[index] is None:
                arrivals[index] = socket.first(marker, starts[index])
        remaining = deadline - time.monotonic()
        if all(a is not None for a in arrivals) or remaining <= 0:
            return arrivals
        waiting = [s for s, a in zip(sockets, arrivals, strict=True) if a is None]
        for socket in waiting:
            socket.arrived.clear()
        await asyncio.wait(
            [asyncio.create_task(s.arrived.wait()) for s in waiting],
            timeout=min(remaining, 0.05),
            return_when=asyncio.FIRST_COMPLETED,
        )


async def webhook_run(base, signer, sockets, *, events: int, timeout: float, tag: str) -> dict:
    import httpx
    from asgiref.sync import sync_to_async

    from inbox.models import Message

    @sync_to_async
    def created_at(body: str) -> float | None:
        stamp = (
            Message.objects.filter(tenant=signer.inbox.tenant, conversation__inbox=signer.inbox)
            .filter(body=body)
            .values_list("created_at", flat=True)
            .first()
        )
        return stamp.timestamp() if stamp else None

    latencies: list[float] = []
    lost = 0
    errors = 0
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
        for number in range(events):
            body = f"Bench realtime {tag}-{number}"
            params = signer.inbound_params(signer.inbox, sender=SENDER, body=body)
            headers = {
                "X-Twilio-Signature": signer.validator.compute_signature(signer.public_url, params)
            }
            starts = [len(s.frames) for s in sockets]
            response = await client.post(base + signer.path, data=params, headers=headers)
            if response.status_code != 200:
                errors += 1
                continue
            arrivals = await wait_for(sockets, body, starts, timeout)
            committed = await created_at(body)
            lost += sum(1 for a in arrivals if a is None)
            if committed is not None:
                latencies += [(a - committed) * 1000 for a in arrivals if a is not None]
            await quiet(sockets)  # one event at a time: its other frames (unread counts) go by
    return {"latencies": latencies, "lost": lost, "errors": errors}


async def ceiling_run(sockets, tenant_id: int, *, events: int, timeout: float, tag: str) -> dict:
    from channels.layers import get_channel_layer

    from omnichannel.events import EventType, tenant_group

    layer = get_channel_layer()
    latencies: list[float] = []
    lost = 0
    for number in range(events):
        marker = f"<!-- bench realtime ceiling {tag}-{number} -->"
        starts = [len(s.frames) for s in sockets]
        sent = time.time()
        await layer.group_send(
            tenant_group(tenant_id),
            {
                "type": "centro.event",
                "event": EventType.TYPING_STOPPED.value,
                "payload": {},
                "html": marker,
            },
        )
        arrivals = await wait_for(sockets, marker, starts, timeout)
        lost += sum(1 for a in arrivals if a is None)
        latencies += [(a - sent) * 1000 for a in arrivals if a is not None]
    return {"latencies": latencies, "lost": lost, "errors": 0}


def table_scans() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), 0)"
            " FROM pg_stat_user_tables"
        )
        return int(cursor.fetchone()[0])


async def scans_per_event(run, *, events: int, settle: float) -> float:
    from asgiref.sync import sync_to_async

    await asyncio.sleep(settle)
    before = await sync_to_async(table_scans)()
    await run()
    await asyncio.sleep(settle)  # backends flush their counters when idle
    after = await sync_to_async(table_scans)()
    return (after - before) / events


def line(label: str, result: dict, *, goals: bool = False) -> str:
    values = result["latencies"]
    p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
    text = (
        f"{label:<30} frames={len(values):<6} p50={p50:7.2f} ms  p99={p99:7.2f} ms  "
        f"max={max(values, default=0.0):7.2f} ms  lost={result['lost']}"
    )
    if result["errors"]:
        text += f"  webhook errors={result['errors']}"
    if goals:
        text += f"   (goal p50 ≤ {GOAL_P50_MS:g} ms, p99 ≤ {GOAL_P99_MS:g} ms, 0 lost)"
    return text


async def bench(args, base: str) -> None:
    from asgiref.sync import sync_to_async
    from django.conf import settings
    from webhook_ingest import Signer, bench_inbox

    inbox = await sync_to_async(bench_inbox)(None)
    signer = await sync_to_async(Signer)(inbox)
    tenant = await sync_to_async(lambda: inbox.tenant)()
    keys = await sync_to_async(sessions_for)(tenant, args.sockets)
    tag = str(int(time.time()))
    print(
        f"server {base}, tenant {tenant.slug}, inbox {inbox.pk} ({inbox.address}), "
        f"{args.sockets} agent sockets, {args.events} events per run, timeout {args.timeout:g} s"
    )
    few = min(args.events, 10)

    async def events(sockets: list[Socket], count: int, label: str) -> dict:
        return await webhook_run(
            base, signer, sockets, events=count, timeout=args.timeout, tag=tag + label
        )

    async def scans(sockets: list[Socket], label: str) -> float:
        return await scans_per_event(
            lambda: events(sockets, few, label), events=few, settle=args.settle
        )

    sockets = await open_sockets(base, keys[:1], settings.SESSION_COOKIE_NAME)
    try:
        # Warm up: templates, each socket's first render, the conversation itself.
        await events(sockets, 3, "w1")
        one = await scans(sockets, "q1") if args.settle else None
        sockets += await open_sockets(base, keys[1:], settings.SESSION_COOKIE_NAME)
        await events(sockets, 3, "w")
        ceiling = await ceiling_run(
            sockets, tenant.pk, events=args.events, timeout=args.timeout, tag=tag
        )
        await quiet(sockets)
        webhook = await events(sockets, args.events, "")
        print(line("signed webhook → frame", webhook, goals=True))
        print(line("bare group_send → frame", ceiling))
        bare50 = percentile(ceiling["latencies"], 0.5)
        if bare50:
            print(f"p50 webhook/bare: {percentile(webhook['latencies'], 0.5) / bare50:.1f}x")
        if one is None:
            print("query cost per event: skipped (--settle 0)")
            return
        many = await scans(sockets, "qn")
        extra = (many - one) / (len(sockets) - 1) if len(sockets) > 1 else 0.0
        print(
            f"table scans per event (pg_stat_user_tables, {few} events): {one:.0f} with 1 "
            f"socket open, {many:.0f} with {len(sockets)}, {extra:+.1f} per extra socket "
            "(goal: independent of the number of sockets, +0)"
        )
    finally:
        for socket in sockets:
            socket.reader.cancel()
            await socket.connection.close()
        await sync_to_async(sign_out)(keys)


def main() -> None:
    from webhook_ingest import loopback_only

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="The running server.")
    parser.add_argument("--sockets", type=int, default=50, help=f"≤ {MAX_SOCKETS}.")
    parser.add_argument("--events", type=int, default=30, help=f"Per run, ≤ {MAX_EVENTS}.")
    parser.add_argument(
        "--timeout", type=float, default=5.0, help="Seconds before a frame is lost."
    )
    parser.add_argument(
        "--settle", type=float, default=11.0, help="Seconds for PostgreSQL's counters; 0 skips."
    )
    args = parser.parse_args()
    base = loopback_only(args.url)
    args.sockets = min(max(args.sockets, 1), MAX_SOCKETS)
    args.events = min(max(args.events, 1), MAX_EVENTS)
    args.timeout = min(max(args.timeout, 0.1), MAX_TIMEOUT)
    args.settle = min(max(args.settle, 0.0), 60.0)

    django.setup()
    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        httpx.get(base + "/healthz", timeout=5, trust_env=False).raise_for_status()
    except httpx.HTTPError as exc:
        raise SystemExit(
            f"The server at {base} is not answering /healthz ({exc}); `make run`?"
        ) from None
    asyncio.run(bench(args, base))


if __name__ == "__main__":
    main()
