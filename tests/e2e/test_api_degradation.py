"""Degradation over real `bentoml serve`: a second Bento on its own Redis and PostgreSQL (both
started here, killed and restarted mid-test) and the Polygon wire contract on loopback (the fake
provider, made to fail). Single-flight is counted at the provider. The Bento has a home of its
own whose store holds only the series a test puts there: the others come from the provider."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import psycopg
import pytest
import redis
from psycopg.types.json import Jsonb

from candlecast.api import RETRY_AFTER_SECONDS
from candlecast.ohlcv import CandleStore
from candlecast.ops import REDIS_RETRY_PAUSE_SECONDS, db, embedded
from candlecast.serving import candles_key, frame_bytes, frame_from_bytes, mark_key
from candlecast.settings import SAMPLE_DATA_DIR, Settings
from candlecast.timeframes import TIMEFRAMES
from tests.support.bento_server import running_bento
from tests.support.fake_provider import FakeProvider, Fault

pytestmark = pytest.mark.e2e
API_KEY = "test-key"
NEW_LISTING_DAYS = 21
LOGS: dict[str, Path] = {}


class RedisServer:
    """The embedded redis-server in a folder of its own, killable and restartable."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.url = embedded.start_redis(folder)

    def start(self) -> None:
        assert embedded.start_redis(self.folder) == self.url

    def kill(self) -> None:
        assert embedded.stop_redis(self.folder, signal.SIGKILL)


def _copy_rows(source: psycopg.Connection, target: psycopg.Connection, table: str) -> None:
    rows = source.execute(f"SELECT * FROM {table}").fetchall()
    columns = list(rows[0])
    with target.transaction(), target.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
            [[Jsonb(v) if isinstance(v, dict) else v for v in row.values()] for row in rows],
        )
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}")


@pytest.fixture(scope="module")
def own_postgres(tmp_path_factory, settings, dag_runs):
    """A PostgreSQL server of our own with the session's symbols and models rows."""
    home = tmp_path_factory.mktemp("pg2")
    url = embedded.start_postgres(home)
    with db.connect(settings) as conn, db.connect(Settings(database_url=url)) as target:
        for table in ("symbols", "models"):
            _copy_rows(conn, target, table)
        target.execute(
            "INSERT INTO symbols (ticker, name, base, quote) "
            "VALUES ('X:NEWUSDT', 'New listing - Tether', 'NEW', 'USDT')"
        )
        target.commit()
    yield home, url
    embedded.stop_postgres(home)


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("r2"))
    yield server
    embedded.stop_redis(server.folder)


@pytest.fixture(scope="module")
def provider_data(tmp_path_factory) -> Path:
    """The sample, plus a pair listed three weeks ago: too little history for the features."""
    folder = tmp_path_factory.mktemp("provider")
    for timeframe_dir in SAMPLE_DATA_DIR.iterdir():
        if timeframe_dir.is_dir():
            (folder / timeframe_dir.name).mkdir()
            for file in timeframe_dir.glob("*.parquet"):
                (folder / timeframe_dir.name / file.name).symlink_to(file)
    days = pd.read_parquet(SAMPLE_DATA_DIR / "1d" / "BTCUSDT.parquet").iloc[-NEW_LISTING_DAYS:]
    days.to_parquet(folder / "1d" / "NEWUSDT.parquet")
    return folder


@pytest.fixture(scope="module")
def fake(provider_data):
    with FakeProvider(provider_data) as provider:
        provider.faults.api_key = API_KEY
        yield provider


STORE_BEHIND = 3  # days the seeded 1d series lags the provider


@pytest.fixture(scope="module")
def own_store(tmp_path_factory, settings, dag_runs) -> CandleStore:
    """The Bento's home: its store holds X:BTCUSDT 1d three days behind, X:ETHUSDT 1w whole."""
    home = tmp_path_factory.mktemp("home2")
    session, store = CandleStore(settings.store_dir), CandleStore(home / "store")
    day, week = TIMEFRAMES["1d"], TIMEFRAMES["1w"]
    store.write("X:BTCUSDT", day, session.read("X:BTCUSDT", day).iloc[:-STORE_BEHIND])
    store.write("X:ETHUSDT", week, session.read("X:ETHUSDT", week))
    return store


@pytest.fixture(scope="module")
def degraded_bento(
    stack_environment, dag_runs, own_postgres, own_redis, fake, own_store, tmp_path_factory
):
    env = {
        **stack_environment,
        "CANDLECAST_HOME": str(own_store.root.parent),
        "DATABASE_URL": own_postgres[1],
        "REDIS_URL": own_redis.url,
        "CANDLECAST_PROVIDER": "polygon",
        "POLYGON_API_KEY": API_KEY,
        "POLYGON_BASE_URL": fake.base_url,
        "POLYGON_BACKOFF_SECONDS": "0",
        "CANDLECAST_API_PROVIDER_MAX_RETRIES": "0",
        "CANDLECAST_NOW": "2025-09-19T23:00:00Z",
    }
    log_path = tmp_path_factory.mktemp("bento2") / "bento.log"
    with running_bento(env, log_path) as url:
        LOGS[url] = log_path
        yield url


