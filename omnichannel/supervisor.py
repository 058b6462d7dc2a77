"""`make run`: prepare the database, then run web + Celery worker + beat until Ctrl-C/SIGTERM.

Uses the embedded PostgreSQL/Redis when DATABASE_URL/REDIS_URL are unset (and stops them on
exit if it started them). If any child dies, the others are stopped and the exit code says so.
"""

import os
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
ASGI_APP = "omnichannel.asgi:application"


def _say(text: str) -> None:
    print(f"[centro] {text}", flush=True)


def _manage(*args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, check=True)


def _children(host: str, port: int, simulator_port: int) -> dict[str, list[str]]:
    celery = [PYTHON, "-m", "celery", "-A", "omnichannel"]
    return {
        # The demo's Twilio: a local simulator that answers sends and posts status callbacks.
        "twilio-simulator": [
            PYTHON,
            "-m",
            "inbox.simulator",
            "--port",
            str(simulator_port),
            "--callbacks",
        ],
        "web": [
            PYTHON,
            "-m",
            "daphne",
            "-b",
            host,
            "-p",
            str(port),
            "omnichannel.asgi:application",
        ],
        "worker": [*celery, "worker", "--loglevel", "INFO", "--concurrency", "2"],
        "beat": [
            *celery,
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(embedded.DATA_DIR / "celerybeat-schedule"),
        ],
    }


def _wait_until_healthy(url: str, processes: dict[str, subprocess.Popen], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with code {process.returncode} while starting")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own URL)
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


def _stop(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for name, process in processes.items():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _say(f"{name} did not stop in {GRACE_SECONDS}s; killing it")
            process.kill()
            process.wait()


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnichannel.settings")
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    public = os.environ.setdefault("PUBLIC_BASE_URL", f"http://localhost:{port}")
    simulator_port = int(os.environ.get("SIMULATOR_PORT", "8765"))
    os.environ.setdefault("DEMO_TWILIO_URL", f"http://127.0.0.1:{simulator_port}")

    stopping = False

    def request_stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    uses_embedded = not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))
    if uses_embedded:
        _say(f"starting the embedded PostgreSQL and Redis (data in {embedded.DATA_DIR})")
    embedded.bootstrap(hold=uses_embedded)
    parent = os.getppid()
    processes: dict[str, subprocess.Popen] = {}
    exit_code = 0
    try:
        _say("migrating the database")
        _manage("migrate", "--noinput", "-v", "0")
        _manage("collectstatic", "--noinput", "-v", "0")
        _manage("seed_demo")
        for name, command in _children(host, port, simulator_port).items():
            # Children ignore Ctrl-C sent to the terminal's process group; we stop them in order.
            processes[name] = subprocess.Popen(command, cwd=BASE_DIR, start_new_session=True)
        _wait_until_healthy(f"http://127.0.0.1:{port}/healthz", processes, timeout=90)
        _say(f"Centro is running at {public}/")
        _say(
            f"demo login: {os.environ.get('DEMO_EMAIL', 'demo@centro.local')} / "
            f"{os.environ.get('DEMO_PASSWORD', 'centro-demo')}"
        )
        _say("press Ctrl-C to stop")
        while not stopping:
            if os.getppid() != parent:
                # `make` was killed (SIGTERM to make is not passed on): do not outlive it.
                _say("parent process exited; stopping")
                stopping = True
            for name, process in processes.items():
                if process.poll() is not None:
                    _say(f"{name} exited with code {process.returncode}; stopping everything")
                    exit_code = process.returncode or 1
                    stopping = True
            time.sleep(0.5)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        _say(f"could not start: {exc}")
        exit_code = 1
    finally:
        _say("stopping")
        _stop(processes)
        if uses_embedded:
            embedded.release()
        _say("stopped")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
