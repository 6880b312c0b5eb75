"""Live outcomes through the real workflow (`run_score_outcomes`, as the DAG runs it) on real
PostgreSQL, a synthetic hourly store and the loopback webhook: outcomes as the candles imply,
once; late candles scored when they arrive; rolling figures equal to a direct computation;
one drift alert per version per day; the report text, sent once."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from candlecast.monitoring.rolling import figures
from candlecast.ohlcv import CandleStore
from candlecast.ops import db
from candlecast.pipeline import run_report, run_score_outcomes
from candlecast.settings import Settings
from tests.support.served import (
    HOUR,
    START,
    add_model,
    add_symbol,
    candles,
    random_walk,
    serve,
    write_series,
)
from tests.support.webhook import WebhookSink

COINS = [f"X:C{i}USDT" for i in range(6)]
T0 = START + pd.Timedelta(hours=200)  # the forecasts' last candle
N_CANDLES = 480


def settings_at(tmp_path, database_url, redis_url, now, **extra) -> Settings:
    return Settings(
        _env_file=None,
        candlecast_home=tmp_path,
        database_url=database_url,
        redis_url=redis_url,
        candlecast_provider="sample",
        candlecast_now=now.to_pydatetime(),
        **extra,
    )


@pytest.fixture
def market(tmp_path, fresh_database_url, redis_url, monkeypatch):
    """Six coins' hourly random walks in the store, their symbols, and a webhook sink."""
    store = CandleStore(tmp_path / "store")
    series = {}
    for i, ticker in enumerate(COINS):
        series[ticker] = candles(START, random_walk(i, N_CANDLES))
        write_series(store, ticker, series[ticker])
    with WebhookSink() as sink:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CANDLECAST_SLACK", json.dumps({"conn_type": "http", "password": sink.url})
        )
        base = settings_at(tmp_path, fresh_database_url, redis_url, T0)
        with db.connect(base) as conn:
            symbols = {t: add_symbol(conn, t) for t in COINS}
        yield {
            "store": store,
            "series": series,
            "symbols": symbols,
            "sink": sink,
            "at": lambda now, **extra: settings_at(
                tmp_path, fresh_database_url, redis_url, now, **extra
            ),
        }


def actual_closes(market, ticker: str, after: pd.Timestamp, steps: int = 30) -> np.ndarray:
    frame = market["series"][ticker].set_index("timestamp")["close"]
    return np.array([frame[HOUR.next_open(after, k)] for k in range(1, steps + 1)])


def close_at(market, ticker: str, at: pd.Timestamp) -> float:
    return float(market["series"][ticker].set_index("timestamp")["close"][at])


def serve_honest(conn, market, model_id: int, at: pd.Timestamp, band=0.03) -> None:
    """A forecast per coin whose closes sit 1 % off the truth, on its side."""
    for ticker in COINS:
        last = close_at(market, ticker, at)
        truth = actual_closes(market, ticker, at)
        sides = np.where(truth >= last, "up", "down")
        serve(
            conn,
            model_id,
            market["symbols"][ticker],
            at,
            last,
            truth * 1.01,
            list(sides),
            band=band,
        )


def serve_backwards(conn, market, model_id: int, at: pd.Timestamp) -> None:
    """A deliberately bad model: every call on the wrong side, a narrow band around it."""
    for ticker in COINS:
        last = close_at(market, ticker, at)
        truth = actual_closes(market, ticker, at)
        wrong = last * (last / truth)  # the move mirrored
        sides = np.where(truth >= last, "down", "up")
        serve(conn, model_id, market["symbols"][ticker], at, last, wrong, list(sides), band=0.001)


def outcome_table(settings) -> pd.DataFrame:
    with db.connect(settings) as conn:
        rows = conn.execute(
            "SELECT o.*, s.ticker FROM prediction_outcomes o JOIN symbols s ON s.id = o.symbol_id "
            "ORDER BY o.prediction_id, o.step"
        ).fetchall()
    return pd.DataFrame(rows)


