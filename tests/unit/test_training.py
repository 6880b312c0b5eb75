import numpy as np
import pandas as pd
import pytest

from candlecast.modeling import ForecastModel, LSTMLearner, compute_features
from candlecast.modeling.training import (
    build_panel,
    pairs,
    rank_ic,
    stored_context,
    train_timeframe,
    walk_forward_folds,
)
from candlecast.ohlcv import CandleStore
from candlecast.ohlcv.ingest import update_series
from candlecast.timeframes import TIMEFRAMES

from .sample_frames import PROVIDER

TICKERS = ["X:BTCUSDT", "X:ETHUSDT", "X:SOLUSDT"]
DAILY = TIMEFRAMES["1d"]


def _features(model: ForecastModel, store: CandleStore, candles: pd.DataFrame) -> pd.DataFrame:
    """The model's features of `candles`, with the benchmarks it was trained with (the store's)."""
    return compute_features(candles, DAILY, stored_context(store, model.market, DAILY))


@pytest.fixture(scope="module")
def daily_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    store = CandleStore(root)
    for ticker in TICKERS:
        update_series(store, PROVIDER, ticker, DAILY, PROVIDER.now(), root / "q")
    return store


@pytest.fixture(scope="module")
def trained(daily_store):
    return train_timeframe(daily_store, TICKERS, DAILY)


def test_walk_forward_folds_are_two_test_years_with_purged_windows(daily_store):
    panel = build_panel(daily_store, TICKERS, DAILY)
    folds = walk_forward_folds(panel)
    assert len(folds) == 2
    for fold in folds:
        assert np.timedelta64(300, "D") < fold.test_end - fold.test_start
        train_rows = np.flatnonzero(panel.timestamp < fold.validation_start)
        train = pairs(panel, train_rows, fold.validation_start)
        assert panel.target_end(train.row, train.horizon).max() < fold.validation_start
        assert set(np.unique(train.horizon)) == set(range(1, 31))
        validation_rows = np.flatnonzero(
            (panel.timestamp >= fold.validation_start) & (panel.timestamp < fold.test_start)
        )
        validation = pairs(panel, validation_rows, fold.test_start)
        assert len(validation)
        assert panel.target_end(validation.row, validation.horizon).max() < fold.test_start
    assert folds[0].test_end <= folds[1].test_start  # consecutive, oldest first


def test_the_panel_holds_float32_targets_and_no_per_target_end_times(daily_store):
    """What keeps 500 coins of 1h under 8 GB without the stride: one float32 copy of the
    features and the targets, and per row a few scalars (the candle index, not 30 end times)."""
    panel = build_panel(daily_store, TICKERS, DAILY)
    assert panel.features.dtype == np.float32 and panel.forward.dtype == np.float32
    assert panel.candle.dtype == np.int64 and panel.candle.shape == (len(panel),)
    arrays = {k: v for k, v in vars(panel).items() if isinstance(v, np.ndarray)}
    wide = {k for k, v in arrays.items() if v.ndim == 2}
    assert wide == {"features", "forward"}
    assert not any(np.issubdtype(v.dtype, np.datetime64) for v in arrays.values() if v.ndim == 2)
    per_row = sum(v.nbytes for v in arrays.values()) / len(panel)
    assert per_row <= 4 * (len(panel.columns) + 30) + 6 * 8
    # The end times the purge works on are still there, computed from the candle index: the
    # daily candle h days later, NaT where the series ends first.
    rows = np.arange(len(panel))
    ends = panel.target_end(rows)
    assert ends.dtype == np.dtype("datetime64[ms]")
    known = ~np.isnat(ends)
    np.testing.assert_array_equal(known, ~np.isnan(panel.forward))
    days = (ends - panel.timestamp[:, None]).astype("timedelta64[D]").astype(float)
    np.testing.assert_array_equal(days[known], np.broadcast_to(np.arange(1, 31), days.shape)[known])
    # The relative target is z less the mean z of every coin at the same candle.
    z = panel.z(rows)
    frame = pd.DataFrame(z)
    expected = (frame - frame.groupby(panel.timestamp).transform("mean")).to_numpy()
    np.testing.assert_allclose(panel.relative_z(rows), expected, rtol=1e-12, atol=1e-12)
    some = rows[::7]
    horizon = (some % 30 + 1).astype("int16")
    np.testing.assert_allclose(
        panel.relative_z(some, horizon), expected[some, horizon - 1], rtol=1e-12, atol=1e-12
    )


