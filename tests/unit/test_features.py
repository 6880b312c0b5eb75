import numpy as np
import pandas as pd
import pytest

from candlecast.candles import SERVING_CANDLES
from candlecast.features import WARMUP_CANDLES, compute_features, feature_columns
from candlecast.timeframes import TIMEFRAME_CODES, TIMEFRAMES

from .sample_frames import sample_candles


@pytest.mark.parametrize("code", ["1h", "1d"])
def test_no_lookahead_appending_future_candles_changes_no_past_row(code):
    candles = sample_candles(code, n=400).reset_index(drop=True)
    past = compute_features(candles.iloc[:300], TIMEFRAMES[code])
    full = compute_features(candles, TIMEFRAMES[code])
    pd.testing.assert_frame_equal(full.iloc[:300], past)


def test_features_are_scale_free():
    candles = sample_candles("4h", n=300).reset_index(drop=True)
    scaled = candles.copy()
    for column in ("open", "high", "low", "close", "vwap"):
        scaled[column] = scaled[column] * 1e-7  # a $0.00001 coin moving exactly like BTC
    scaled["volume"] = scaled["volume"] * 1e9
    timeframe = TIMEFRAMES["4h"]
    original = compute_features(candles, timeframe).iloc[WARMUP_CANDLES:]
    rescaled = compute_features(scaled, timeframe).iloc[WARMUP_CANDLES:]
    np.testing.assert_allclose(rescaled.to_numpy(), original.to_numpy(), rtol=1e-6, atol=1e-9)


def test_serving_window_matches_training_rows():
    """Features of the last candle from the serving window equal the training row."""
    candles = sample_candles("1h", n=3000).reset_index(drop=True)
    timeframe = TIMEFRAMES["1h"]
    training = compute_features(candles, timeframe)
    serving = compute_features(candles.iloc[-SERVING_CANDLES:].reset_index(drop=True), timeframe)
    np.testing.assert_allclose(
        serving.iloc[-1].to_numpy(), training.iloc[-1].to_numpy(), rtol=1e-6, atol=1e-9
    )


@pytest.mark.parametrize("code", TIMEFRAME_CODES)
def test_warmup_only_nans_and_150_plus_features(code):
    candles = sample_candles(code, n=300).reset_index(drop=True)
    features = compute_features(candles, TIMEFRAMES[code])
    assert list(features.columns) == feature_columns(TIMEFRAMES[code])
    assert len(features.columns) >= 150
    assert features.iloc[: WARMUP_CANDLES - 1].isna().all().all()
    assert not features.iloc[WARMUP_CANDLES:].isna().any().any()


@pytest.mark.parametrize(("code", "n"), [("1h", 5000), ("4h", 3000), ("1d", 1800), ("1w", 260)])
def test_no_two_features_are_identical_or_near_identical(code, n):
    body = compute_features(sample_candles(code, n=n).reset_index(drop=True), TIMEFRAMES[code])
    body = body.iloc[WARMUP_CANDLES:]
    body = body.loc[:, body.std() > 0]  # candle patterns that never fired here
    corr = body.corr().abs().to_numpy(copy=True)
    np.fill_diagonal(corr, 0)
    worst = np.unravel_index(np.nanargmax(corr), corr.shape)
    assert corr[worst] < 0.99, (body.columns[worst[0]], body.columns[worst[1]], corr[worst])
