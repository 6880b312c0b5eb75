"""API keys on real PostgreSQL: created once in plaintext, stored hashed, verified, revoked."""

from __future__ import annotations

import logging

import psycopg
import pytest

from candlecast.api import KeyRing, KeyStoreUnavailable
from candlecast.api import keys as access
from candlecast.ops import db
from tests.support.clock import ManualClock


@pytest.fixture
def keys_conn(settings):
    """A connection whose keys are deleted afterwards: other modules share this database."""
    with db.connect(settings) as connection:
        connection.autocommit = True
        before = {r["id"] for r in connection.execute("SELECT id FROM api_keys").fetchall()}
        yield connection
        connection.execute("DELETE FROM api_keys WHERE NOT (id = ANY(%s))", (sorted(before),))


def test_only_the_hash_is_stored(keys_conn):
    key, plaintext = access.create_key(keys_conn, "mobile app", rate_per_minute=60, burst=5)
    assert plaintext.startswith(f"cc_{key.prefix}_") and len(plaintext) == 59
    row = keys_conn.execute("SELECT * FROM api_keys WHERE id = %s", (key.id,)).fetchone()
    assert row["key_hash"] == access.hash_key(plaintext)
    assert plaintext not in str(row) and plaintext.rsplit("_", 1)[1] not in str(row)
    assert (row["name"], row["rate_per_minute"], row["burst"]) == ("mobile app", 60, 5)
    listed = [k for k in access.list_keys(keys_conn) if k["prefix"] == key.prefix]
    assert len(listed) == 1 and "key_hash" not in listed[0]


def test_keys_are_distinct_random_tokens(keys_conn):
    made = [access.create_key(keys_conn, f"k{i}", 60, 5) for i in range(5)]
    assert len({plaintext for _, plaintext in made}) == 5
    assert len({key.prefix for key, _ in made}) == 5


def test_verify_then_revoke(keys_conn):
    key, plaintext = access.create_key(keys_conn, "web", 120, 10)
    keys = access.KeySet(access.active_keys(keys_conn))
    assert not keys.open_access
    assert keys.verify(plaintext) == key
    assert keys.verify(plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")) is None
    assert keys.verify(f"cc_{key.prefix}_short") is None
    assert keys.verify("") is None
    assert access.revoke_key(keys_conn, key.prefix)
    first = keys_conn.execute(
        "SELECT revoked_at FROM api_keys WHERE id = %s", (key.id,)
    ).fetchone()["revoked_at"]
    assert access.revoke_key(keys_conn, plaintext)  # the whole key names it too
    again = keys_conn.execute(
        "SELECT revoked_at FROM api_keys WHERE id = %s", (key.id,)
    ).fetchone()["revoked_at"]
    assert first is not None and again == first
    assert access.KeySet(access.active_keys(keys_conn)).verify(plaintext) is None
    assert not access.revoke_key(keys_conn, "000000000000")


@pytest.mark.parametrize(
    ("name", "rate", "burst"), [("", 60, 5), ("x" * 101, 60, 5), ("ok", 0, 5), ("ok", 60, 0)]
)
def test_bad_key_parameters_are_refused(keys_conn, name, rate, burst):
    with pytest.raises(ValueError):
        access.create_key(keys_conn, name, rate, burst)


def test_keyring_reloads_after_its_window_and_records_use(settings, keys_conn):
    clock = ManualClock()
    ring = KeyRing.from_settings(
        settings.model_copy(update={"candlecast_api_key_cache_seconds": 0.3}), clock
    )
    assert ring.get().open_access or all(k.name != "ring" for k in ring.get().keys.values())
    key, plaintext = access.create_key(keys_conn, "ring", 60, 5)
    clock.advance(0.35)
    found = ring.get().verify(plaintext)
    assert found == key
    ring.record_use(found)
    access.revoke_key(keys_conn, key.prefix)
    clock.advance(0.29)
    assert ring.get().verify(plaintext) == key  # still within the window
    clock.advance(0.02)
    assert ring.get().verify(plaintext) is None
    last_used = keys_conn.execute(
        "SELECT last_used_at FROM api_keys WHERE id = %s", (key.id,)
    ).fetchone()["last_used_at"]
    assert last_used is not None


def test_keyring_keeps_the_last_keys_when_the_database_fails(caplog):
    key = access.ApiKey(1, "k", "0123456789ab", 60, 5)
    answers: list = [{"h": key}]

    def exchange(used):
        answer = answers.pop(0) if answers else psycopg.OperationalError("connection refused")
        if isinstance(answer, Exception):
            raise answer
        return answer

    clock = ManualClock()
    ring = KeyRing(exchange, ttl_seconds=0.01, clock=clock)
    assert ring.get().keys == {"h": key}
    clock.advance(0.02)
    with caplog.at_level(logging.ERROR, logger="candlecast.api.keys"):
        for _ in range(3):
            assert ring.get().keys == {"h": key}
            clock.advance(0.02)
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1


def test_keyring_without_any_copy_says_why():
    def exchange(used):
        raise psycopg.OperationalError("connection refused")

    ring = KeyRing(exchange, ttl_seconds=5)
    with pytest.raises(KeyStoreUnavailable, match="PostgreSQL"):
        ring.get()


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def _inner_app(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"forecast"})