def call(url: str, route: str, body: dict) -> httpx.Response:
    return httpx.post(f"{url}{route}", json=body, timeout=60)


def health(url: str) -> dict:
    return httpx.get(f"{url}/healthz", timeout=30).json()


def aggregate_calls(fake: FakeProvider, ticker: str, span: str) -> int:
    return len(fake.requests(f"/v2/aggs/ticker/{ticker}/range/{span}/"))


def test_concurrent_requests_for_one_series_make_one_provider_call(degraded_bento, fake):
    answers = []

    def one():
        answers.append(call(degraded_bento, "/candles", {"symbol": "X:BTCUSDT", "timeframe": "4h"}))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200] * 8
    assert aggregate_calls(fake, "X:BTCUSDT", "4/hour") == 1
    assert call(degraded_bento, "/predict", {"symbol": "X:BTCUSDT", "timeframe": "4h"}).json()[
        "persisted"
    ]
    assert aggregate_calls(fake, "X:BTCUSDT", "4/hour") == 1  # the forecast used the cache


def aggregate_starts(fake: FakeProvider, ticker: str, span: str) -> list[pd.Timestamp]:
    """The `from` of each aggregates request (Unix ms or a date)."""
    starts = []
    for _, path, _ in fake.requests(f"/v2/aggs/ticker/{ticker}/range/{span}/"):
        start = path.split("?")[0].split("/")[8]
        starts.append(
            pd.Timestamp(int(start), unit="ms", tz="UTC")
            if start.isdigit()
            else pd.Timestamp(start, tz="UTC")
        )
    return starts


def test_a_cold_series_in_the_store_asks_the_provider_only_for_newer_candles(
    degraded_bento, fake, own_store
):
    stored_last = own_store.read("X:BTCUSDT", TIMEFRAMES["1d"])["timestamp"].iloc[-1]
    body = call(degraded_bento, "/predict", {"symbol": "X:BTCUSDT", "timeframe": "1d"}).json()
    assert aggregate_starts(fake, "X:BTCUSDT", "1/day") == [stored_last + pd.Timedelta(days=1)]
    # the answer stands on the newest candles, the store's tail topped up by the provider's
    assert pd.Timestamp(body["last_candle_at"]) == stored_last + pd.Timedelta(days=STORE_BEHIND)
    assert body["stale"] is False and body["persisted"] is True
    candles = call(
        degraded_bento, "/candles", {"symbol": "X:BTCUSDT", "timeframe": "1d", "limit": 1000}
    ).json()["candles"]
    stamps = pd.to_datetime([c["timestamp"] for c in candles], utc=True)
    assert len(candles) == 1000 and stamps.is_monotonic_increasing and stamps.is_unique
    assert len(aggregate_starts(fake, "X:BTCUSDT", "1/day")) == 1  # now cached
    # a stored series already up to date asks the provider nothing at all (its market context,
    # BTC's weeks, comes through the same fresh-candle path as any series)
    asked_before = len(fake.requests("/v2/aggs/ticker/X:ETHUSDT/"))  # ETH's days: BTC's context
    week = call(degraded_bento, "/predict", {"symbol": "X:ETHUSDT", "timeframe": "1w"})
    assert week.status_code == 200 and week.json()["stale"] is False
    assert len(fake.requests("/v2/aggs/ticker/X:ETHUSDT/")) == asked_before


def test_too_little_history_is_a_422_naming_needed_and_have(degraded_bento, own_postgres):
    response = call(degraded_bento, "/predict", {"symbol": "X:NEWUSDT", "timeframe": "1d"})
    assert response.status_code == 422, response.text
    body = response.json()
    # the newest of the provider's days may still be open at the frozen now
    assert body["have"] in (NEW_LISTING_DAYS - 1, NEW_LISTING_DAYS)
    assert body["needed"] > body["have"] and body["field"] == "symbol"
    assert f"has {body['have']} closed 1d candles" in body["error"]
    assert str(body["needed"]) in body["error"]
    with psycopg.connect(own_postgres[1]) as check:
        stored = check.execute(
            "SELECT count(*) FROM predictions p JOIN symbols s ON s.id = p.symbol_id "
            "WHERE s.ticker = 'X:NEWUSDT'"
        ).fetchone()[0]
    assert stored == 0


