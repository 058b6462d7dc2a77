"""`make run` (``python -m omnichannel.supervisor``) as a child of a test, and every process it
started, found by PROCESS (not by port): its descendants, and whatever carries its data dir in
its environment (the embedded PostgreSQL and Valkey daemonize out of the tree)."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil

BASE_DIR = Path(__file__).resolve().parents[1]
# Variables the test session sets for itself that a fresh `make run` would not have.
TEST_ONLY = {
    "DATABASE_URL",
    "REDIS_URL",
    "CENTRO_TESTING",
    "SECRET_KEY",
    "CENTRO_ENCRYPTION_KEYS",
    "CENTRO_CACHE_PREFIX",
    "CENTRO_CHANNELS_PREFIX",
    "PUBLIC_BASE_URL",
    "ALLOWED_HOSTS",
    "DJANGO_SETTINGS_MODULE",
    "MEDIA_ROOT",
    "PYTEST_XDIST_WORKER",
    "PYTEST_XDIST_TESTRUNUID",
    "PYTEST_XDIST_WORKER_COUNT",
}
START_SECONDS = 360  # a fresh data dir: initdb, migrations, on a machine shared with others
GONE_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def fresh_env(data_dir: Path) -> dict[str, str]:
    """The environment of `make run` on a fresh clone, with its data in ``data_dir``."""
    return {k: v for k, v in os.environ.items() if k not in TEST_ONLY} | {
        "CENTRO_DATA_DIR": str(data_dir)
    }


def alive(process: psutil.Process) -> bool:
    """Running and not a zombie (daemons are re-parented to an init that may not reap them)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class Supervised:
    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = env | {
            "CENTRO_DATA_DIR": str(data_dir),
            "PORT": str(self.port),
            "SIMULATOR_PORT": str(free_port()),
            "BLUEBUBBLES_SIMULATOR_PORT": str(free_port()),
            "EVOLUTION_SIMULATOR_PORT": str(free_port()),
            "CHATWOOT_SIMULATOR_PORT": str(free_port()),
            "GOOGLE_SIMULATOR_PORT": str(free_port()),
            "PYTHONUNBUFFERED": "1",
        }
        self.log_path = data_dir / "run.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "omnichannel.supervisor"],
                cwd=BASE_DIR,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.root = psutil.Process(self.process.pid)
        self.seen: set[psutil.Process] = set()

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self) -> str:
        return self.log[-4000:]

    def wait_for_log(self, text: str, *, timeout: float = START_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log:
            assert self.process.poll() is None, (
                f"exited ({self.process.returncode}):\n{self.tail()}"
            )
            assert time.monotonic() < deadline, f"no {text!r} in {timeout}s:\n{self.tail()}"
            self.record()
            time.sleep(0.25)  # a scan of every process costs ~30 ms

    def wait_until_ready(self) -> dict:
        self.wait_for_log("Centro is running")
        deadline = time.monotonic() + 120
        while True:
            status, body = get(f"{self.base}/readyz")
            if status == 200:
                self.record()
                return json.loads(body)
            assert time.monotonic() < deadline, f"readyz: {status} {body[:500]!r}\n{self.tail()}"
            time.sleep(0.5)

    def children(self) -> dict[str, psutil.Process]:
        """The supervisor's long-running children by name, as its log calls them."""
        names = {}
        for child in self.root.children():
            with contextlib.suppress(psutil.Error):
                command = " ".join(child.cmdline())
                for name, marker in CHILD_MARKERS.items():
                    if marker in command and alive(child):
                        names[name] = child
        return names

    def processes(self) -> set[psutil.Process]:
        """Every live process of this run: the tree, anything with its data dir in its
        environment (the postmaster and its backends), and the embedded servers' pid files
        (Valkey writes its process title over its environment)."""
        found = set(self.embedded_servers().values())
        with contextlib.suppress(psutil.Error):
            found |= {self.root, *self.root.children(recursive=True)}
        for process in psutil.process_iter(["environ"]):
            if (process.info["environ"] or {}).get("CENTRO_DATA_DIR") == str(self.data_dir):
                found.add(process)
        return {process for process in found if alive(process)}

    def record(self) -> set[psutil.Process]:
        self.seen |= self.processes()
        return self.seen

    def embedded_servers(self) -> dict[str, psutil.Process]:
        """The embedded postmaster and Valkey, by the pid files they keep."""
        servers = {}
        for name, pid_file in (
            ("postgres", self.data_dir / "postgres" / "postmaster.pid"),
            ("valkey-server", self.data_dir / "redis" / "valkey.pid"),
        ):
            with contextlib.suppress(OSError, ValueError, IndexError, psutil.Error):
                # abs(): a standalone backend (initdb) writes its pid negated
                process = psutil.Process(abs(int(pid_file.read_text().split()[0])))
                if process.name() == name:  # not a stale file naming a reused pid
                    servers[name] = process
        return servers

    def sigterm_and_assert_nothing_is_left(self, *, exit_code: int = 0) -> None:
        self.record()
        self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GONE_SECONDS + 30
        while self.process.poll() is None:
            assert time.monotonic() < deadline, f"still running after SIGTERM:\n{self.tail()}"
            self.record()  # a start interrupted half-way may still be starting things
            time.sleep(0.25)  # a scan of every process costs ~30 ms
        assert self.process.returncode == exit_code, self.tail()
        deadline = time.monotonic() + GONE_SECONDS
        while left := {p for p in self.seen | self.processes() if alive(p)}:
            if time.monotonic() > deadline:
                described = [describe(p) for p in left]
                raise AssertionError(f"left running after SIGTERM: {described}\n{self.tail()}")
            time.sleep(0.2)

    def clean_up(self) -> None:
        """Whatever happened in the test, leave nothing running."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(GONE_SECONDS + 30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for process in self.seen | self.processes():
            with contextlib.suppress(psutil.Error):
                process.kill()


CHILD_MARKERS = {
    "web": "omnichannel.serve",
    "worker": "celery -A omnichannel worker",
    "beat": "celery -A omnichannel beat",
    "twilio-simulator": "inbox.providers.twilio.simulator",
    "bluebubbles-simulator": "inbox.providers.bluebubbles.simulator",
    "evolution-simulator": "inbox.providers.evolution.simulator",
    "chatwoot-simulator": "inbox.providers.chatwoot.simulator",
    "google-calendar-simulator": "calendar_app.google.simulator",
}


def describe(process: psutil.Process) -> str:
    try:
        return f"{process.pid} {' '.join(process.cmdline())[:120]}"
    except psutil.Error:
        return str(process.pid)


@contextlib.contextmanager
def supervised(data_dir: Path, env: dict[str, str]) -> Iterator[Supervised]:
    run = Supervised(data_dir, env)
    try:
        yield run
    finally:
        run.clean_up()


def api(base: str, token: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{base}/api/v1{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def demo_api_token(run: Supervised) -> str:
    seeded = json.loads(next(line for line in run.log.splitlines() if '"tenant_id"' in line))
    return json.loads(
        subprocess.run(
            [sys.executable, "manage.py", "create_api_token", "--tenant", str(seeded["tenant_id"]),
             "--role", "owner"],
            cwd=BASE_DIR, env=run.env, capture_output=True, text=True, check=True,
        ).stdout
    )["api_token"]  # fmt: skip


def assert_a_message_goes_out_and_comes_back_delivered(run: Supervised, token: str) -> None:
    """API -> worker -> simulated Twilio -> signed status callbacks -> webhook -> delivered."""
    reply = {"channel": "sms", "to": "+14155550111", "body": "Your booking is confirmed."}
    status, message = api(run.base, token, "/messages", reply)
    assert status == 201, message
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _, page = api(run.base, token, f"/conversations/{message['conversation_id']}/messages")
        sent = [m for m in page["items"] if m["id"] == message["id"]]
        if sent and sent[0]["status"] == "delivered":
            return
        time.sleep(0.5)
    raise AssertionError(f"The message never became delivered: {page}\n{run.tail()}")


def assert_an_imessage_reply_comes_back_read(run: Supervised, token: str) -> None:
    """A reply in the demo iMessage conversation -> worker -> the BlueBubbles simulator ->
    its webhooks (echo, delivered, read) -> the demo inbox's webhook URL -> read."""
    _, page = api(run.base, token, "/conversations?channel=imessage")
    [conversation] = page["items"]
    path = f"/conversations/{conversation['id']}/messages"
    status, message = api(run.base, token, path, {"body": "Yes, it is still on!"})
    assert status == 201, message
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _, page = api(run.base, token, path)
        sent = [m for m in page["items"] if m["id"] == message["id"]]
        if sent and sent[0]["status"] == "read":
            return
        time.sleep(0.5)
    raise AssertionError(f"The iMessage never became read: {page}\n{run.tail()}")
