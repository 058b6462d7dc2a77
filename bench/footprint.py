"""Memory of every process of a running `make run`, idle and under webhooks, and a leak check.

    .venv/bin/python bench/footprint.py [--url URL] [--load-seconds 10] [--minutes 10]

It finds the `make run` of this checkout (the ``omnichannel.supervisor`` process whose working
directory is this repository, or ``--pid``), its children (web server and its workers, Celery
worker and its pool, beat, the Twilio simulator) and the embedded PostgreSQL and Redis of the
same data directory (by their pid files, with every PostgreSQL backend), and groups them by role.

Memory is PSS (proportional set size: a page shared by n processes counts 1/n in each, so the
sum is what the stack really holds; forked pools share most of their pages) beside RSS (what
``top`` shows, which counts shared pages in every process).

1. idle: one sample;
2. under load: signed inbound webhooks from bench/webhook_ingest.py (same inbox, same
   signing) for ``--load-seconds``, sampled every second; the peak of each process;
3. leak check: the same load for ``--minutes`` (default 10; 0 skips it), sampled every
   ``--minutes`` * 6 seconds; each process's PSS after the first sample (warm) and at the end.

The floor, measured in the same run: a bare Python interpreter, and one that ran
``django.setup()`` for these settings and sits idle (the least any of our Python processes
can take). Run it with the same environment as the server (PUBLIC_BASE_URL for signing).
"""

import argparse
import asyncio
import contextlib
import logging
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnichannel.settings")

import psutil

BASE_DIR = Path(__file__).resolve().parents[1]
MAX_LOAD_SECONDS = 120
MAX_MINUTES = 120
GOAL_TOTAL_MB = 1536
MB = 1024 * 1024
# A process "grows" when it gains more than this between the warm sample and the last one.
GROWTH_NOTE_MB = 5.0
GROWTH_NOTE_FRACTION = 0.05


def role_of(cmdline: list[str], parent_role: str | None) -> str:
    """The role of a process of the stack, from its command line (and its parent's role)."""
    text = " ".join(cmdline)
    if "omnichannel.supervisor" in text:
        return "supervisor"
    if "twilio.simulator" in text:
        return "simulator"
    if "omnichannel.serve" in text:
        return "web (parent)"
    if "celery" in text and " beat" in text:
        return "beat"
    if "celery" in text and " worker" in text:
        return "worker (pool)" if parent_role in ("worker", "worker (pool)") else "worker"
    if cmdline[:1] and "postgres" in Path(cmdline[0]).name and "-D" in cmdline:
        return "postgresql"
    if text.startswith("postgres:"):
        if "[local]" in text or "127.0.0.1" in text:
            return "postgresql (backend)"
        return "postgresql (" + text.split(":", 1)[1].strip().split(" ")[0] + ")"
    if "valkey-server" in text or "redis-server" in text:
        return "redis"
    if parent_role == "web (parent)":
        return "web (resource tracker)" if "resource_tracker" in text else "web (worker)"
    return parent_role or "other"


def grouped(samples: dict[int, tuple[str, float, float]]) -> dict[str, tuple[int, float, float]]:
    """{role: (processes, PSS MB, RSS MB)}; PostgreSQL's backends and helpers count as one role."""
    groups: dict[str, tuple[int, float, float]] = {}
    for role, pss, rss in samples.values():
        key = "postgresql" if role.startswith("postgresql") else role
        count, total_pss, total_rss = groups.get(key, (0, 0.0, 0.0))
        groups[key] = (count + 1, total_pss + pss, total_rss + rss)
    return groups


def growth(first: float, last: float) -> str:
    grown = last - first
    note = (
        "  grows"
        if grown > GROWTH_NOTE_MB and first and grown / first > GROWTH_NOTE_FRACTION
        else ""
    )
    return f"{first:8.1f} → {last:8.1f} MB ({grown:+7.1f}){note}"


def find_supervisor(pid: int | None) -> psutil.Process:
    if pid is not None:
        return psutil.Process(pid)
    found = []
    for process in psutil.process_iter(["cmdline", "cwd"]):
        cmdline = process.info["cmdline"] or []
        if "omnichannel.supervisor" in cmdline and process.info["cwd"] == str(BASE_DIR):
            found.append(process)
    if len(found) != 1:
        raise SystemExit(
            f"Found {len(found)} `make run` of {BASE_DIR}; start one (or pass --pid)."
            if not found
            else f"Several `make run` of {BASE_DIR}: {[p.pid for p in found]}; pass --pid."
        )
    return found[0]


def _pid_file(path: Path, *, first_line: bool = False) -> psutil.Process | None:
    try:
        text = path.read_text()
        return psutil.Process(int(text.splitlines()[0] if first_line else text.strip()))
    except (OSError, ValueError, IndexError, psutil.Error):
        return None


def stack(supervisor: psutil.Process) -> dict[int, str]:
    """{pid: role} of every process of the stack, now (web and pool workers come and go)."""
    from omnichannel.embedded import DATA_DIR

    roles: dict[int, str] = {}

    def walk(process: psutil.Process, parent_role: str | None) -> None:
        try:
            role = role_of(process.cmdline(), parent_role)
            children = process.children()
        except psutil.Error:
            return
        roles[process.pid] = role
        for child in children:
            walk(child, role)

    walk(supervisor, None)
    for root in (
        _pid_file(DATA_DIR / "postgres" / "postmaster.pid", first_line=True),
        _pid_file(DATA_DIR / "redis" / "valkey.pid"),
    ):
        if root is not None:
            walk(root, None)
    return roles


