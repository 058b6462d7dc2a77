"""The embedded PostgreSQL and Redis, driven the way `make` drives them (a fresh data dir)."""

import json
import os
import subprocess
import sys

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
