"""PostgreSQL for the request path: reused connections, fast failure, lazy reconnection.

Connections are autocommit (reads need no transaction; writes open one explicitly). A broken
connection is dropped; after a failed connect PostgreSQL is left alone for a moment, so requests
that can do without it (a forecast) do not each wait on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.rows import dict_row

from candlecast.ops import db
from candlecast.settings import Settings

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 3
RETRY_PAUSE_SECONDS = 1.0
MAX_IDLE = 8


class DatabaseUnavailable(RuntimeError):
    pass


class ConnectionPool:
    def __init__(self, settings: Settings, pause_seconds: float = RETRY_PAUSE_SECONDS) -> None:
        self.settings = settings
        self.pause_seconds = pause_seconds
        self._idle: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._url: str | None = None

    def _open(self) -> psycopg.Connection:
        if self._url is None:
            url = db.database_url(self.settings)
            db.ensure_schema(url)
            self._url = url
        return psycopg.connect(
            self._url,
            row_factory=dict_row,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
        )

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A live connection, or DatabaseUnavailable (raised at once while paused)."""
        if time.monotonic() < self._down_until:
            raise DatabaseUnavailable("PostgreSQL is unavailable (retrying shortly)")
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        try:
            if conn is None:
                conn = self._open()
        except Exception as error:  # unreachable server, failed migration, bad URL
            self._down_until = time.monotonic() + self.pause_seconds
            raise DatabaseUnavailable(f"PostgreSQL is unavailable: {error}") from error
        try:
            yield conn
        except psycopg.OperationalError as error:
            conn.close()
            self._drop_idle()  # after a server restart every idle connection is broken too
            raise DatabaseUnavailable(f"PostgreSQL is unavailable: {error}") from error
        except BaseException:
            if conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.close()
            else:
                self._release(conn)
            raise
        else:
            self._release(conn)

    def _drop_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _release(self, conn: psycopg.Connection) -> None:
        with self._lock:
            if not conn.closed and len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    def ping(self) -> bool:
        """A direct check (health): clears the pause when PostgreSQL is back."""
        self._down_until = 0.0
        try:
            with self.connection() as conn:
                conn.execute("SELECT 1")
        except DatabaseUnavailable:
            return False
        return True
