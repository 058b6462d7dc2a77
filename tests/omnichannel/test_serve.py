"""The web server `make run` starts: uvicorn in WEB_CONCURRENCY processes (one per core by
default), daphne on request; JSON logs, a dead worker replaced, SIGTERM stops them all."""

import json
import os
import signal
import time

import httpx
import psutil
import pytest

from omnichannel import serve
from tests.supervised import alive
from tests.web_server import web_server


def test_web_concurrency_is_one_process_per_core_unless_set(monkeypatch):
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    assert serve.concurrency() == len(os.sched_getaffinity(0)) == serve.cores()
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    assert serve.concurrency() == 3
    for nonsense in ("0", "-2", "two"):
        monkeypatch.setenv("WEB_CONCURRENCY", nonsense)
        with pytest.raises(SystemExit, match="WEB_CONCURRENCY must be a whole number"):
            serve.concurrency()


def test_web_server_is_uvicorn_unless_daphne_is_asked_for(monkeypatch):
    monkeypatch.delenv("WEB_SERVER", raising=False)
    assert serve.server() == "uvicorn"
    monkeypatch.setenv("WEB_SERVER", "Daphne")
    assert serve.server() == "daphne"
    monkeypatch.setenv("WEB_SERVER", "gunicorn")
    with pytest.raises(SystemExit, match="WEB_SERVER must be one of uvicorn, daphne"):
        serve.server()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_uvicorn_workers_log_json_come_back_when_killed_and_stop_on_sigterm(tmp_path):
    with web_server(tmp_path, workers=2) as server:
        response = httpx.get(f"{server.url}/healthz", timeout=5)
        assert response.status_code == 200
        assert "server" not in response.headers

        # A worker that dies is replaced; the other goes on serving meanwhile.
        first, second = server.workers()
        first.kill()
        deadline = time.monotonic() + 60
        while {w.pid for w in server.workers()} & {first.pid} or len(server.workers()) < 2:
            assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
            assert time.monotonic() < deadline, server.log
            time.sleep(0.3)
        assert second in server.workers()
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200

        workers = server.workers()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0, server.log
        assert not any(alive(w) for w in workers)

    lines = [json.loads(line) for line in server.log.splitlines() if line.startswith("{")]
    messages = {(line["logger"], line["message"]) for line in lines}
    parent = server.process.pid
    assert ("uvicorn.error", f"Started parent process [{parent}]") in messages
    assert ("uvicorn.error", f"Child process [{first.pid}] died") in messages
    assert ("uvicorn.error", f"Stopping parent process [{parent}]") in messages
    assert not [line for line in lines if "color_message" in line]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_daphne_stays_available(tmp_path):
    with web_server(tmp_path, workers=0) as server:
        response = httpx.get(f"{server.url}/healthz", timeout=5)
        assert response.status_code == 200
        assert response.headers["server"] == "daphne"
        assert psutil.Process(server.process.pid).children() == []
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0, server.log