def test_outcomes_are_what_the_candles_imply_written_once_and_late_candles_scored_later(market):
    late = COINS[0]
    write_series(market["store"], late, market["series"][late].iloc[: 200 + 6])  # to T0 + 5 h
    with db.connect(market["at"](T0)) as conn:
        model = add_model(conn, "honest", {"direction_accuracy": 0.55})
        serve_honest(conn, market, model, T0)
    now = T0 + pd.Timedelta(hours=11)  # the target candles of steps 1-10 have closed
    first = run_score_outcomes(market["at"](now))
    assert (first["due"], first["scored"], first["waiting"]) == (60, 55, 5)

    outcomes = outcome_table(market["at"](now))
    assert len(outcomes) == 55 and set(outcomes["step"]) == set(range(1, 11))
    for row in outcomes.itertuples():
        actual = close_at(market, row.ticker, pd.Timestamp(row.target_at))
        assert row.actual_close == pytest.approx(actual) and row.source == "store"
        assert row.closed_at == row.target_at + pd.Timedelta(hours=1) <= now
        assert row.hit == ((row.direction == "up") == (actual > row.last_close))
        assert row.log_error == pytest.approx(np.log(row.predicted_close / actual))
        assert row.random_walk_error == pytest.approx(np.log(row.last_close / actual))
        assert row.inside_80  # 1 % off inside a 3 % band
    assert outcomes["hit"].all()  # the honest model called every side

    again = run_score_outcomes(market["at"](now))
    assert (again["scored"], again["waiting"], again["rolling_rows"]) == (0, 5, 0)
    assert outcome_table(market["at"](now)).equals(outcomes)  # scored_at included: untouched

    write_series(market["store"], late, market["series"][late])  # its candles arrive late
    later = run_score_outcomes(market["at"](now))
    assert (later["scored"], later["waiting"]) == (5, 0)
    rescored = outcome_table(market["at"](now))
    assert len(rescored) == 60
    kept = rescored.set_index(["prediction_id", "step"]).loc[
        outcomes.set_index(["prediction_id", "step"]).index
    ]
    assert (kept["scored_at"] == outcomes.set_index(["prediction_id", "step"])["scored_at"]).all()


def test_rolling_figures_agree_with_a_direct_computation(market):
    with db.connect(market["at"](T0)) as conn:
        model = add_model(conn, "honest", {"direction_accuracy": 0.55})
        for hours in (0, 6, 12):
            serve_honest(conn, market, model, T0 + pd.Timedelta(hours=hours))
    now = T0 + pd.Timedelta(hours=50)
    run_score_outcomes(market["at"](now))
    outcomes = outcome_table(market["at"](now))
    day = (now - pd.Timedelta(hours=1)).normalize()
    with db.connect(market["at"](now)) as conn:
        rows = conn.execute(
            "SELECT horizon, window_days, day, n, predictions, coins, figures "
            "FROM outcome_rolling WHERE window_days = 7 AND day = %s",
            (day.date(),),
        ).fetchall()
    by_horizon = {r["horizon"]: r for r in rows}
    assert set(by_horizon) == {"h1", "h6", "h30", "all"}
    in_window = outcomes[
        pd.to_datetime(outcomes["closed_at"], utc=True) < day + pd.Timedelta(days=1)
    ]
    whole = by_horizon["all"]
    assert whole["n"] == len(in_window) and whole["predictions"] == 18 and whole["coins"] == 6
    figures = whole["figures"]
    ratio = in_window["log_error"].abs().sum() / in_window["random_walk_error"].abs().sum()
    assert figures["mae_ratio_to_random_walk"] == pytest.approx(ratio)
    assert figures["direction_accuracy"] == 1.0 and figures["interval80_coverage"] == 1.0
    low, high = figures["mae_ratio_ci95"]
    assert low <= figures["mae_ratio_to_random_walk"] <= high
    assert figures["rank_ic"] == pytest.approx(1.0)  # 1 % off the truth keeps every rank
    assert figures["test"]["direction_accuracy"] == 0.55
    h1 = in_window[in_window["step"] == 1]
    assert by_horizon["h1"]["n"] == len(h1) == 18