def sample(roles: dict[int, str]) -> dict[int, tuple[str, float, float]]:
    """{pid: (role, PSS MB, RSS MB)} of the processes still alive."""
    result = {}
    for pid, role in roles.items():
        try:
            info = psutil.Process(pid).memory_full_info()
        except psutil.Error:
            continue
        result[pid] = (role, info.pss / MB, info.rss / MB)
    return result


def floor() -> dict[str, tuple[float, float]]:
    """PSS and RSS of a bare interpreter and of one idle after django.setup()."""
    programs = {
        "bare python": "import sys; print('ready', flush=True); sys.stdin.read()",
        "python + django.setup()": (
            "import sys, django; django.setup(); print('ready', flush=True); sys.stdin.read()"
        ),
    }
    result = {}
    for label, code in programs.items():
        child = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=BASE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            child.stdout.readline()
            info = psutil.Process(child.pid).memory_full_info()
            result[label] = (info.pss / MB, info.rss / MB)
        finally:
            child.stdin.close()
            child.wait(timeout=30)
    return result


def print_table(title: str, samples: dict[int, tuple[str, float, float]]) -> float:
    print(title)
    groups = grouped(samples)
    for role, (count, pss, rss) in sorted(groups.items(), key=lambda item: -item[1][1]):
        print(f"  {role:<26} {count:>3} proc  PSS {pss:8.1f} MB  RSS {rss:8.1f} MB")
    total = sum(pss for _, pss, _ in groups.values())
    total_rss = sum(rss for _, _, rss in groups.values())
    print(
        f"  {'whole stack':<26} {len(samples):>3} proc  PSS {total:8.1f} MB  "
        f"RSS {total_rss:8.1f} MB   (goal: under {GOAL_TOTAL_MB} MB)"
    )
    return total


async def under_load(base: str, signer, supervisor, *, seconds: float, every: float, concurrency):
    """Samples of the stack ({pid: (role, PSS, RSS)}) taken every ``every`` s under webhooks."""
    from webhook_ingest import hammer

    history: list[dict[int, tuple[str, float, float]]] = []

    async def sampler(done: asyncio.Event) -> None:
        while not done.is_set():
            history.append(await asyncio.to_thread(lambda: sample(stack(supervisor))))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=every)

    done = asyncio.Event()
    task = asyncio.create_task(sampler(done))
    result = await hammer(
        base + signer.path, signer.next, seconds=seconds, concurrency=concurrency, expect=200
    )
    done.set()
    await task
    return history, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="The running server.")
    parser.add_argument("--pid", type=int, help="The `make run` supervisor's pid.")
    parser.add_argument("--load-seconds", type=float, default=10.0, help=f"≤ {MAX_LOAD_SECONDS}.")
    parser.add_argument(
        "--minutes", type=float, default=10.0, help=f"The leak check, ≤ {MAX_MINUTES}; 0 skips."
    )
    parser.add_argument("--concurrency", type=int, default=8, help="Webhook clients, ≤ 64.")
    args = parser.parse_args()

    from webhook_ingest import MAX_CONCURRENCY, Signer, bench_inbox, loopback_only

    base = loopback_only(args.url)
    load_seconds = min(max(args.load_seconds, 1.0), MAX_LOAD_SECONDS)
    minutes = min(max(args.minutes, 0.0), MAX_MINUTES)
    concurrency = min(max(args.concurrency, 1), MAX_CONCURRENCY)
    supervisor = find_supervisor(args.pid)

    import django

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    signer = Signer(bench_inbox(None))

    print(f"`make run` of {BASE_DIR}: supervisor pid {supervisor.pid}, server {base}")
    for label, (pss, rss) in floor().items():
        print(f"floor: {label:<24} PSS {pss:8.1f} MB  RSS {rss:8.1f} MB")
    print_table("idle", sample(stack(supervisor)))

    history, result = asyncio.run(
        under_load(
            base, signer, supervisor, seconds=load_seconds, every=1.0, concurrency=concurrency
        )
    )
    peak = max(history, key=lambda now: sum(pss for _, pss, _ in now.values()))
    print_table(
        f"under load: {concurrency} webhook clients for {load_seconds:g} s "
        f"({result['rps']:.0f} req/s, {sum(result['errors'].values())} errors); "
        "the sample with the largest total",
        peak,
    )
    if not minutes:
        print("leak check: skipped (--minutes 0)")
        return
    history, result = asyncio.run(
        under_load(
            base,
            signer,
            supervisor,
            seconds=minutes * 60,
            every=minutes * 6,
            concurrency=concurrency,
        )
    )
    print(
        f"leak check: {minutes:g} min of steady load ({result['rps']:.0f} req/s, "
        f"{sum(result['errors'].values())} errors); PSS after the first sample → at the end"
    )
    warm, last = history[min(1, len(history) - 1)], history[-1]
    for pid in sorted(set(warm) & set(last), key=lambda pid: (warm[pid][0], pid)):
        print(f"  {warm[pid][0]:<26} pid {pid:<7} {growth(warm[pid][1], last[pid][1])}")
    short = {}
    for pid in (set(warm) | set(last)) - (set(warm) & set(last)):
        role = (warm.get(pid) or last[pid])[0]
        short[role] = short.get(role, 0) + 1
    for role, count in sorted(short.items()):
        print(f"  {role:<26} {count} processes not alive at both samples (connections, restarts)")


if __name__ == "__main__":
    main()
