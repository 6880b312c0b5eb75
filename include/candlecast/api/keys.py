"""API keys: created, listed and revoked in PostgreSQL, verified against an in-process copy.

A key reads `cc_<prefix>_<secret>`: the prefix (public, unique) names the key in listings and
revocation; only the SHA-256 of the whole key is stored. Keys are 256-bit random tokens, so a
fast hash is enough (no password stretching needed) and verification is one dict lookup.

The service trusts its copy of the active keys for `ttl_seconds`: a revocation takes effect
within that window. When PostgreSQL is down the last copy stays in use.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from candlecast.ops import db
from candlecast.settings import Settings

log = logging.getLogger(__name__)

KEY_PATTERN = re.compile(r"^cc_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$")
NAME_MAX_LENGTH = 100


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    prefix: str
    rate_per_minute: int
    burst: int


class KeyStoreUnavailable(RuntimeError):
    """No key set could ever be loaded, so no request can be judged."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """(prefix, key)."""
    prefix = secrets.token_hex(6)
    return prefix, f"cc_{prefix}_{secrets.token_urlsafe(32)}"


def key_prefix(key: str) -> str | None:
    match = KEY_PATTERN.match(key)
    return match.group(1) if match else None


def create_key(
    conn: psycopg.Connection, name: str, rate_per_minute: int, burst: int
) -> tuple[ApiKey, str]:
    """The new key and its only plaintext copy, which is never stored."""
    name = name.strip()
    if not name or len(name) > NAME_MAX_LENGTH:
        raise ValueError(f"name must be 1 to {NAME_MAX_LENGTH} characters")
    if rate_per_minute < 1 or burst < 1:
        raise ValueError("rate_per_minute and burst must be at least 1")
    prefix, key = new_key()
    row = conn.execute(
        "INSERT INTO api_keys (name, prefix, key_hash, rate_per_minute, burst) "
        "VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (name, prefix, hash_key(key), rate_per_minute, burst),
    ).fetchone()
    return ApiKey(row["id"], name, prefix, rate_per_minute, burst), key


def list_keys(conn: psycopg.Connection) -> list[dict]:
    """Every key, newest first, without its hash."""
    return conn.execute(
        "SELECT name, prefix, rate_per_minute, burst, created_at, revoked_at, last_used_at "
        "FROM api_keys ORDER BY created_at DESC, id DESC"
    ).fetchall()


def revoke_key(conn: psycopg.Connection, prefix: str) -> bool:
    """By prefix (or the whole key). False when no such key; revoking twice keeps the first time."""
    prefix = key_prefix(prefix) or prefix.removeprefix("cc_").rstrip("_")
    row = conn.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE prefix = %s "
        "RETURNING id",
        (prefix,),
    ).fetchone()
    return row is not None


def active_keys(conn: psycopg.Connection) -> dict[str, ApiKey]:
    rows = conn.execute(
        "SELECT id, name, prefix, key_hash, rate_per_minute, burst FROM api_keys "
        "WHERE revoked_at IS NULL"
    ).fetchall()
    return {
        r["key_hash"]: ApiKey(r["id"], r["name"], r["prefix"], r["rate_per_minute"], r["burst"])
        for r in rows
    }


def mark_used(conn: psycopg.Connection, key_ids: set[int], when: datetime | None = None) -> None:
    if key_ids:
        conn.execute(
            "UPDATE api_keys SET last_used_at = coalesce(%s, now()) WHERE id = ANY(%s)",
            (when, sorted(key_ids)),
        )


@dataclass(frozen=True)
class KeySet:
    keys: dict[str, ApiKey]
    loaded_at: float = field(default_factory=time.monotonic)

    @property
    def open_access(self) -> bool:
        """No active key at all: local use, every request is let in."""
        return not self.keys

    def verify(self, key: str) -> ApiKey | None:
        if key_prefix(key) is None:
            return None
        return self.keys.get(hash_key(key))


class KeyRing:
    """The service's copy of the active keys, reloaded at most every `ttl_seconds`.

    Also collects which keys were used and writes `last_used_at` with each reload, so a
    request never waits for a database write.
    """

    def __init__(
        self,
        exchange: Callable[[set[int]], dict[str, ApiKey]],
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._exchange = exchange
        self.ttl_seconds = ttl_seconds
        self._clock = clock  # what `ttl_seconds` is measured on
        self._current: KeySet | None = None
        self._used: set[int] = set()
        self._reload_lock = threading.Lock()
        self._failing = False

    @classmethod
    def from_settings(
        cls, settings: Settings, clock: Callable[[], float] = time.monotonic
    ) -> KeyRing:
        def exchange(used: set[int]) -> dict[str, ApiKey]:
            with db.connect(settings) as conn:
                mark_used(conn, used)
                return active_keys(conn)

        return cls(exchange, settings.candlecast_api_key_cache_seconds, clock)

    def fresh(self) -> KeySet | None:
        """The current copy if it is still within its window (never touches the database)."""
        current = self._current
        if current is not None and self._clock() - current.loaded_at < self.ttl_seconds:
            return current
        return None

    def get(self) -> KeySet:
        """The key set, reloading it when due (blocking: call from a worker thread)."""
        current = self.fresh()
        if current is not None:
            return current
        # While one caller reloads, others keep using the previous copy if there is one.
        if self._reload_lock.acquire(blocking=self._current is None):
            try:
                if self.fresh() is None:
                    self._reload()
            finally:
                self._reload_lock.release()
        if self._current is None:
            raise KeyStoreUnavailable(
                "API keys cannot be checked: the key store (PostgreSQL) is unavailable"
            )
        return self._current

    def record_use(self, key: ApiKey) -> None:
        self._used.add(key.id)

    def _reload(self) -> None:
        used, self._used = self._used, set()
        try:
            keys = self._exchange(used)
        except (psycopg.Error, OSError) as error:
            self._used |= used
            if not self._failing:
                log.error("API key store unavailable, keeping the last known keys: %s", error)
                self._failing = True
            if self._current is not None:  # retry after another window, not on every request
                self._current = KeySet(self._current.keys, self._clock())
            return
        if self._failing:
            log.warning("API key store reachable again")
            self._failing = False
        self._current = KeySet(keys, self._clock())