def test_a_degraded_version_raises_one_drift_alert_a_day_and_its_ledger_stops(market):
    with db.connect(market["at"](T0)) as conn:
        bad = add_model(conn, "backwards", {"direction_accuracy": 0.53})
        good = add_model(conn, "honest", {"direction_accuracy": 0.53})
        for hours in (0, 6, 12):
            serve_backwards(conn, market, bad, T0 + pd.Timedelta(hours=hours))
            # 80 % of its bands hold the truth: calibrated, no drift.
            calibrated = [0.03] * 24 + [0.005] * 6
            serve_honest(conn, market, good, T0 + pd.Timedelta(hours=hours), band=calibrated)
    now = T0 + pd.Timedelta(hours=44)
    rules = {"candlecast_drift_min_outcomes": 100}
    first = run_score_outcomes(market["at"](now, **rules))
    assert [d["model"] for d in first["drift"]] == ["candlecast-1h:backwards"]
    run_score_outcomes(market["at"](now + pd.Timedelta(hours=1), **rules))  # the same day
    drift = [m["text"] for m in market["sink"].messages if "drift:" in m["text"]]
    assert len(drift) == 1
    (text,) = drift
    assert "candlecast-1h:backwards (1h challenger)" in text and "honest" not in text
    assert "direction accuracy 0.000" in text and "below 0.5 over 540 calls of 540 outcomes" in text
    assert "outside 70–90 %" in text and "significantly worse than the random walk" in text
    assert "below the test window's 0.530" in text
    paused = [m["text"] for m in market["sink"].messages if "paper trading paused" in m["text"]]
    assert (
        len(paused) == 1
        and "backwards" in paused[0]
        and "< 0.45 over 540 calls of 540 outcomes" in paused[0]
    )
    # The next day counts again.
    next_day = run_score_outcomes(market["at"](now + pd.Timedelta(days=1), **rules))
    assert next_day["drift"] and next_day["drift"][0]["alerted"] is True
    assert len([m for m in market["sink"].messages if "drift:" in m["text"]]) == 2


def test_a_step_without_skill_is_no_call_and_no_drift(market):
    """A step without skill is served at confidence 0.5 and says "up" only by convention: it is
    no call, so a falling market neither counts it as a miss nor calls the version drifting."""
    with db.connect(market["at"](T0)) as conn:
        flat = add_model(conn, "no-skill", {"direction_accuracy": 0.5})
        for hours in (0, 6, 12):
            at = T0 + pd.Timedelta(hours=hours)
            for ticker in COINS:
                last = close_at(market, ticker, at)
                serve(conn, flat, market["symbols"][ticker], at, last, [last] * 30, "up", 0.5)
    now = T0 + pd.Timedelta(hours=44)
    result = run_score_outcomes(market["at"](now, candlecast_drift_min_outcomes=100))
    outcomes = outcome_table(market["at"](now))
    assert len(outcomes) == 3 * len(COINS) * 30
    truth_moved = (outcomes["actual_close"] != outcomes["last_close"]).sum()
    assert truth_moved > 0.9 * len(
        outcomes
    )  # the price moved: only the missing side leaves hit out
    assert outcomes["hit"].isna().all()
    assert not any("direction" in json.dumps(d, default=str) for d in result["drift"])
    with db.connect(market["at"](now)) as conn:
        rows = conn.execute(
            "SELECT figures FROM outcome_rolling WHERE model_id = %s AND horizon = 'all'", (flat,)
        ).fetchall()
    assert rows and all(r["figures"].get("direction_accuracy") is None for r in rows)
    assert all(r["figures"]["mae_ratio_to_random_walk"] == pytest.approx(1.0) for r in rows)


