"""The forward paper ledger on served forecasts through the real workflow (`run_score_outcomes`)
on real PostgreSQL: positions open and close by seed 002's rules (entry rule, stop, target,
time exit, fees, 5 slots, 1 per coin) and the emergency stops pause a ledger with one alert."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from candlecast.ohlcv import CandleStore
from candlecast.ops import db
from candlecast.pipeline import run_score_outcomes
from candlecast.settings import Settings
from tests.support.served import START, add_model, add_symbol, candles, serve, write_series
from tests.support.webhook import WebhookSink

T0 = START + pd.Timedelta(hours=100)
N = 200
FEE = 0.0026


def flat(n: int = N) -> np.ndarray:
    return 100 * (1 + 0.001 * (-1.0) ** np.arange(n))


def index_of(at: pd.Timestamp) -> int:
    return int((at - START) / pd.Timedelta(hours=1))


def path_with(moves: dict[int, float]) -> np.ndarray:
    """Flat at 100, then from each index on, at the given price."""
    closes = flat()
    for index, price in sorted(moves.items()):
        closes[index:] = price
    return closes


@pytest.fixture
def ledger(tmp_path, fresh_database_url, redis_url, monkeypatch):
    store = CandleStore(tmp_path / "store")
    with WebhookSink() as sink:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CANDLECAST_SLACK", json.dumps({"conn_type": "http", "password": sink.url})
        )

        def at(now):
            return Settings(
                _env_file=None,
                candlecast_home=tmp_path,
                database_url=fresh_database_url,
                redis_url=redis_url,
                candlecast_provider="sample",
                candlecast_now=now.to_pydatetime(),
                candlecast_drift_min_outcomes=100_000,  # the accuracy stop is tested elsewhere
            )

        yield {"store": store, "sink": sink, "at": at}


def signal(conn, model, symbol, series, at, confidence, direction="up", stale=False) -> str:
    last = float(series[index_of(at)])
    return serve(
        conn, model, symbol, at, last, [last] * 30, direction, confidence=confidence, stale=stale
    )


def positions(settings) -> dict[str, dict]:
    with db.connect(settings) as conn:
        rows = conn.execute(
            "SELECT s.ticker, q.* FROM paper_positions q JOIN symbols s ON s.id = q.symbol_id "
            "ORDER BY q.id"
        ).fetchall()
    return {f"{r['ticker']}@{r['entry_candle_at']:%H}": r for r in rows}


def decisions(settings) -> list[tuple[str, str]]:
    with db.connect(settings) as conn:
        rows = conn.execute(
            "SELECT s.ticker, g.decision FROM paper_signals g JOIN predictions p "
            "ON p.id = g.prediction_id JOIN symbols s ON s.id = p.symbol_id "
            "ORDER BY p.last_candle_at, p.confidence DESC"
        ).fetchall()
    return [(r["ticker"].removeprefix("X:").removesuffix("USDT"), r["decision"]) for r in rows]


def test_positions_open_and_close_by_the_rules(ledger):
    paths = {
        "STOP": path_with({index_of(T0) + 3: 94.0}),
        "TARGET": path_with({index_of(T0) + 2: 111.0}),
        "TIME": flat(),
        "F1": flat(),
        "F2": flat(),
        "F3": flat(),
    }
    for name, closes in paths.items():
        write_series(ledger["store"], f"X:{name}USDT", candles(START, closes))
    with db.connect(ledger["at"](T0)) as conn:
        model = add_model(conn, "paper")
        ids = {name: add_symbol(conn, f"X:{name}USDT") for name in paths}
        for name, confidence in zip(paths, (0.9, 0.85, 0.8, 0.75, 0.7, 0.65), strict=True):
            signal(conn, model, ids[name], paths[name], T0, confidence)
        signal(conn, model, ids["STOP"], paths["STOP"], T0, 0.61)  # the same coin again
        signal(conn, model, ids["F1"], paths["F1"], T0, 0.59)  # below the entry threshold
        signal(conn, model, ids["F2"], paths["F2"], T0, 0.9, direction="down")  # spot: long only
        signal(conn, model, ids["F3"], paths["F3"], T0, 0.9, stale=True)  # not on fresh candles
        later = T0 + pd.Timedelta(hours=3)  # target and stop hit by now: two slots free
        signal(conn, model, ids["F3"], paths["F3"], later, 0.7)

    run_score_outcomes(ledger["at"](T0 + pd.Timedelta(hours=30)))
    settings = ledger["at"](T0 + pd.Timedelta(hours=30))
    assert decisions(settings) == [
        ("STOP", "opened"), ("TARGET", "opened"), ("TIME", "opened"), ("F1", "opened"),
        ("F2", "opened"), ("F3", "slots_full"), ("STOP", "coin_held"), ("F3", "opened"),
    ]  # fmt: skip
    held = positions(settings)
    assert len(held) == 6 and all(p["status"] == "closed" for p in held.values())
    entry = float(paths["STOP"][index_of(T0)])

    stop = held["X:STOPUSDT@04"]  # T0 is 04:00 UTC
    assert stop["exit_reason"] == "stop_loss" and stop["candles_held"] == 3
    assert stop["exit_price"] == pytest.approx(entry * 0.95)
    assert stop["fees"] == pytest.approx(100 * FEE + 95 * FEE)
    assert stop["pnl"] == pytest.approx(95 - 100 - (100 + 95) * FEE)

    target = held["X:TARGETUSDT@04"]
    assert target["exit_reason"] == "take_profit" and target["candles_held"] == 2
    assert target["pnl"] == pytest.approx(110 - 100 - (100 + 110) * FEE)

    time_exit = held["X:TIMEUSDT@04"]
    exit_close = float(paths["TIME"][index_of(T0) + 24])
    assert time_exit["exit_reason"] == "time" and time_exit["candles_held"] == 24
    assert time_exit["exit_candle_at"] == T0 + pd.Timedelta(hours=24)
    value = 100 * exit_close / entry
    assert time_exit["pnl"] == pytest.approx(value - 100 - (100 + value) * FEE)
    assert held["X:F3USDT@07"]["exit_candle_at"] == T0 + pd.Timedelta(hours=27)

    # A second run over the same candles changes nothing.
    run_score_outcomes(settings)
    assert positions(settings) == held and len(decisions(settings)) == 8
    # Fees make the four flat time exits losers: with the stop, five in a row (once alerted).
    (paused,) = [m["text"] for m in ledger["sink"].messages if "paper" in m["text"]]
    assert "candlecast-1h:paper" in paused and "5 losing trades in a row" in paused


def test_emergency_stops_pause_a_ledger_with_one_alert(ledger):
    losers = {f"L{i}": path_with({index_of(T0) + 5 * i + 2: 94.0}) for i in range(5)}
    gappers = {f"G{i}": path_with({index_of(T0) + 2: 80.0}) for i in range(3)}
    for name, closes in {**losers, **gappers}.items():
        frame = candles(START, closes)
        if name.startswith("G"):  # the price gaps: the candle opens where the last one closed
            gap = index_of(T0) + 2
            frame.loc[gap, "open"] = 80.0
            frame.loc[gap, "high"] = 80.0 * 1.002
        write_series(ledger["store"], f"X:{name}USDT", frame)
    with db.connect(ledger["at"](T0)) as conn:
        streak = add_model(conn, "streak")
        gapped = add_model(conn, "gapped")
        ids = {name: add_symbol(conn, f"X:{name}USDT") for name in {**losers, **gappers}}
        for i, (name, closes) in enumerate(losers.items()):
            signal(conn, streak, ids[name], closes, T0 + pd.Timedelta(hours=5 * i), 0.8)
        for name, closes in gappers.items():
            signal(conn, gapped, ids[name], closes, T0, 0.8)
        after = T0 + pd.Timedelta(hours=30)
        signal(conn, streak, ids["L0"], losers["L0"], after, 0.8)
        signal(conn, gapped, ids["G0"], gappers["G0"], T0 + pd.Timedelta(hours=5), 0.8)

    now = T0 + pd.Timedelta(hours=40)
    run_score_outcomes(ledger["at"](now))
    run_score_outcomes(ledger["at"](now + pd.Timedelta(hours=1)))
    settings = ledger["at"](now)
    made = decisions(settings)
    assert ("G0", "paused") in made and made[-1] == ("L0", "paused")
    assert [d for n, d in made if n.startswith("L")] == ["opened"] * 5 + ["paused"]
    held = positions(settings)
    assert [p["exit_reason"] for k, p in held.items() if k.startswith("X:L")] == ["stop_loss"] * 5
    gap = held["X:G0USDT@04"]  # the candle opened below the stop: filled at its open
    assert gap["exit_price"] == pytest.approx(80.0) and gap["pnl"] < -20
    alerts = sorted(m["text"] for m in ledger["sink"].messages if "paused" in m["text"])
    assert len(alerts) == 2
    assert "candlecast-1h:gapped" in alerts[0] and "exceeds 10% of the $500 capital" in alerts[0]
    assert "candlecast-1h:streak" in alerts[1] and "5 losing trades in a row" in alerts[1]
