import numpy as np
import pandas as pd
import pytest

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
    """Features of the last candle from a 300-candle serving window equal the training row."""
    candles = sample_candles("1h", n=3000).reset_index(drop=True)
    timeframe = TIMEFRAMES["1h"]
    training = compute_features(candles, timeframe)
    serving = compute_features(candles.iloc[-300:].reset_index(drop=True), timeframe)
    np.testing.assert_allclose(
        serving.iloc[-1].to_numpy(), training.iloc[-1].to_numpy(), rtol=1e-6, atol=1e-9
    )


@pytest.mark.parametrize("code", TIMEFRAME_CODES)
def test_no_duplicate_columns_and_warmup_only_nans(code):
    candles = sample_candles(code, n=300).reset_index(drop=True)
    features = compute_features(candles, TIMEFRAMES[code])
    assert list(features.columns) == feature_columns(TIMEFRAMES[code])
    assert features.iloc[: WARMUP_CANDLES - 1].isna().all().all()
    body = features.iloc[WARMUP_CANDLES:]
    assert not body.isna().any().any()
    corr = body.loc[:, body.std() > 0].corr().abs().to_numpy(copy=True)
    np.fill_diagonal(corr, 0)
    assert corr.max() < 0.995
