"""`make run` end to end: a fresh data dir, embedded services, web + worker + beat; children
that crash come back, SIGTERM (even during start-up) leaves no process behind."""

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from omnichannel import serve
from omnichannel.supervisor import Child
from tests.supervised import (
    BASE_DIR,
    alive,
    assert_a_message_goes_out_and_comes_back_delivered,
    assert_an_imessage_reply_comes_back_read,
    demo_api_token,
    fresh_env,
    get,
    supervised,
)


@pytest.mark.slow
def test_it_serves_restarts_crashed_children_and_sigterm_leaves_no_process_behind(tmp_path):
    # One start-up for both stories: each takes a fresh data dir, initdb and every migration.
    with supervised(tmp_path, fresh_env(tmp_path)) as run:
        ready = run.wait_until_ready()
        assert {name: check["status"] for name, check in ready["checks"].items()} == {
            "database": "ok",
            "redis": "ok",
            "celery_worker": "ok",
        }
        assert get(f"{run.base}/healthz") == (200, b'{"status": "ok"}')
        status, body = get(f"{run.base}/accounts/login/")
        assert status == 200 and b'name="login"' in body
        assert "demo login: demo@centro.local / centro-demo" in run.log
        assert '"created": true' in run.log
        token = demo_api_token(run)
        assert_a_message_goes_out_and_comes_back_delivered(run, token)
        assert_an_imessage_reply_comes_back_read(run, token)

        servers = run.embedded_servers()
        children = run.children()
        assert set(children) == {
            "web",
            "worker",
            "beat",
            "twilio-simulator",
            "bluebubbles-simulator",
            "evolution-simulator",
            "chatwoot-simulator",
            "google-calendar-simulator",
        }
        # The webhook URL (with the inbox's secret) reaches it through its environment only.
        assert "/webhooks/" not in " ".join(children["bluebubbles-simulator"].cmdline())
        assert "/webhooks/" not in " ".join(children["chatwoot-simulator"].cmdline())
        # The demo's Google client secret, shared with the web server, is not on it either.
        google = children["google-calendar-simulator"]
        secret = google.environ()["GOOGLE_OAUTH_CLIENT_SECRET"]
        assert secret and secret not in " ".join(google.cmdline())
        assert children["web"].environ()["GOOGLE_OAUTH_CLIENT_SECRET"] == secret
        assert children["worker"].children(), "the worker's pool processes"
        # uvicorn, one process per core (WEB_CONCURRENCY unset), beside its resource tracker
        web_workers = [
            p for p in children["web"].children() if "spawn_main" in " ".join(p.cmdline())
        ]
        assert len(web_workers) == serve.concurrency()
        recorded = run.record()
        assert {servers["postgres"], servers["valkey-server"], *children.values()} <= recorded

        # A crashed worker, beat or web server is restarted while the rest keeps serving.
        worker = run.children()["worker"]
        pool = worker.children()

        # The OOM killer's way: the worker and its pool processes, at once.
        killed_at = time.monotonic()
        os.killpg(worker.pid, signal.SIGKILL)
        new_worker = wait_for_a_new(run, "worker", worker, keep_serving=True)
        assert f"worker (pid {worker.pid}) was killed by SIGKILL; restarting it in 1 s" in run.log
        assert f"worker started again (pid {new_worker.pid})" in run.log
        assert not any(alive(p) for p in pool)
        # /readyz sees a heartbeat of the new worker, and the new worker does the work.
        wait_for_a_heartbeat_since(run, killed_at)
        assert_a_message_goes_out_and_comes_back_delivered(run, token)

        # Crashing again soon after: the back-off doubles.
        os.killpg(new_worker.pid, signal.SIGKILL)
        wait_for_a_new(run, "worker", new_worker, keep_serving=True)
        assert (
            f"worker (pid {new_worker.pid}) was killed by SIGKILL; restarting it in 2 s" in run.log
        )

        beat = run.children()["beat"]
        os.killpg(beat.pid, signal.SIGKILL)
        wait_for_a_new(run, "beat", beat, keep_serving=True)
        assert f"beat (pid {beat.pid}) was killed by SIGKILL; restarting it in 1 s" in run.log

        # The web server too: /healthz is down for the back-off, then answers again.
        web = run.children()["web"]
        os.killpg(web.pid, signal.SIGKILL)
        wait_for_a_new(run, "web", web, keep_serving=False)
        assert f"web (pid {web.pid}) was killed by SIGKILL; restarting it in 1 s" in run.log
        deadline = time.monotonic() + 60
        while get_or_none(f"{run.base}/healthz") != 200:
            assert time.monotonic() < deadline, run.tail()
            time.sleep(0.2)
        assert_a_message_goes_out_and_comes_back_delivered(run, token)

        run.sigterm_and_assert_nothing_is_left()
    assert "[centro] stopped" in run.log
    status = subprocess.run(
        [sys.executable, "-m", "omnichannel.embedded", "status"],
        env=run.env, cwd=BASE_DIR, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert '"postgres": false' in status.stdout and '"redis": false' in status.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    "moment",
    [
        None,  # as soon as it is launched, before Python has even set its handlers
        "starting the embedded PostgreSQL and Redis",  # initdb, pg_ctl start, Valkey start
        "migrating the database",
    ],
)
def test_sigterm_during_start_up_leaves_no_process_behind(tmp_path, moment):
    with supervised(tmp_path, fresh_env(tmp_path)) as run:
        if moment:
            run.wait_for_log(moment)
        run.sigterm_and_assert_nothing_is_left(exit_code=0 if moment else -signal.SIGTERM)
    assert "Centro is running" not in run.log