def test_the_report_carries_the_figures_and_is_sent_once(market):
    with db.connect(market["at"](T0)) as conn:
        model = add_model(conn, "honest", {"direction_accuracy": 0.55})
        serve_honest(conn, market, model, T0)
    run_score_outcomes(market["at"](T0 + pd.Timedelta(hours=31)))
    now = T0 + pd.Timedelta(hours=24)  # the day after the forecasts: steps 1-23 closed in it
    settings = market["at"](now)
    first = run_report(settings, "daily", now, send=True)
    second = run_report(settings, "daily", now, send=True)
    text = first["report"]
    assert first["sent"] is True and second["sent"] is False
    assert [m["text"] for m in market["sink"].messages] == [text]
    assert "Forecasts served: 6 (1h 6)" in text and "closed in the period): 138" in text
    assert "1h candlecast-1h:honest: n=138 · direction 1.000" in text and "(test 0.550)" in text
    assert "h1 1.000" in text and "h6 1.000" in text and "h30" not in text
    assert "Best coins (direction accuracy)" in text and "Drift: none" in text
    png = Path(first["plot"]).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and Path(first["text"]).read_text() == text
    weekly = run_report(settings, "weekly", T0 + pd.Timedelta(hours=31))
    assert weekly["sent"] is False and "weekly report" in weekly["report"]
    assert "n=180" in weekly["report"] and "h30 1.000" in weekly["report"]


def test_live_figures_against_a_random_walk():
    last = 100.0
    predicted = np.array([110.0, 105.0, 95.0, 101.0])
    actual = np.array([108.0, 99.0, 90.0, 100.0])  # right, wrong, right, unmoved (no call)
    outcomes = pd.DataFrame(
        {
            "target_at": pd.date_range(START, periods=4, freq="h"),
            "step": [1, 2, 1, 2],
            "last_close": last,
            "predicted_close": predicted,
            "actual_close": actual,
            "hit": [True, False, True, None],
            "log_error": np.log(predicted / actual),
            "random_walk_error": np.log(last / actual),
            "inside_80": [True, False, True, False],
            "confidence": [0.6, 0.7, 0.55, 0.5],
        }
    )
    live = figures(outcomes)
    assert live["direction_accuracy"] == pytest.approx(2 / 3)
    assert live["interval80_coverage"] == pytest.approx(2 / 4)
    assert 0 < live["mae_ratio_to_random_walk"] < 1  # closer than "no change"
    assert live["direction_accuracy_ci95"] is None  # four target times say nothing
    assert live["ece"] == pytest.approx((abs(0.6 - 1) + abs(0.7 - 0) + abs(0.55 - 1)) / 3)


def test_a_coin_outside_the_store_is_scored_from_the_provider(market):
    """X:BTCUSDT has no series in this store: its realised closes come from the (sample)
    provider, its still-open candle left for later."""
    from candlecast.marketdata import SampleProvider
    from candlecast.settings import SAMPLE_DATA_DIR

    sample = SampleProvider(SAMPLE_DATA_DIR)
    at = pd.Timestamp("2025-06-02 10:00", tz="UTC")
    truth = sample.fetch_candles("X:BTCUSDT", HOUR, at, at + pd.Timedelta(hours=40))
    closes = truth.set_index("timestamp")["close"]
    last = float(sample.fetch_candles("X:BTCUSDT", HOUR, at, at + HOUR.offset)["close"].iloc[0])
    with db.connect(market["at"](at)) as conn:
        model = add_model(conn, "honest")
        symbol = add_symbol(conn, "X:BTCUSDT")
        serve(conn, model, symbol, at, last, [last] * 30, "up")
    now = at + pd.Timedelta(hours=5, minutes=30)  # steps 1-4 closed, step 5 still open
    result = run_score_outcomes(market["at"](now))
    assert (result["due"], result["scored"]) == (4, 4)
    outcomes = outcome_table(market["at"](now))
    assert set(outcomes["source"]) == {"provider"} and list(outcomes["step"]) == [1, 2, 3, 4]
    for row in outcomes.itertuples():
        assert row.actual_close == pytest.approx(closes[pd.Timestamp(row.target_at)])


