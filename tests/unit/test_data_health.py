"""Data health over a store through the real workflow: stale series alert (once, to the log and
the webhook), gaps recorded with their length, spikes with why."""

import json

import pandas as pd

from candlecast.marketdata import SampleProvider
from candlecast.ohlcv import CandleStore
from candlecast.ohlcv.symbols import sync_symbols
from candlecast.ops import db
from candlecast.pipeline import run_data_health
from candlecast.settings import SAMPLE_DATA_DIR, Settings
from candlecast.timeframes import TIMEFRAMES
from tests.support.webhook import WebhookSink

SAMPLE = SampleProvider(SAMPLE_DATA_DIR)
HOUR = TIMEFRAMES["1h"]


def _settings(tmp_path, database_url, redis_url, now) -> Settings:
    return Settings(
        _env_file=None,
        candlecast_home=tmp_path,
        database_url=database_url,
        redis_url=redis_url,
        candlecast_provider="sample",
        candlecast_now=now.to_pydatetime(),
    )


def _fill(store: CandleStore, now: pd.Timestamp) -> dict:
    """Every sample pair's 1h series; BTC with a 7-hour hole, ETH with a print in its last day."""
    for pair in SAMPLE.pairs():
        ticker = f"X:{pair}"
        frame = SAMPLE.fetch_candles(ticker, HOUR, now - pd.Timedelta(days=20), now)
        if pair == "BTCUSDT":
            frame = frame.drop(index=frame.index[-100:-93])
        if pair == "ETHUSDT":
            spike = frame.index[-10]
            frame.loc[spike, ["close", "high"]] = frame.loc[spike, "close"] * 50
        store.write(ticker, HOUR, frame)
    return {
        "hole_before": SAMPLE.fetch_candles("X:BTCUSDT", HOUR, now - pd.Timedelta(days=20), now)[
            "timestamp"
        ].iloc[-93]
    }


def test_stale_series_alert_once_and_gaps_and_spikes_are_recorded(
    tmp_path, fresh_database_url, redis_url, monkeypatch
):
    end = SAMPLE.now()
    with WebhookSink() as sink:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CANDLECAST_SLACK", json.dumps({"conn_type": "http", "password": sink.url})
        )
        fresh = _settings(tmp_path, fresh_database_url, redis_url, end)
        with db.connect(fresh) as conn:
            sync_symbols(conn, SAMPLE)
        hole = _fill(CandleStore(fresh.store_dir), end)["hole_before"]
        ok = run_data_health(fresh, end)
        assert "1h" not in ok["alerts"]  # fresh 1h series: no stale alert for 1h
        later = _settings(tmp_path, fresh_database_url, redis_url, end + pd.Timedelta(days=2))
        stale = run_data_health(later, end + pd.Timedelta(days=2))
    assert "1h" in stale["alerts"] and "5 stale" in stale["1h"]
    # One alert per check (the store has no 4h/1d/1w/1M series: coverage alerts both times).
    assert [("thresholds crossed" in m["text"]) for m in sink.messages] == [True, True]
    assert "• 1h:" not in sink.messages[0]["text"] and "• 1h:" in sink.messages[1]["text"]
    assert "1h: coverage 5/5, 5 stale" in sink.messages[-1]["text"]
    with db.connect(later) as conn:
        rows = conn.execute(
            "SELECT checked_at, alert, gaps, spikes, notes FROM data_health WHERE timeframe = '1h' "
            "ORDER BY checked_at"
        ).fetchall()
    assert [r["alert"] for r in rows] == [False, True]
    assert rows[0]["gaps"]["X:BTCUSDT"] == [{"before": hole.isoformat(), "missing": 7}]
    assert rows[0]["spikes"] == ["X:ETHUSDT"]
    (note,) = rows[0]["notes"]["X:ETHUSDT"]
    assert "print that reverts" in note
