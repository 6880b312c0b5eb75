import numpy as np
import pytest

from candlecast.features import compute_features
from candlecast.ingest import update_series
from candlecast.modeling.dataset import build_table
from candlecast.modeling.training import purged_splits, train_timeframe
from candlecast.store import CandleStore
from candlecast.timeframes import TIMEFRAMES

from .sample_frames import PROVIDER

TICKERS = ["X:BTCUSDT", "X:ETHUSDT", "X:SOLUSDT"]


@pytest.fixture(scope="module")
def daily_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    store = CandleStore(root)
    for ticker in TICKERS:
        update_series(store, PROVIDER, ticker, TIMEFRAMES["1d"], PROVIDER.now(), root / "q")
    return store


def test_purged_split_has_no_overlapping_target_windows(daily_store):
    splits = purged_splits(build_table(daily_store, TICKERS, TIMEFRAMES["1d"]))
    assert len(splits.train) and len(splits.calibration) and len(splits.test)
    assert splits.train.target_open.max() < splits.calibration.timestamp.min()
    assert splits.calibration.target_open.max() < splits.test.timestamp.min()
    assert set(np.unique(splits.train.horizon)) == set(range(1, 31))


def test_trained_model_forecasts_a_consistent_path(daily_store):
    model = train_timeframe(daily_store, TICKERS, TIMEFRAMES["1d"])
    metrics = model.info["metrics"]["test"]
    for group in ("h1", "h6", "h30", "all"):
        assert metrics[group]["n"] > 0
        assert 0.3 < metrics[group]["direction_accuracy"] < 0.7
        assert metrics[group]["mae_random_walk"] > 0
        assert set(metrics[group]["baselines"]) == {
            "always_up_accuracy",
            "momentum_accuracy",
            "reversal_accuracy",
        }
    candles = daily_store.read("X:BTCUSDT", TIMEFRAMES["1d"])
    path = model.forecast_path(candles, compute_features(candles, TIMEFRAMES["1d"]), 30)
    assert np.allclose(path["open"][1:], path["close"][:-1])
    assert path["open"][0] == candles["close"].iloc[-1]
    assert (path["high"] >= np.maximum(path["open"], path["close"])).all()
    assert (path["low"] <= np.minimum(path["open"], path["close"])).all() and (
        path["low"] > 0
    ).all()
    assert ((path["confidence"] > 0) & (path["confidence"] < 1)).all()
    assert (path["close_low_80"] <= path["close"]).all() and (
        path["close"] <= path["close_high_80"]
    ).all()


def test_saved_model_round_trips(daily_store, tmp_path):
    from candlecast.modeling.predictor import ForecastModel

    model = train_timeframe(daily_store, TICKERS, TIMEFRAMES["1d"])
    model.save(tmp_path)
    loaded = ForecastModel.load(tmp_path)
    candles = daily_store.read("X:ETHUSDT", TIMEFRAMES["1d"])
    features = compute_features(candles, TIMEFRAMES["1d"])
    np.testing.assert_allclose(
        loaded.forecast_path(candles, features, 30)["close"],
        model.forecast_path(candles, features, 30)["close"],
    )


def test_block_bootstrap_is_wider_than_the_naive_interval_on_clustered_data():
    from candlecast.modeling.evaluation import block_bootstrap_ci

    rng = np.random.default_rng(3)
    stamps = np.repeat(np.arange(400), 25)  # 25 coins that move together at each time
    regime = np.repeat(rng.random(400) < 0.5, 25).astype(float)  # one shared outcome per time
    low, high = block_bootstrap_ci(stamps, regime, np.ones_like(regime))
    naive = 1.96 * np.sqrt(0.25 / len(regime))
    assert low < regime.mean() < high
    assert (high - low) / 2 > 3 * naive
    assert np.isnan(block_bootstrap_ci(stamps[:50], regime[:50], np.ones(50))[0])


def test_metrics_are_strict_json():
    import json

    from candlecast.registry import json_safe

    cleaned = json_safe(
        {"a": float("nan"), "b": (1.0, float("inf")), "c": np.float64(0.5), "d": np.int64(3)}
    )
    assert json.loads(json.dumps(cleaned, allow_nan=False)) == {
        "a": None,
        "b": [1.0, None],
        "c": 0.5,
        "d": 3.0,
    }