def test_shadow_forecasts_are_scored_as_their_own_version_beside_the_champion(market):
    """The challenger's shadow of each served forecast: scored the same way under its own
    version, shown beside the champion by /accuracy and the report, never paper-traded."""
    from candlecast.api import AccuracyRequest, accuracy_from_tables

    with db.connect(market["at"](T0)) as conn:
        champion = add_model(conn, "champion", {"direction_accuracy": 0.55})
        challenger = add_model(conn, "challenger", {"direction_accuracy": 0.56})
        conn.execute("UPDATE models SET stage = 'champion' WHERE id = %s", (champion,))
        pairs = {}
        for ticker in COINS:
            last, truth = close_at(market, ticker, T0), actual_closes(market, ticker, T0)
            sides = np.where(truth >= last, "up", "down")
            wrong = np.where(sides == "up", "down", "up")  # the challenger calls every side wrong
            symbol = market["symbols"][ticker]
            served = serve(conn, champion, symbol, T0, last, truth * 1.01, list(sides), 0.7)
            pairs[served] = serve(
                conn, challenger, symbol, T0, last, last * (last / truth), list(wrong), 0.7,
                shadow_of=served,
            )  # fmt: skip
    now = T0 + pd.Timedelta(hours=11)  # steps 1-10 closed
    run = run_score_outcomes(market["at"](now))
    assert (run["due"], run["scored"]) == (120, 120)

    outcomes = outcome_table(market["at"](now))
    by_id = outcomes.groupby(outcomes["prediction_id"].astype(str))
    for served, shadow in pairs.items():
        mine, theirs = by_id.get_group(served), by_id.get_group(shadow)
        assert set(mine["model_id"]) == {champion} and set(theirs["model_id"]) == {challenger}
        assert list(mine["target_at"]) == list(theirs["target_at"])  # the same request's steps
        assert list(mine["actual_close"]) == list(theirs["actual_close"])
        assert mine["hit"].all() and not theirs["hit"].any()

    with db.connect(market["at"](now)) as conn:
        report = accuracy_from_tables(
            conn, AccuracyRequest(timeframe="1h", horizon="all"), now.to_pydatetime()
        )
        traded = {
            str(r["prediction_id"])
            for r in conn.execute("SELECT prediction_id FROM paper_signals").fetchall()
        }
    rows = {row.model: row for row in report.rows}
    assert set(rows) == {"candlecast-1h:champion", "candlecast-1h:challenger"}
    champion_row, challenger_row = rows["candlecast-1h:champion"], rows["candlecast-1h:challenger"]
    assert champion_row.day == challenger_row.day and champion_row.n == challenger_row.n == 60
    assert champion_row.direction_accuracy == 1.0 and challenger_row.direction_accuracy == 0.0
    assert champion_row.predictions == challenger_row.predictions == 6
    assert (champion_row.stage, challenger_row.stage) == ("champion", "challenger")
    assert champion_row.calls == challenger_row.calls == 60

    # Paper trading follows the served forecasts only: both called "up" at step 24 somewhere.
    assert traded and traded <= set(pairs) and not traded & set(pairs.values())

    text = run_report(market["at"](now), "daily", now)["report"]
    assert "Forecasts served: 6 (1h 6)" in text
    assert "Shadow forecasts (challengers on the same requests, not served): 6" in text
    assert "1h candlecast-1h:champion: n=60 · direction 1.000" in text
    assert "1h candlecast-1h:challenger: n=60 · direction 0.000" in text
