"""`candlecast sync-symbols && candlecast update` against a provider at POLYGON_BASE_URL
(the loopback fake), as separate processes: the store must equal the provider's candles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
    assert first["series"]["written"] == 25 and "quarantined" not in first["series"]
    # Real history has months and weeks that moved over 50 %: flagged, written all the same.
    assert all(" flagged: move_below_50pct" in p for p in first["problems"])
    assert Path(first["data_docs"]).exists()
    assert_store_equals_provider(cli.store)
    requests_before = len(cli.fake.requests("aggs"))
    second = cli("update", "--top", "500")
    assert (second["series"], second["problems"]) == ({"unchanged": 25}, [])
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
