"""`make run`: prepare the database, then run web + Celery worker + beat until Ctrl-C/SIGTERM.

Uses the embedded PostgreSQL/Redis when DATABASE_URL/REDIS_URL are unset (and stops them on
exit if it started them). Once everything answers, a child that dies (the worker killed by the
OOM killer, the web server crashing) is started again after a back-off of 1, 2, 4... seconds, at
most 30, back to 1 s once it has stayed up a minute; the others keep running. A child that dies
while starting means a broken setup: everything stops. Ctrl-C/SIGTERM (also during start-up)
stops each child with its own children, then the embedded servers.
"""

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from omnichannel import embedded

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GRACE_SECONDS = 15
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
STABLE_AFTER_SECONDS = 60.0
# HOST and PORT reach it through the environment, WEB_SERVER and WEB_CONCURRENCY too.
WEB_COMMAND = [PYTHON, "-m", "omnichannel.serve"]


class StopRequested(Exception):
    """Ctrl-C/SIGTERM arrived while starting: start nothing more, stop what runs."""


stop_requested = False


def _request_stop(signum, frame) -> None:
    # Only a flag: raising here could interrupt a server start half-way (a Valkey started but
    # not yet recorded), which is how servers get left behind.
    global stop_requested
    stop_requested = True


def _check_stop() -> None:
    if stop_requested:
        raise StopRequested


def _say(text: str) -> None:
    print(f"[centro] {text}", flush=True)


def _manage(*args: str, capture: bool = False) -> str:
    """Run a management command; what it printed when ``capture`` (it is shown too)."""
    process = subprocess.Popen(
        [PYTHON, "manage.py", *args],
        cwd=BASE_DIR,
        stdout=subprocess.PIPE if capture else None,
        text=True,
    )
    while True:
        try:
            output, _ = process.communicate(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            if stop_requested:
                process.terminate()
                output, _ = process.communicate()
                break
    _check_stop()
    if output:
        print(output, end="", flush=True)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, ["manage.py", *args])
    return output or ""


def _how_it_ended(returncode: int) -> str:
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        return f"was killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"was killed by signal {-returncode}"


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL what is left of the child's process group (a dead worker's pool processes)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


class Child:
    """One long-running program, restarted with a back-off when it dies."""

    def __init__(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self.command = command
        self.env = env  # added to ours
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.crashes = 0  # in a row, each before it stayed up STABLE_AFTER_SECONDS
        self.restart_at: float | None = None

    def start(self) -> None:
        # Its own session: Ctrl-C in the terminal reaches only us, and we stop the children
        # in order; its process group is what we kill when it dies or will not stop.
        self.process = subprocess.Popen(
            self.command,
            cwd=BASE_DIR,
            start_new_session=True,
            env={**os.environ, **self.env} if self.env else None,
        )
        self.started_at = time.monotonic()
        self.restart_at = None

    def watch(self, now: float) -> None:
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.start()
                _say(f"{self.name} started again (pid {self.process.pid})")
            return
        if self.process.poll() is None:
            return
        _kill_group(self.process)
        if now - self.started_at >= STABLE_AFTER_SECONDS:
            self.crashes = 0
        delay = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2**self.crashes)
        self.crashes += 1
        self.restart_at = now + delay
        _say(
            f"{self.name} (pid {self.process.pid}) {_how_it_ended(self.process.returncode)}; "
            f"restarting it in {delay:g} s"
        )