def get_or_none(url: str) -> int | None:
    try:
        return get(url)[0]
    except OSError:
        return None


def wait_for_a_new(
    run, name: str, dead: psutil.Process, *, keep_serving: bool, timeout: float = 90
) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while True:
        if keep_serving:
            assert get(f"{run.base}/healthz")[0] == 200, f"/healthz failed while {name} was down"
        assert run.process.poll() is None, run.tail()
        current = run.children().get(name)
        if current is not None and current.pid != dead.pid and "started again" in run.log:
            run.record()
            return current
        assert time.monotonic() < deadline, f"no new {name}:\n{run.tail()}"
        time.sleep(0.2)


def wait_for_a_heartbeat_since(run, moment: float) -> None:
    deadline = time.monotonic() + 90
    while True:
        status, body = get(f"{run.base}/readyz")
        if status == 200:
            age = json.loads(body)["checks"]["celery_worker"]["age_seconds"]
            if age < time.monotonic() - moment - 1:
                return
        assert time.monotonic() < deadline, f"no heartbeat since the kill: {body!r}"
        time.sleep(0.5)


def test_a_dead_child_is_restarted_with_a_doubling_back_off_that_resets_once_it_stays_up(capsys):
    child = Child("crasher", [sys.executable, "-c", "raise SystemExit(3)"])
    child.start()
    delays = []
    for _ in range(7):
        child.process.wait(30)
        died = time.monotonic()  # right after starting
        child.watch(died)
        delays.append(round(child.restart_at - died))
        child.watch(child.restart_at)  # started again
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    out = capsys.readouterr().out
    assert "[centro] crasher (pid " in out
    assert "exited with code 3; restarting it in 1 s" in out
    assert "exited with code 3; restarting it in 30 s" in out
    assert "[centro] crasher started again (pid " in out

    # It stayed up a minute before dying this time: back to 1 s.
    child.process.wait(30)
    later = child.started_at + 61
    child.watch(later)
    assert child.restart_at - later == 1


def test_a_dead_child_takes_its_own_children_with_it(capsys):
    """A worker whose main process died leaves no orphaned pool process running tasks."""
    leaves_an_orphan = (
        "import os, signal, subprocess, sys;"
        "orphan = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']);"
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    child = Child("worker", [sys.executable, "-c", leaves_an_orphan])
    child.start()
    child.process.wait(30)
    orphans = [p for p in psutil.process_iter() if safe_pgid(p) == child.process.pid]
    assert orphans, "the grandchild runs on"
    child.watch(time.monotonic())
    assert "worker (pid " in capsys.readouterr().out
    deadline = time.monotonic() + 10
    while any(alive(p) for p in orphans):
        assert time.monotonic() < deadline, "the orphan survived"
        time.sleep(0.05)


def safe_pgid(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except (ProcessLookupError, PermissionError):
        return None
