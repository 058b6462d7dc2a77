"""Signed Twilio inbound webhooks per second against the running server, next to its ceiling.

    .venv/bin/python bench/webhook_ingest.py [--seconds 10] [--concurrency 8] [--url URL]

Against a server started with `make run` (default http://127.0.0.1:8000; loopback only), it
posts inbound SMS webhooks signed exactly as Twilio signs them (unique MessageSid each, senders
from a small pool so conversations are reused as in real traffic) from N concurrent clients
for a fixed time, and prints requests/second and p50/p99 latency. Then it does the same against
a bare endpoint of the same server that only answers 204 (``/__bench__/noop``, mounted when the
server runs with DEBUG=true or BENCH_ENDPOINTS=true), the ceiling of the stack, and prints the
ratio.

The webhooks go to a dedicated "Bench SMS" inbox of the demo tenant (created once, through the
same action as `manage.py create_inbox`) so the demo's own conversations stay clean; pass
``--inbox ID`` to use another Twilio SMS inbox. Run it with the same environment as the server
(DATABASE_URL, REDIS_URL, PUBLIC_BASE_URL): it reads the inbox and signs for PUBLIC_BASE_URL.
"""

import argparse
import asyncio
import ipaddress
import os
import secrets
import statistics
import sys
import time
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
        self.validator = RequestValidator(inbox.get_credentials()["auth_token"])
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


async def hammer(url: str, make_request, *, seconds: float, concurrency: int, expect: int) -> dict:
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10.0, trust_env=False) as client:

        async def one() -> None:
            data, headers = make_request()
            started = time.perf_counter()
            try:
                response = await client.post(url, data=data, headers=headers)
                outcome = str(response.status_code) if response.status_code != expect else None
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            latencies.append(time.perf_counter() - started)
            if outcome is not None:
                errors[outcome] = errors.get(outcome, 0) + 1

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
                await one()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "rps": len(ordered) / elapsed if elapsed else 0.0,
        "p50_ms": statistics.median(ordered) * 1000 if ordered else 0.0,
        "p99_ms": ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000 if ordered else 0.0,
        "errors": errors,
    }


def line(label: str, result: dict) -> str:
    errors = ", ".join(f"{k} x{v}" for k, v in sorted(result["errors"].items())) or "none"
    return (
        f"{label:<26} n={result['requests']:<7} {result['rps']:8.1f} req/s  "
        f"p50={result['p50_ms']:7.2f} ms  p99={result['p99_ms']:7.2f} ms  errors: {errors}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="The running server.")
    parser.add_argument("--seconds", type=float, default=10.0, help=f"Per run, ≤ {MAX_SECONDS}.")
    parser.add_argument("--concurrency", type=int, default=8, help=f"≤ {MAX_CONCURRENCY}.")
    parser.add_argument("--inbox", type=int, help="A Twilio SMS inbox id (default: Bench SMS).")
    parser.add_argument("--noop-path", default="/__bench__/noop", help="The bare 204 endpoint.")
    args = parser.parse_args()
    base = loopback_only(args.url)
    seconds = min(max(args.seconds, 1.0), MAX_SECONDS)
    concurrency = min(max(args.concurrency, 1), MAX_CONCURRENCY)

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
    webhook = asyncio.run(
        hammer(
            base + signer.path, signer.next, seconds=seconds, concurrency=concurrency, expect=200
        )
    )
    print(line("signed inbound webhook", webhook))
    if webhook["errors"].get("403"):
        print("  403s: the server's PUBLIC_BASE_URL differs from this process's; use the same env.")

    noop_url = base + "/" + args.noop_path.lstrip("/")
    probe = httpx.post(noop_url, data={}, timeout=5, trust_env=False)
    if probe.status_code != 204:
        print(
            f"bare endpoint {noop_url} answered {probe.status_code}: start the server with "
            "DEBUG=true or BENCH_ENDPOINTS=true to mount it; no ratio."
        )
        return
    bare = asyncio.run(
        hammer(noop_url, signer.next, seconds=seconds, concurrency=concurrency, expect=204)
    )
    print(line("bare 204 endpoint", bare))
    ratio = webhook["rps"] / bare["rps"] if bare["rps"] else 0.0
    print(
        f"ratio webhook/bare: {ratio:.2f} (the webhook runs at {ratio:.0%} of the server's "
        f"ceiling; p50 {webhook['p50_ms'] / bare['p50_ms']:.1f}x the bare latency)"
        if bare["p50_ms"]
        else f"ratio webhook/bare: {ratio:.2f}"
    )


if __name__ == "__main__":
    main()