def _children(
    simulator_port: int,
    bluebubbles_port: int,
    seeded: dict,
    evolution_port: int = 8767,
    chatwoot_port: int = 8768,
    google_port: int | None = None,
) -> list[Child]:
    celery = [PYTHON, "-m", "celery", "-A", "omnichannel"]
    schedule = str(embedded.DATA_DIR / "celerybeat-schedule")
    return [
        # The demo's Twilio: a local simulator that answers sends and posts status callbacks.
        Child(
            "twilio-simulator",
            [
                PYTHON,
                "-m",
                "inbox.providers.twilio.simulator",
                "--port",
                str(simulator_port),
                "--callbacks",
            ],
        ),
        # The demo's iMessage: a local BlueBubbles simulator that answers sends and posts the
        # webhooks a Mac would (echo, delivered, read, the contact typing) to the demo inbox.
        Child(
            "bluebubbles-simulator",
            [
                PYTHON,
                "-m",
                "inbox.providers.bluebubbles.simulator",
                "--port",
                str(bluebubbles_port),
                "--typing",
            ],
            # Not on the command line, which every user of the machine can read: the URL
            # holds the inbox's webhook secret.
            env={"BLUEBUBBLES_SIMULATOR_WEBHOOK_URL": seeded.get("bluebubbles_webhook_url", "")},
        ),
        # The demo's WhatsApp gateway: a local Evolution API simulator. Connecting the demo
        # inbox registers its webhook there; the "phone" scans the QR code, sends are acked.
        Child(
            "evolution-simulator",
            [
                PYTHON,
                "-m",
                "inbox.providers.evolution.simulator",
                "--port",
                str(evolution_port),
                "--webhooks",
            ],
        ),
        # The demo's Chatwoot: a local simulator of a Chatwoot account the demo inbox posts
        # into; it signs its webhooks to the inbox with the inbox's secret.
        Child(
            "chatwoot-simulator",
            [
                PYTHON,
                "-m",
                "inbox.providers.chatwoot.simulator",
                "--port",
                str(chatwoot_port),
            ],
            # Not on the command line, which every user of the machine can read.
            env={
                "CHATWOOT_SIMULATOR_WEBHOOK_URL": seeded.get("chatwoot_webhook_url", ""),
                "CHATWOOT_SIMULATOR_WEBHOOK_SECRET": os.environ.get(
                    "DEMO_CHATWOOT_WEBHOOK_SECRET", ""
                ),
            },
        ),
        *_google_simulator(google_port),
        Child("web", WEB_COMMAND),
        Child("worker", [*celery, "worker", "--loglevel", "INFO", "--concurrency", "2"]),
        Child("beat", [*celery, "beat", "--loglevel", "INFO", "--schedule", schedule]),
    ]


def _google_simulator(port: int | None) -> list[Child]:
    """The demo's Google Calendar, when no real OAuth client is configured: a local simulator
    whose consent page approves at once and whose calendar has a few busy hours."""
    if port is None:
        return []
    # It accepts the client the environment names (set by _use_google_simulator): the secret
    # is never on a command line, which every user of the machine can read.
    command = [PYTHON, "-m", "calendar_app.google.simulator", "--port", str(port), "--demo-events"]
    return [Child("google-calendar-simulator", command)]


def _use_google_simulator() -> int | None:
    """Point the Google Calendar sync at the local simulator unless a real OAuth client is
    configured; the simulator's port, or None when Google itself is used."""
    if os.environ.get("GOOGLE_OAUTH_CLIENT_ID") or os.environ.get("GOOGLE_OAUTH_CLIENT_SECRET"):
        return None
    port = int(os.environ.get("GOOGLE_SIMULATOR_PORT", "8769"))
    base = f"http://127.0.0.1:{port}"
    os.environ.update(
        {
            "GOOGLE_OAUTH_CLIENT_ID": "centro-demo-simulator.apps.googleusercontent.com",
            # Made up here, shared with the simulator through the environment: never printed.
            "GOOGLE_OAUTH_CLIENT_SECRET": secrets.token_urlsafe(24),
            "GOOGLE_OAUTH_AUTH_URL": f"{base}/o/oauth2/auth",
            "GOOGLE_OAUTH_TOKEN_URL": f"{base}/token",
            "GOOGLE_CALENDAR_API_URL": f"{base}/calendar/v3/",
        }
    )
    return port


