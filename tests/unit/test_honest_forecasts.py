"""The defects of issue 12, each pinned down, and the outputs' honesty rules: the panel counts
horizons by the calendar and keeps the same candles for every coin, the LSTM sees the same
candles in training and serving, horizons without evidence say so, and a served side is never
below 0.5."""

from __future__ import annotations

import numpy as np
import pandas as pd

from candlecast.modeling import Calibration, ForecastModel, LSTMLearner, sides
from candlecast.modeling.training import build_panel, dataset
from candlecast.modeling.training.calibration import (
    NORMAL_80,
    fit_calibration,
    horizon_evidence,
    no_evidence,
)
from candlecast.ohlcv import CandleStore
from candlecast.serving import feature_window
from candlecast.timeframes import MAX_STEPS, TIMEFRAMES

from .sample_frames import sample_candles

HOUR = TIMEFRAMES["1h"]


def _with_vwap(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(vwap=(frame["high"] + frame["low"] + frame["close"]) / 3, trades=np.nan)


def test_lstm_windows_cover_the_same_candles_in_training_and_serving():
    candles = 300
    every_candle = (np.arange(candles, dtype="float32") / 1000.0)[:, None]  # feature = candle no.
    stride = 3
    panel_rows = every_candle[::stride]  # the panel keeps every stride-th candle
    learner = LSTMLearner({"mean": np.zeros(1, "float32"), "scale": np.ones(1, "float32")}, stride)
    row = 90  # panel row 90 is candle 270
    training = learner.sequences(panel_rows, np.zeros(len(panel_rows), "int64"), np.array([row]), 3)
    serving = learner.sequences(
        every_candle, np.zeros(candles, "int64"), np.array([row * stride]), spacing=1
    )
    np.testing.assert_array_equal(training, serving)
    assert np.allclose(np.diff(serving[0, :, 0]) * 1000, stride)  # 3 candles apart, both sides


def test_the_stride_keeps_the_same_hours_of_day_for_every_coin(tmp_path, monkeypatch):
    store = CandleStore(tmp_path)
    btc = _with_vwap(sample_candles("1h", "X:BTCUSDT", 400))
    eth = _with_vwap(sample_candles("1h", "X:ETHUSDT", 400)).iloc[1:]  # starts an hour later
    store.write("X:BTCUSDT", HOUR, btc)
    store.write("X:ETHUSDT", HOUR, eth)
    monkeypatch.setattr(dataset, "ROW_BUDGET", 300)  # 799 rows: every 3rd candle is kept
    panel = build_panel(store, ["X:BTCUSDT", "X:ETHUSDT"], HOUR)
    assert panel.stride == 3
    for ticker in ("X:BTCUSDT", "X:ETHUSDT"):
        kept = panel.timestamp[panel.ticker == ticker]
        assert set(HOUR.candle_index(kept) % 3) == {0}, ticker
    hours = {
        t: set(pd.DatetimeIndex(panel.timestamp[panel.ticker == t]).hour) for t in set(panel.ticker)
    }
    assert hours["X:BTCUSDT"] == hours["X:ETHUSDT"]


def test_500_coins_at_full_retention_keep_every_candle_of_every_timeframe():
    """The stride is for universes far larger than the 500 coins the project trains on."""
    for timeframe in TIMEFRAMES.values():
        assert 500 * timeframe.retention_candles <= dataset.ROW_BUDGET, timeframe.code


def test_a_horizon_counts_candles_by_the_calendar_across_a_gap(tmp_path):
    store = CandleStore(tmp_path)
    candles = _with_vwap(sample_candles("1h", "X:BTCUSDT", 300))
    gap = candles.index[200:205]  # five hours missing, as in an exchange outage
    store.write("X:BTCUSDT", HOUR, candles.drop(index=gap).reset_index(drop=True))
    panel = build_panel(store, ["X:BTCUSDT"], HOUR)
    before = candles["timestamp"].iloc[199].to_datetime64().astype("datetime64[ms]")
    row = int(np.flatnonzero(panel.timestamp == before)[0])
    assert np.isnan(panel.forward[row, :5]).all()  # h = 1..5 land inside the gap: no target
    assert not np.isnan(panel.forward[row, 5])  # h = 6 is the first candle after it
    every_row = np.arange(len(panel))
    hours = (
        (panel.target_end(every_row) - panel.timestamp[:, None])
        .astype("timedelta64[h]")
        .astype(float)
    )
    known = ~np.isnan(panel.forward)
    np.testing.assert_array_equal(
        hours[known], np.broadcast_to(np.arange(1, 31), hours.shape)[known]
    )


def _planted(n_stamps=400, coins=40, horizons=(1, 2), strength=0.3, seed=5):
    rng = np.random.default_rng(seed)
    stamps = np.repeat(np.arange(n_stamps), coins).astype("datetime64[h]")
    rows = []
    for h in horizons:
        raw = rng.normal(size=n_stamps * coins)
        z = strength * raw + rng.normal(size=len(raw))
        rows.append((np.full(len(raw), h), raw, z, stamps))
    horizon, raw, z, t = (np.concatenate(parts) for parts in zip(*rows, strict=True))
    last = rng.normal(size=len(z)) * 0.01
    return z, horizon, z * 0.01, raw, t, last


def test_horizons_without_validation_evidence_serve_the_random_walk_at_one_half():
    z, horizon, log_return, raw, stamps, last = _planted(horizons=(1, 2))
    calibration = fit_calibration(z, horizon, log_return, raw, stamps, last, 1.0, np.zeros(30))
    assert calibration.skill[:2] == [True, True]
    assert not any(calibration.skill[2:])  # no pairs beyond h2, as 1M has in five years
    assert calibration.slope[2:] == [0.0] * (MAX_STEPS - 2)
    assert calibration.residual_q10[5] == -NORMAL_80 and calibration.residual_q90[5] == NORMAL_80
    p = calibration.probability_up(np.array([2.0, 2.0, -2.0]), np.array([1, 3, 30]))
    assert p[0] > 0.6 and p[1] == 0.5 and p[2] == 0.5
    table = calibration.skill_table()
    assert [row["skill"] for row in table[:3]] == ["validated", "validated", "none"]
    assert table[0]["rank_ic_low"] > 0 and table[2]["n"] == 0


def test_no_signal_no_skill_and_the_served_side_is_never_below_one_half():
    z, horizon, log_return, raw, stamps, last = _planted(horizons=range(1, 31), strength=0.0)
    calibration = fit_calibration(z, horizon, log_return, raw, stamps, last, 1.0, np.zeros(30))
    assert not any(calibration.skill)
    direction, confidence = sides(calibration.probability_up(raw, horizon))
    assert (confidence == 0.5).all() and set(direction) == {"up"}
    direction, confidence = sides(np.array([0.2, 0.5, 0.51, 0.93]))
    assert direction.tolist() == ["down", "up", "up", "up"]
    assert confidence.tolist() == [0.8, 0.5, 0.51, 0.93]


def test_a_horizon_needs_an_ic_interval_above_zero_and_to_beat_every_naive_rule():
    z, horizon, log_return, raw, stamps, last = _planted(horizons=(1,), strength=0.3)
    planted = horizon_evidence(stamps, log_return, raw, last, 1.0, 0.0)
    assert planted["skill"] and planted["rank_ic_ci99"][0] > 0
    assert planted["direction_accuracy"] > planted["best_naive_accuracy"]
    # The same predictions against a rule that knows the outcome's sign: the rule wins.
    knowing = horizon_evidence(stamps, log_return, raw, -log_return, 1.0, 0.0)
    assert knowing["best_naive_rule"] == "reversal" and not knowing["skill"]


def test_a_model_trained_before_skill_was_recorded_loads_as_without_skill():
    old = {
        "strength_x": [0.0, 1.0],
        "probability_y": [0.48, 0.6],
        "residual_q10": [-1.0] * 30,
        "residual_q90": [1.1] * 30,
        "shrink": [0.7] * 30,
    }
    calibration = Calibration.from_dict(old)
    assert not any(calibration.skill) and calibration.slope == [0.0] * 30
    assert (calibration.probability_up(np.ones(30), np.arange(1, 31)) == 0.5).all()


def test_a_path_without_skill_is_the_random_walk_with_ohlc_shaped_around_it():
    model = ForecastModel({}, {}, "1h", [], "v2", no_evidence())
    candles = sample_candles("1h", "X:BTCUSDT", 60)
    path = model.path_from_raw(np.linspace(-1, 1, 30), 0.01, candles)
    last = candles["close"].iloc[-1]
    np.testing.assert_allclose(path["close"], last)
    assert (path["confidence"] == 0.5).all() and not path["skill"].any()
    assert (path["high"] >= np.maximum(path["open"], path["close"])).all()
    assert (path["low"] <= np.minimum(path["open"], path["close"])).all()
    assert (path["close_low_80"] < last).all() and (path["close_high_80"] > last).all()


def test_monthly_features_are_served_over_no_more_history_than_training_keeps():
    assert feature_window(TIMEFRAMES["1M"]) == TIMEFRAMES["1M"].retention_candles == 61
    assert feature_window(TIMEFRAMES["1w"]) == 261
    assert feature_window(TIMEFRAMES["1h"]) == 500
