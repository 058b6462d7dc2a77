"""The embedded PostgreSQL and Redis, driven the way `make` drives them (a fresh data dir)."""

import json
import os
import subprocess
import sys

import psutil
import psycopg
import pytest
import redis

pytestmark = pytest.mark.slow


def run(data_dir, *args):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["CENTRO_DATA_DIR"] = str(data_dir)
    result = subprocess.run(
        [sys.executable, "-m", "omnichannel.embedded", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stderr == ""
    return json.loads(result.stdout)


def test_it_starts_keeps_data_across_restarts_and_stops(tmp_path):
    urls = run(tmp_path, "start")
    try:
        assert run(tmp_path, "status")["postgres"] is True
        import dj_database_url

        db = dj_database_url.parse(urls["DATABASE_URL"])
        with psycopg.connect(host=db["HOST"], user=db["USER"], dbname=db["NAME"]) as conn:
            conn.execute("CREATE TABLE survivor (note text)")
            conn.execute("INSERT INTO survivor VALUES ('still here')")
            extensions = {
                row[0] for row in conn.execute("SELECT name FROM pg_available_extensions")
            }
        assert {"btree_gist", "pg_trgm", "unaccent", "citext"} <= extensions
        redis.Redis.from_url(urls["REDIS_URL"]).set("survivor", "yes")

        assert run(tmp_path, "stop") == {"stopped": True}
        assert run(tmp_path, "status") | {"data_dir": None} == {
            "postgres": False,
            "redis": False,
            "data_dir": None,
        }

        urls = run(tmp_path, "start")
        db = dj_database_url.parse(urls["DATABASE_URL"])
        with psycopg.connect(host=db["HOST"], user=db["USER"], dbname=db["NAME"]) as conn:
            assert conn.execute("SELECT note FROM survivor").fetchone() == ("still here",)
        assert redis.Redis.from_url(urls["REDIS_URL"]).get("survivor") == b"yes"
    finally:
        run(tmp_path, "stop")


def in_data_dir(data_dir, code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["CENTRO_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-c", f"from omnichannel import embedded\n{code}"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    ).stdout.strip()  # fmt: skip


def valkeys_of(data_dir) -> list[psutil.Process]:
    """The Valkey processes serving ``data_dir`` (Valkey runs in its --dir)."""
    return [
        process
        for process in psutil.process_iter(["name", "cwd", "status"])
        if process.info["name"] == "valkey-server"
        and process.info["cwd"] == str(data_dir / "redis")
        and process.info["status"] != psutil.STATUS_ZOMBIE
    ]


def pause(url: str, seconds: int) -> None:
    """Valkey answers nobody for a while, as when an AOF fsync stalls on a busy disk."""
    redis.Redis.from_url(url).execute_command("CLIENT", "PAUSE", seconds * 1000, "ALL")


def test_a_busy_valkey_is_neither_started_twice_nor_left_running(tmp_path):
    url = in_data_dir(tmp_path, "print(embedded.ensure_redis())")
    try:
        [valkey] = valkeys_of(tmp_path)
        pause(url, 3)
        # Another process (a `manage.py` command next to `make run`) finds the same server.
        assert in_data_dir(tmp_path, "print(embedded.ensure_redis())") == url
        assert valkeys_of(tmp_path) == [valkey]

        pause(url, 5)
        in_data_dir(tmp_path, "embedded.stop({'redis'})")
        assert not valkey.is_running() or valkey.status() == psutil.STATUS_ZOMBIE
    finally:
        for process in valkeys_of(tmp_path):
            process.kill()