def _call(settings, *requests: tuple[str, dict]) -> list:
    import asyncio

    import httpx

    from candlecast.api import AccessMiddleware

    app = AccessMiddleware(_inner_app, settings)

    async def send_all():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bento") as client:
            return [await client.post(path, headers=headers) for path, headers in requests]

    return asyncio.run(send_all())


def test_middleware_without_any_key_copy_answers_503_naming_the_key_store(settings):
    dead = settings.model_copy(
        update={"database_url": f"postgresql://127.0.0.1:{_closed_port()}/none"}
    )
    refused, probe = _call(dead, ("/predict", {}), ("/livez", {}))
    assert refused.status_code == 503 and "key store (PostgreSQL)" in refused.json()["error"]
    assert probe.status_code == 200


def test_middleware_lets_keys_through_unlimited_when_redis_is_down(settings, keys_conn):
    _, plaintext = access.create_key(keys_conn, "redis down", rate_per_minute=1, burst=1)
    dead = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{_closed_port()}/0"})
    answers = _call(dead, *[("/predict", {"X-API-Key": plaintext})] * 3, ("/predict", {}))
    assert [a.status_code for a in answers] == [200, 200, 200, 401]


def _closed(settings):
    return settings.model_copy(update={"candlecast_require_api_key": True})


def test_closed_without_any_key_refuses_every_operation_but_probes_and_docs(settings, keys_conn):
    assert keys_conn.execute("SELECT count(*) AS n FROM api_keys").fetchone()["n"] == 0
    paths = ["/predict", "/healthz", "/metrics", "/models", "/livez", "/readyz", "/", "/docs.json"]
    answers = dict(zip(paths, _call(_closed(settings), *[(p, {}) for p in paths]), strict=True))
    for path in ("/predict", "/healthz", "/metrics", "/models"):
        assert answers[path].status_code == 401, path
        assert "candlecast keys create --name" in answers[path].json()["error"], path
    assert {answers[p].status_code for p in ("/livez", "/readyz", "/", "/docs.json")} == {200}


def test_closed_needs_no_key_store_to_refuse_an_anonymous_call(settings):
    dead = _closed(settings).model_copy(
        update={"database_url": f"postgresql://127.0.0.1:{_closed_port()}/none"}
    )
    (refused,) = _call(dead, ("/predict", {}))
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")


def test_closed_lets_a_valid_key_in_and_refuses_an_unknown_one(settings, keys_conn):
    _, plaintext = access.create_key(keys_conn, "closed", rate_per_minute=600, burst=10)
    unknown = plaintext[:-4] + ("AAAA" if not plaintext.endswith("AAAA") else "BBBB")
    valid, invalid = _call(
        _closed(settings),
        ("/healthz", {"X-API-Key": plaintext}),
        ("/predict", {"X-API-Key": unknown}),
    )
    assert valid.status_code == 200
    assert invalid.status_code == 401 and invalid.json()["error"].startswith(
        "invalid or revoked API key"
    )
    assert unknown not in invalid.text


def test_open_mode_keeps_monitoring_public_with_a_key(settings, keys_conn):
    access.create_key(keys_conn, "keys mode", rate_per_minute=600, burst=10)
    health, metrics, predict = _call(settings, ("/healthz", {}), ("/metrics", {}), ("/predict", {}))
    assert (health.status_code, metrics.status_code, predict.status_code) == (200, 200, 401)
    assert "candlecast keys create" not in predict.json()["error"]
