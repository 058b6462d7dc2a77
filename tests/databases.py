"""Each test worker's database is a copy of one template, migrated once per test run.

Migrating a database from nothing takes 15-40 s of CPU (every migration's project state); with
three workers doing it at once on two cores, each waited a minute before its first test. Now the
first worker to arrive migrates ``test_<name>_template`` (under a PostgreSQL advisory lock, so
the others wait for it) and every worker gets ``CREATE DATABASE ... TEMPLATE`` of it: a file
copy. pytest-django then keeps that database (``django_db_keepdb``) and runs ``migrate`` on it,
which finds nothing to do.

``--create-db`` builds the template afresh once per run (the run's id is stored as the
template's comment) and replaces every worker's copy; otherwise a worker keeps the database it
has, and one that has none copies the template (made first when missing).
"""

import os
import subprocess
import sys
import zlib
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parents[1]


def prepare_test_database(*, create: bool) -> None:
    """Make this worker's test database (``settings.DATABASES["default"]["TEST"]["NAME"]``)
    from the run's template."""
    import psycopg
    from django.conf import settings
    from django.db import connection

    database = settings.DATABASES["default"]
    name = database.get("TEST", {}).get("NAME") or f"test_{database['NAME']}"
    template = f"test_{database['NAME']}_template"
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid-{os.getpid()}"
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params["dbname"] = "postgres"
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_advisory_lock(%s)", [zlib.crc32(template.encode())])
        comment = admin.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [template],
        ).fetchone()
        if comment is None or (create and comment[0] != run):
            _build_template(admin, template, run)
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if create or not exists:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        admin.execute("SELECT pg_advisory_unlock(%s)", [zlib.crc32(template.encode())])


def _build_template(admin, template: str, run: str) -> None:
    admin.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{template}"')
    url = urlsplit(os.environ["DATABASE_URL"])
    env = os.environ | {
        "DATABASE_URL": urlunsplit(url._replace(path="/" + quote(template))),
        "DJANGO_SETTINGS_MODULE": "omnichannel.settings",
    }
    migrate = [sys.executable, "-m", "django", "migrate", "--noinput", "--run-syncdb", "-v", "0"]
    done = subprocess.run(migrate, cwd=BASE_DIR, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        admin.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
        raise RuntimeError(f"Migrating the test template failed:\n{done.stdout}{done.stderr}")
    admin.execute(f"COMMENT ON DATABASE \"{template}\" IS '{run}'")