def test_provider_down_serves_stale_forecasts_or_503(degraded_bento, fake, own_redis):
    fresh = call(degraded_bento, "/predict", {"symbol": "X:ETHUSDT", "timeframe": "1h"}).json()
    assert fresh["stale"] is False
    # Time passes: the cached copy falls three candles behind the provider's last close.
    cache = redis.Redis.from_url(own_redis.url)
    key = candles_key("X:ETHUSDT", "1h")
    frame, _ = frame_from_bytes(cache.get(key))
    cache.set(key, frame_bytes(frame.iloc[:-3], {"fetched_at": "2025-09-19T19:00:00+00:00"}))
    cache.delete(mark_key(key))  # the copy changed: no mark describes it (workers read it anew)
    fake.faults.script = [Fault("aggs", "status", times=1000, status=503)]
    try:
        stale = call(degraded_bento, "/predict", {"symbol": "X:ETHUSDT", "timeframe": "1h"})
        assert stale.status_code == 200, stale.text
        body = stale.json()
        behind = pd.Timestamp(fresh["last_candle_at"]) - pd.Timestamp(body["last_candle_at"])
        assert behind == pd.Timedelta(hours=3)
        assert body["stale"] is True
        assert body["data_age_seconds"] == pytest.approx(fresh["data_age_seconds"] + 3 * 3600)
        # a series with no cached copy (the universe's pass cached every coin's: drop XRP's)
        xrp = candles_key("X:XRPUSDT", "1h")
        cache.delete(xrp, mark_key(xrp))
        nothing = call(degraded_bento, "/predict", {"symbol": "X:XRPUSDT", "timeframe": "1h"})
        assert nothing.status_code == 503
        assert "market data unavailable" in nothing.json()["error"]
        assert nothing.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
        report = health(degraded_bento)
        assert report["provider"]["status"] == "down" and report["status"] == "degraded"
    finally:
        fake.faults.script = []
    recovered = call(degraded_bento, "/predict", {"symbol": "X:XRPUSDT", "timeframe": "1h"})
    assert recovered.status_code == 200 and recovered.json()["stale"] is False
    assert health(degraded_bento)["provider"]["status"] == "ok"


def test_redis_killed_mid_test_forecasts_continue_and_recover(degraded_bento, own_redis, fake):
    own_redis.kill()
    body = {"symbol": "X:SOLUSDT", "timeframe": "1d", "steps": 3}
    try:
        before = aggregate_calls(fake, "X:SOLUSDT", "1/day")
        answers = [call(degraded_bento, "/predict", body) for _ in range(2)]
        assert [a.status_code for a in answers] == [200, 200]
        # no cache: each answer asked the provider (a worker's universe pass, once per candle
        # while Redis is down, asks too)
        assert aggregate_calls(fake, "X:SOLUSDT", "1/day") - before >= 2
        report = health(degraded_bento)
        assert report["redis"]["status"] == "down" and report["status"] == "degraded"
    finally:
        own_redis.start()
    assert health(degraded_bento)["redis"]["status"] == "ok"
    # Each worker leaves Redis alone for a moment after its last failed call, then uses it.
    time.sleep(REDIS_RETRY_PAUSE_SECONDS + 0.2)
    assert call(degraded_bento, "/predict", body).status_code == 200
    assert redis.Redis.from_url(own_redis.url).exists(candles_key("X:SOLUSDT", "1d"))
    recovered = aggregate_calls(fake, "X:SOLUSDT", "1/day")
    assert [call(degraded_bento, "/predict", body).status_code for _ in range(4)] == [200] * 4
    assert aggregate_calls(fake, "X:SOLUSDT", "1/day") == recovered  # every worker reads the cache


def test_postgres_down_forecasts_unpersisted_and_recover(degraded_bento, own_postgres):
    home, url = own_postgres
    embedded.stop_postgres(home)
    try:
        down = call(degraded_bento, "/predict", {"symbol": "X:BNBUSDT", "timeframe": "1w"})
        assert down.status_code == 200, down.text
        assert down.json()["persisted"] is False
        unknown = call(degraded_bento, "/predict", {"symbol": "X:NOPEUSDT", "timeframe": "1w"})
        assert unknown.status_code == 404  # the provider has no candles for it
        read = call(
            degraded_bento, "/predictions/get", {"prediction_id": down.json()["prediction_id"]}
        )
        assert read.status_code == 503 and "database unavailable" in read.text
        assert read.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
        report = health(degraded_bento)
        assert report["postgres"]["status"] == "down" and report["status"] == "degraded"
        assert report["access"] == "unknown"
    finally:
        embedded.start_postgres(home)
    time.sleep(1.2)  # the pause after a failed connect
    up = call(degraded_bento, "/predict", {"symbol": "X:BNBUSDT", "timeframe": "1w"}).json()
    assert up["persisted"] is True and up["prediction_id"] != down.json()["prediction_id"]
    with psycopg.connect(url) as check:
        assert (
            check.execute(
                "SELECT count(*) FROM prediction_steps WHERE prediction_id = %s",
                (up["prediction_id"],),
            ).fetchone()[0]
            == 30
        )
    report = health(degraded_bento)
    assert report["status"] == "ok", report


def test_no_secret_in_logs_or_rows(degraded_bento, own_postgres):
    with psycopg.connect(own_postgres[1]) as check:
        dump = json.dumps(
            check.execute("SELECT row_to_json(p)::text FROM predictions p").fetchall()
        )
    assert API_KEY not in dump
    log = LOGS[degraded_bento].read_text()
    assert "provider failed" in log and API_KEY not in log