def test_a_limited_set_of_pairs_is_the_same_subset_as_of_every_pair(daily_store):
    """pairs() picks its subset without listing every pair first; the subset is the one the
    full list would give (the purge included)."""
    panel = build_panel(daily_store, TICKERS, DAILY)
    fold = walk_forward_folds(panel)[-1]
    rows = np.flatnonzero(panel.timestamp < fold.validation_start)
    every = pairs(panel, rows, fold.validation_start)
    ends = panel.target_end(every.row, every.horizon)
    assert ends.max() < fold.validation_start
    assert ends.max() >= fold.validation_start - np.timedelta64(1, "D")  # nothing more purged
    limit = len(every) // 3
    chosen = pairs(panel, rows, fold.validation_start, limit, seed=3)
    keep = np.sort(np.random.default_rng(3).choice(len(every), limit, replace=False))
    np.testing.assert_array_equal(chosen.row, every.row[keep])
    np.testing.assert_array_equal(chosen.horizon, every.horizon[keep])


def test_every_fold_is_measured_beside_the_baselines(trained):
    model, folds, _ = trained
    assert len(folds) == 2 and len(model.info["metrics"]["folds"]) == 2
    for result in folds:
        for group in ("h1", "h6", "h30", "all"):
            figures = result.metrics[group]
            assert figures["n"] > 0
            assert 0.3 < figures["direction_accuracy"] < 0.7
            low, high = figures["direction_accuracy_ci95"]
            assert low <= figures["direction_accuracy"] <= high
            assert set(figures["baselines"]) == {
                "random_walk",
                "drift",
                "momentum",
                "reversal",
                "majority",
            }
        assert len(result.metrics["by_horizon"]["horizon"]) == 30
    candidates = {"ensemble", *model.info["validation_ic_by_candidate"]}
    assert set(model.info["signal_by_horizon"]) <= candidates
    assert len(model.info["signal_by_horizon"]) == 30
    assert {"naive_ret_1", "naive_ret_6", "naive_ret_24", "xgboost"} <= candidates
    assert model.info["universe_size"] == 3 and len(model.info["universe_hash"]) == 16
    assert len(model.info["top_features"]) == 5


def test_trained_model_forecasts_a_consistent_path(trained, daily_store):
    model, _, _ = trained
    candles = daily_store.read("X:BTCUSDT", DAILY)
    path = model.forecast_path(candles, _features(model, daily_store, candles), 30)
    assert np.allclose(path["open"][1:], path["close"][:-1])
    assert path["open"][0] == candles["close"].iloc[-1]
    assert (path["high"] >= np.maximum(path["open"], path["close"])).all()
    assert (path["low"] <= np.minimum(path["open"], path["close"])).all()
    assert (path["low"] > 0).all()
    assert ((path["confidence"] > 0) & (path["confidence"] < 1)).all()
    assert (path["close_low_80"] <= path["close"]).all()
    assert (path["close"] <= path["close_high_80"]).all()


def test_every_learner_round_trips_through_save_and_load(trained, daily_store, tmp_path):
    model, folds, _ = trained
    all_three = ForecastModel(
        learners=folds[-1].learners,
        weights={"xgboost": 0.5, "random_forest": 0.3, "lstm": 0.2},
        timeframe=model.timeframe,
        feature_names=model.feature_names,
        feature_set_version=model.feature_set_version,
        calibration=model.calibration,
        market=model.market,
    )
    all_three.save(tmp_path)
    loaded = ForecastModel.load(tmp_path)
    candles = daily_store.read("X:ETHUSDT", DAILY)
    features = _features(all_three, daily_store, candles)
    np.testing.assert_allclose(
        loaded.forecast_path(candles, features, 30)["close"],
        all_three.forecast_path(candles, features, 30)["close"],
        rtol=1e-6,
    )


def test_numpy_lstm_matches_keras():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(300, 6)).astype("float32")
    rows = np.arange(20, 300)
    targets = rng.normal(size=(len(rows), 30))
    targets[::7, 10:] = np.nan  # purged targets are masked, not learned as zeros
    learner = LSTMLearner.fit(features, np.zeros(300, dtype="int64"), rows, targets, stride=1)
    sequences = learner.sequences(features, np.zeros(300, dtype="int64"), rows[:50])
    expected = np.asarray(learner.keras_model.predict(sequences, verbose=0))
    np.testing.assert_allclose(learner.forward(sequences), expected, atol=1e-4)


def test_rank_ic_reads_cross_sectional_ranking():
    stamps = np.repeat(np.arange(50), 5)
    actual = np.random.default_rng(2).normal(size=250)
    perfect = rank_ic(stamps, actual * 3, actual)
    assert perfect["rank_ic"] == pytest.approx(1.0) and perfect["ic_periods"] == 50
    inverted = rank_ic(stamps, -actual, actual)
    assert inverted["rank_ic"] == pytest.approx(-1.0)
    assert rank_ic(np.arange(10), actual[:10], actual[:10])["rank_ic"] is None  # 1 coin a time


