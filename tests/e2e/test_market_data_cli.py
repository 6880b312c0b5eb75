"""`candlecast sync-symbols && candlecast update` against a provider at POLYGON_BASE_URL
(the loopback fake), as separate processes: the store must equal the provider's candles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from candlecast.marketdata import SampleProvider
from candlecast.ohlcv import CandleStore
from candlecast.settings import SAMPLE_DATA_DIR
from candlecast.timeframes import TIMEFRAME_CODES, TIMEFRAMES
from tests.support.fake_provider import FakeProvider, Fault

pytestmark = pytest.mark.e2e
SAMPLE = SampleProvider(SAMPLE_DATA_DIR)
CANDLECAST = str(Path(sys.executable).parent / "candlecast")


@pytest.fixture
def cli(tmp_path, database_url, redis_url):
    fake = FakeProvider(SAMPLE_DATA_DIR).__enter__()
    env = {
        **os.environ,
        "CANDLECAST_HOME": str(tmp_path / "home"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "POLYGON_API_KEY": fake.faults.api_key,
        "POLYGON_BASE_URL": fake.base_url,
        "POLYGON_BACKOFF_SECONDS": "0.05",
        "CANDLECAST_NOW": SAMPLE.now().isoformat(),
    }

    def run(*args: str) -> dict:
        result = subprocess.run(
            [CANDLECAST, *args], env=env, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, result.stderr[-4000:]
        return json.loads(result.stdout)

    run.fake = fake
    run.env = env
    run.store = CandleStore(tmp_path / "home" / "store")
    yield run
    fake.__exit__(None, None, None)


def assert_store_equals_provider(store: CandleStore) -> None:
    now = SAMPLE.now()
    for code in TIMEFRAME_CODES:
        timeframe = TIMEFRAMES[code]
        for ticker in ("X:BTCUSDT", "X:ETHUSDT", "X:BNBUSDT", "X:SOLUSDT", "X:XRPUSDT"):
            got = store.read(ticker, timeframe)
            want = SAMPLE.fetch_candles(ticker, timeframe, timeframe.retention_start(now), now)
            want = want[timeframe.close_times(want["timestamp"]) <= now].reset_index(drop=True)
            columns = ["timestamp", "open", "high", "low", "close"]
            pd.testing.assert_frame_equal(got[columns], want[columns], check_exact=True)
            assert got["volume"].to_numpy() == pytest.approx(want["volume"].to_numpy(), rel=1e-12)


def test_sync_then_update_mirrors_the_provider_and_survives_faults(cli):
    synced = cli("sync-symbols")
    assert synced["upserted"] == 5
    cli.fake.faults.script = [
        Fault("aggs", "html", times=3, status=504),
        Fault("aggs", "status", times=3, status=429),
        Fault("aggs", "drop", times=2),
    ]
    first = cli("update", "--top", "500")
    assert first["series"]["written"] == 25 and "series_with_held" not in first["series"]
    # Five years of real history, months and weeks that moved far: moves, not defects.
    assert first["problems"] == [] and first["series"]["new_series"] == 25
    assert first["alert"].endswith("0 critical, 0 warning")  # the first load's one summary
    assert Path(first["data_docs"]).exists()
    assert_store_equals_provider(cli.store)
    requests_before = len(cli.fake.requests("aggs"))
    second = cli("update", "--top", "500")
    assert (second["series"], second["problems"], second["alert"]) == ({"unchanged": 25}, [], None)
    assert len(cli.fake.requests("aggs")) - requests_before == 25  # one small request a series


def test_a_rejected_key_stops_with_a_message(cli):
    cli.fake.faults.api_key = "another-key"
    result = subprocess.run(
        [CANDLECAST, "sync-symbols"],
        capture_output=True,
        text=True,
        # the fixture's PostgreSQL and Redis: no embedded server is started and left behind
        env={**cli.env, "POLYGON_API_KEY": "bad"},
    )
    assert result.returncode != 0
    assert "POLYGON_API_KEY" in result.stderr and "bad" not in result.stderr.replace("badly", "")


def test_a_window_of_429s_is_outlasted_within_the_rate_limit(cli):
    """A rate-limit window of 429s during sync (no Retry-After, as the real API) and during
    update (Retry-After: 10): both exit cleanly, nothing is written while the window lasts,
    every series is whole afterwards, and no plan window (15 s here) ever saw more than the
    plan's requests."""
    cli.env["POLYGON_REQUESTS_PER_MINUTE"] = "20"
    cli.env["POLYGON_RATE_WINDOW_SECONDS"] = "15"
    cli.fake.storm(10)
    synced = cli("sync-symbols")
    assert synced["upserted"] == 5 and synced["ranking"] == "updated"
    storm = cli.fake.storm_answers()
    # retried through the window: 429s from its start, then answered once it closed
    assert storm
    assert any(t >= cli.fake.faults.storm_until and s == 200 for t, _, s in cli.fake.requests())
    cli.fake.storm(10, retry_after=10)
    pairs = ("X:BTCUSDT", "X:SOLUSDT")
    process = subprocess.Popen(
        [CANDLECAST, "update", "--symbols", *pairs],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    written_during_storm = set()
    while process.poll() is None:
        if cli.fake.in_storm():
            written_during_storm |= {p.name for p in cli.store.root.rglob("*.parquet")}
        time.sleep(0.5)
    out, err = process.communicate()
    assert process.returncode == 0, err[-4000:]
    assert written_during_storm == set()
    assert json.loads(out)["series"]["written"] == 10
    now = SAMPLE.now()
    for code in TIMEFRAME_CODES:
        timeframe = TIMEFRAMES[code]
        for ticker in pairs:
            want = SAMPLE.fetch_candles(ticker, timeframe, timeframe.retention_start(now), now)
            want = want[timeframe.close_times(want["timestamp"]) <= now]
            assert list(cli.store.read(ticker, timeframe)["timestamp"]) == list(want["timestamp"])
    assert len(cli.fake.storm_answers()) > len(storm)
    assert cli.fake.max_in_window(15.0) <= 20
