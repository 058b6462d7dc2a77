"""`make run` end to end: a fresh data dir, embedded services, web + worker + beat, clean stop."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BASE_DIR = Path(__file__).resolve().parents[2]
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
}


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


def assert_a_message_goes_out_and_comes_back_delivered(base: str, env: dict, log: str) -> None:
    """API -> worker -> simulated Twilio -> signed status callbacks -> webhook -> delivered."""
    seeded = json.loads(next(line for line in log.splitlines() if '"tenant_id"' in line))
    token = json.loads(
        subprocess.run(
            [sys.executable, "manage.py", "create_api_token", "--tenant", str(seeded["tenant_id"])],
            cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True,
        ).stdout
    )["api_token"]  # fmt: skip
    reply = {"channel": "sms", "to": "+14155550111", "body": "Your booking is confirmed."}
    status, message = api(base, token, "/messages", reply)
    assert status == 201, message
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _, page = api(base, token, f"/conversations/{message['conversation_id']}/messages")
        sent = [m for m in page["items"] if m["id"] == message["id"]]
        if sent and sent[0]["status"] == "delivered":
            return
        time.sleep(0.5)
    raise AssertionError(f"The message never became delivered: {page}")


def test_it_serves_healthz_and_readyz_then_stops_everything_on_sigterm(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in TEST_ONLY}
    env |= {
        "CENTRO_DATA_DIR": str(tmp_path),
        "PORT": str(port),
        "SIMULATOR_PORT": str(free_port()),
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "run.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "omnichannel.supervisor"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        ready = None
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()[-3000:]
            if "Centro is running" in log.read_text():
                status, body = get(f"{base}/readyz")
                if status == 200:
                    ready = json.loads(body)
                    break
            time.sleep(0.5)
        assert ready is not None, log.read_text()[-3000:]
        assert {name: check["status"] for name, check in ready["checks"].items()} == {
            "database": "ok",
            "redis": "ok",
            "celery_worker": "ok",
        }
        assert get(f"{base}/healthz") == (200, b'{"status": "ok"}')
        status, body = get(f"{base}/accounts/login/")
        assert status == 200 and b'name="login"' in body
        text = log.read_text()
        assert "demo login: demo@centro.local / centro-demo" in text
        assert '"created": true' in text
        assert_a_message_goes_out_and_comes_back_delivered(base, env, text)
    finally:
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=60)
    text = log.read_text()
    assert exit_code == 0, text[-3000:]
    assert "[centro] stopped" in text
    status = subprocess.run(
        [sys.executable, "-m", "omnichannel.embedded", "status"],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(status.stdout)["postgres"] is False
    assert json.loads(status.stdout)["redis"] is False
