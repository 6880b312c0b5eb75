"""Real candles → validated Parquet → five models in the BentoML store → a served forecast."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest
import redis

from candlecast.ohlcv import CandleStore
from candlecast.serving import candles_key
from candlecast.timeframes import TIMEFRAME_CODES, TIMEFRAMES
from tests.e2e.conftest import CANARY_API_KEY

pytestmark = pytest.mark.e2e
SAMPLE_TICKERS = {"X:BTCUSDT", "X:ETHUSDT", "X:BNBUSDT", "X:SOLUSDT", "X:XRPUSDT"}


def post(url: str, body) -> httpx.Response:
    content = body if isinstance(body, str) else json.dumps(body)
    return httpx.post(
        f"{url}/predict", content=content, headers={"Content-Type": "application/json"}, timeout=60
    )


def test_symbol_sync_ranks_the_sample_universe(dag_runs, conn):
    rows = conn.execute(
        "SELECT ticker, active, volume_rank, usd_volume_24h FROM symbols ORDER BY volume_rank"
    ).fetchall()
    assert {r["ticker"] for r in rows} == SAMPLE_TICKERS
    assert [r["volume_rank"] for r in rows] == [1, 2, 3, 4, 5]
    volumes = [r["usd_volume_24h"] for r in rows]
    assert volumes == sorted(volumes, reverse=True) and volumes[-1] > 0


def test_ohlcv_update_wrote_every_series_validated(dag_runs, settings):
    store = CandleStore(settings.store_dir)
    for code in TIMEFRAME_CODES:
        timeframe = TIMEFRAMES[code]
        assert set(store.tickers(timeframe)) == SAMPLE_TICKERS
        frame = store.read("X:BTCUSDT", timeframe)
        assert frame["timestamp"].is_unique and frame["timestamp"].is_monotonic_increasing
        assert (frame["high"] >= frame[["open", "close"]].max(axis=1)).all()
    assert "'written': 25" in dag_runs["ohlcv_update"]
    assert not (settings.home / "quarantine").exists()


def test_train_models_stored_five_versions(dag_runs, conn, stack_environment):
    rows = conn.execute(
        "SELECT name, version, timeframe, metrics, baseline_metrics, universe_size, "
        "universe_hash, report_path FROM models"
    ).fetchall()
    assert sorted(r["timeframe"] for r in rows) == sorted(TIMEFRAME_CODES)
    for row in rows:
        test_window = row["metrics"]["test"]
        assert test_window["all"]["n"] > 0 and "mae_ratio_to_random_walk" in test_window["all"]
        assert len(row["metrics"]["folds"]) >= 1
        assert set(row["baseline_metrics"]["all"]) >= {"random_walk", "momentum", "majority"}
        assert row["universe_size"] == len(SAMPLE_TICKERS) and len(row["universe_hash"]) == 16
        report = Path(row["report_path"])
        assert report.is_file() and f"{row['name']}:{row['version']}" in report.read_text()
        for section in ("Calibration", "Paper trading", "Walk-forward test windows"):
            assert section in report.read_text()
    listing = subprocess.run(
        [str(Path(sys.executable).parent / "bentoml"), "models", "list", "-o", "json"],
        env=stack_environment,
        capture_output=True,
        text=True,
        check=True,
    )
    tags = {m["tag"] for m in json.loads(listing.stdout)}
    expected = {f"{r['name']}:{r['version']}" for r in rows}
    assert expected <= tags
    assert {t.split(":")[0] for t in tags} >= {
        "candlecast-1h",
        "candlecast-4h",
        "candlecast-1d",
        "candlecast-1w",
        "candlecast-1mo",
    }


@pytest.mark.parametrize("code", TIMEFRAME_CODES)
def test_predict_each_timeframe(bento_url, conn, settings, code):
    response = post(bento_url, {"symbol": "X:BTCUSDT", "timeframe": code})
    assert response.status_code == 200, response.text
    body = response.json()
    timeframe = TIMEFRAMES[code]
    steps = body["steps"]
    assert len(steps) == 30 and body["timeframe"] == code
    assert body["model"].startswith(f"candlecast-{timeframe.slug}:")
    previous = pd.Timestamp(body["last_candle_at"])
    previous_close = body["last_close"]
    for number, step in enumerate(steps, start=1):
        stamp = pd.Timestamp(step["timestamp"])
        assert step["step"] == number
        assert stamp == timeframe.next_open(previous)
        assert step["high"] >= max(step["open"], step["close"])
        assert (
            max(step["open"], step["close"]) >= min(step["open"], step["close"]) >= step["low"] > 0
        )
        assert step["open"] == pytest.approx(previous_close)
        assert step["close_low_80"] <= step["close"] <= step["close_high_80"]
        assert 0 < step["confidence"] < 1
        previous, previous_close = stamp, step["close"]
    stored = conn.execute(
        "SELECT p.steps, p.timeframe, s.ticker, m.name || ':' || m.version AS tag "
        "FROM predictions p JOIN symbols s ON s.id = p.symbol_id JOIN models m ON m.id = p.model_id "
        "WHERE p.id = %s",
        (body["prediction_id"],),
    ).fetchone()
    assert stored == {"steps": 30, "timeframe": code, "ticker": "X:BTCUSDT", "tag": body["model"]}
    stored_steps = conn.execute(
        "SELECT step, close, confidence FROM prediction_steps WHERE prediction_id = %s ORDER BY step",
        (body["prediction_id"],),
    ).fetchall()
    assert [s["step"] for s in stored_steps] == list(range(1, 31))
    assert [s["close"] for s in stored_steps] == pytest.approx([s["close"] for s in steps])
    cache = redis.Redis.from_url(settings.redis_url)
    assert cache.exists(candles_key("X:BTCUSDT", code))


def test_fewer_steps_and_lowercase_symbol(bento_url):
    response = post(bento_url, {"symbol": "ethusdt", "timeframe": "1mo", "steps": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["symbol"] == "X:ETHUSDT" and body["timeframe"] == "1M" and len(body["steps"]) == 5


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"symbol": "X:DOGEUSDT", "timeframe": "1d"}, 404, "X:DOGEUSDT"),
        ({"symbol": "X:BTCUSDT", "timeframe": "1m"}, 400, "'1m' is ambiguous"),
        ({"symbol": "X:BTCUSDT", "timeframe": "2h"}, 400, "unknown timeframe '2h'"),
        ({"symbol": "X:BTCUSDT", "timeframe": "1d", "steps": 0}, 400, "steps"),
        ({"symbol": "X:BTCUSDT", "timeframe": "1d", "steps": 31}, 400, "steps"),
        ({"symbol": "X:BTCUSDT", "timeframe": "1d", "steps": "many"}, 400, "steps"),
        ({"timeframe": "1d"}, 400, "symbol"),
        ({"symbol": "X:BTCUSDT"}, 400, "timeframe"),
        ({"symbol": "BTC/USDT; drop", "timeframe": "1d"}, 400, "symbol"),
        ({"symbol": "X:" + "A" * 500, "timeframe": "1d"}, 400, "symbol"),
        ("{not json", 400, "json"),
    ],
)
def test_bad_input_is_a_clear_4xx(bento_url, body, status, needle):
    response = post(bento_url, body)
    assert response.status_code == status, response.text
    assert needle.lower() in response.text.lower()


def test_bad_requests_store_nothing(bento_url, conn):
    before = conn.execute("SELECT count(*) AS n FROM predictions").fetchone()["n"]
    post(bento_url, {"symbol": "X:DOGEUSDT", "timeframe": "1d"})
    post(bento_url, {"symbol": "X:BTCUSDT", "timeframe": "1m"})
    after = conn.execute("SELECT count(*) AS n FROM predictions").fetchone()["n"]
    assert after == before


def test_no_secret_reaches_model_metadata(dag_runs, conn):
    """The DAG runs had a provider key set (CANARY_API_KEY): it is in no model's metadata and
    in none of the runs' output."""
    key = CANARY_API_KEY
    assert key and dag_runs
    rows = conn.execute("SELECT metrics::text AS m FROM models").fetchall()
    assert rows
    for row in rows:
        assert "apiKey" not in row["m"] and key not in row["m"]
    assert [dag_id for dag_id, output in dag_runs.items() if key in output] == []