def _wait_until_healthy(url: str, children: list[Child], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _check_stop()
        for child in children:
            if child.process.poll() is not None:
                raise RuntimeError(
                    f"{child.name} {_how_it_ended(child.process.returncode)} while starting"
                )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own URL)
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


def _stop(children: list[Child]) -> None:
    running = [c for c in children if c.process is not None and c.process.poll() is None]
    for child in running:
        child.process.send_signal(signal.SIGTERM)  # Celery: warm shutdown
    deadline = time.monotonic() + GRACE_SECONDS
    for child in children:
        if child.process is None:
            continue
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _say(f"{child.name} did not stop in {GRACE_SECONDS}s; killing it")
        _kill_group(child.process)
        child.process.wait()


def main() -> int:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _request_stop)
    parent = os.getppid()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnichannel.settings")
    os.environ.setdefault("HOST", "127.0.0.1")
    port = int(os.environ.setdefault("PORT", "8000"))
    public = os.environ.setdefault("PUBLIC_BASE_URL", f"http://localhost:{port}")
    simulator_port = int(os.environ.get("SIMULATOR_PORT", "8765"))
    os.environ.setdefault("DEMO_TWILIO_URL", f"http://127.0.0.1:{simulator_port}")
    bluebubbles_port = int(os.environ.get("BLUEBUBBLES_SIMULATOR_PORT", "8766"))
    os.environ.setdefault("DEMO_BLUEBUBBLES_URL", f"http://127.0.0.1:{bluebubbles_port}")
    evolution_port = int(os.environ.get("EVOLUTION_SIMULATOR_PORT", "8767"))
    os.environ.setdefault("DEMO_EVOLUTION_URL", f"http://127.0.0.1:{evolution_port}")
    chatwoot_port = int(os.environ.get("CHATWOOT_SIMULATOR_PORT", "8768"))
    os.environ.setdefault("DEMO_CHATWOOT_URL", f"http://127.0.0.1:{chatwoot_port}")
    # Made up here, given to seed_demo (the demo inbox's secret) and to the simulator (which
    # signs with it) through the environment: never printed.
    os.environ.setdefault("DEMO_CHATWOOT_WEBHOOK_SECRET", secrets.token_urlsafe(24))
    google_port = _use_google_simulator()

    uses_embedded = not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))
    children: list[Child] = []
    exit_code = 0
    try:
        if uses_embedded:
            _say(f"starting the embedded PostgreSQL and Redis (data in {embedded.DATA_DIR})")
        embedded.bootstrap(hold=uses_embedded)
        _check_stop()
        _say("migrating the database")
        _manage("migrate", "--noinput", "-v", "0")
        _manage("collectstatic", "--noinput", "-v", "0")
        # Its last line is JSON: the demo's inboxes, and where their simulators post webhooks.
        seeded = json.loads(_manage("seed_demo", capture=True).strip().splitlines()[-1])
        children = _children(
            simulator_port, bluebubbles_port, seeded, evolution_port, chatwoot_port, google_port
        )
        for child in children:
            _check_stop()
            child.start()
        _wait_until_healthy(f"http://127.0.0.1:{port}/healthz", children, timeout=90)
        _say(f"Centro is running at {public}/")
        _say(
            f"demo login: {os.environ.get('DEMO_EMAIL', 'demo@centro.local')} / "
            f"{os.environ.get('DEMO_PASSWORD', 'centro-demo')}"
        )
        _say("press Ctrl-C to stop")
        while not stop_requested:
            if os.getppid() != parent:
                # `make` was killed (SIGTERM to make is not passed on): do not outlive it.
                _say("parent process exited; stopping")
                break
            for child in children:
                child.watch(time.monotonic())
            time.sleep(0.5)
    except StopRequested:
        pass
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        _say(f"could not start: {exc}")
        exit_code = 1
    finally:
        _say("stopping")
        _stop(children)
        if uses_embedded:
            embedded.release()
        _say("stopped")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