def test_block_bootstrap_is_wider_than_the_naive_interval_on_clustered_data():
    from candlecast.modeling.training import block_bootstrap_ci

    rng = np.random.default_rng(3)
    stamps = np.repeat(np.arange(400), 25)  # 25 coins that move together at each time
    regime = np.repeat(rng.random(400) < 0.5, 25).astype(float)  # one shared outcome per time
    low, high = block_bootstrap_ci(stamps, regime, np.ones_like(regime))
    naive = 1.96 * np.sqrt(0.25 / len(regime))
    assert low < regime.mean() < high
    assert (high - low) / 2 > 3 * naive
    assert np.isnan(block_bootstrap_ci(stamps[:50], regime[:50], np.ones(50))[0])


def test_report_has_every_section_and_a_verdict(trained, daily_store, tmp_path):
    from candlecast.modeling.training import report_writer, run_paper_trading

    model, folds, panel = trained
    paper = run_paper_trading(daily_store, DAILY, model, panel, folds[-1])
    assert paper["rules"]["threshold"] == 0.6 and paper["long_only"] is True
    assert "buy_and_hold" in paper and paper["n_signals"] > 0
    path = tmp_path / "report.html"
    report_writer(daily_store, DAILY, model, folds, panel, paper)(path, "candlecast-1d:test")
    html = path.read_text()
    for heading in ("Calibration", "Paper trading", "Walk-forward test windows", "Notes"):
        assert heading in html
    assert "random walk" in html and html.count("<img") >= 4
    assert pd.Timestamp(model.info["test_start"]) < pd.Timestamp(model.info["data_end"])


def test_metrics_are_strict_json():
    import json

    from candlecast.modeling import json_safe

    cleaned = json_safe(
        {"a": float("nan"), "b": (1.0, float("inf")), "c": np.float64(0.5), "d": np.int64(3)}
    )
    assert json.loads(json.dumps(cleaned, allow_nan=False)) == {
        "a": None,
        "b": [1.0, None],
        "c": 0.5,
        "d": 3.0,
    }


def _every_learner(model, folds, lstm_stride: int) -> ForecastModel:
    learners = dict(folds[-1].learners)
    learners["lstm"] = LSTMLearner(learners["lstm"].weights, lstm_stride)
    return ForecastModel(
        learners=learners,
        weights={"xgboost": 0.5, "random_forest": 0.3, "lstm": 0.2},
        timeframe=model.timeframe,
        feature_names=model.feature_names,
        feature_set_version=model.feature_set_version,
        calibration=model.calibration,
        market=model.market,
    )


@pytest.mark.parametrize("lstm_stride", [1, 3])
@pytest.mark.parametrize("candle_count", [500, 60])  # the series starts before / inside the tail
def test_serving_reads_only_the_tail_and_forecasts_as_from_every_row(
    trained, daily_store, lstm_stride, candle_count
):
    model, folds, _ = trained
    served = _every_learner(model, folds, lstm_stride)
    candles = daily_store.read("X:ETHUSDT", DAILY).iloc[-candle_count:].reset_index(drop=True)
    features = _features(served, daily_store, candles)
    matrix = features[served.feature_names].to_numpy(dtype="float32")
    first = int(np.flatnonzero(~np.isnan(matrix).any(axis=1))[0])
    from_every_row = served.raw_z(
        matrix, np.full(len(matrix), first), np.full(30, len(matrix) - 1), np.arange(1, 31)
    )
    inputs = served.serving_inputs(features)
    assert len(inputs.matrix) == served.input_rows == 15 * lstm_stride + 1 < len(matrix)
    np.testing.assert_allclose(served.path_raw_z(inputs, 30), from_every_row, rtol=1e-6)


def test_xgboost_predicts_a_few_rows_in_place_as_through_a_dmatrix(trained, daily_store):
    model, folds, _ = trained
    booster = folds[-1].learners["xgboost"]
    features = _features(model, daily_store, daily_store.read("X:BTCUSDT", DAILY))
    matrix = features[model.feature_names].to_numpy(dtype="float32")
    rows = np.arange(len(matrix) - 300, len(matrix))
    horizon = (rows % 30) + 1
    many = booster.predict(matrix, None, rows, horizon)  # above INPLACE_ROWS: a DMatrix
    few = booster.predict(matrix, None, rows[-30:], horizon[-30:])
    np.testing.assert_allclose(few, many[-30:], rtol=1e-6)
