import numpy as np
import pandas as pd
import pytest

from candlecast.modeling import WARMUP_CANDLES, compute_features, feature_columns
from candlecast.serving import SERVING_CANDLES
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


def _plain_pandas_columns(candles: pd.DataFrame) -> pd.DataFrame:
    """A few columns restated with plain pandas rolling windows, independently of features.py."""
    o, h, lo, c, v = (candles[k] for k in ("open", "high", "low", "close", "volume"))
    r1 = np.log(c).diff()
    previous_close = c.shift(1)
    true_range = pd.concat(
        [h - lo, (h - previous_close).abs(), (lo - previous_close).abs()], axis=1
    )
    true_range = true_range.max(axis=1).where(previous_close.notna())
    up_moves = (h - lo.shift(1)).abs().rolling(14).sum()
    down_moves = (lo - h.shift(1)).abs().rolling(14).sum()
    drawdown = c / c.rolling(14).max() - 1
    share = c / c.rolling(10).sum()
    return pd.DataFrame(
        {
            "vol_24": r1.rolling(24).std(),
            "skew_24": r1.rolling(24).skew(),
            "autocorr_10": r1.rolling(10).corr(r1.shift(1)),
            "up_share_10": (r1 > 0).astype(float).rolling(10).mean(),
            "obv_flow_10": (np.sign(c.diff()) * v).rolling(10).sum() / v.rolling(10).sum(),
            "efficiency_10": c.diff(10).abs() / c.diff().abs().rolling(10).sum(),
            "psl_12": (c > o).astype(float).rolling(12).mean(),
            "vortex_diff_14": (up_moves - down_moves) / true_range.rolling(14).sum(),
            "ulcer_14": np.sqrt((drawdown**2).rolling(14).mean()),
            "entropy_10": (-share * np.log2(share)).rolling(10).sum(),
            "cg_10": 5.5 - c.rolling(10).apply(lambda w: np.dot(np.arange(1, 11), w) / w.sum()),
        }
    )


@pytest.mark.parametrize("code", ["1h", "1d"])
def test_columns_match_a_plain_pandas_recomputation(code):
    candles = sample_candles(code, n=400).reset_index(drop=True)
    expected = _plain_pandas_columns(candles).iloc[WARMUP_CANDLES:]
    features = compute_features(candles, TIMEFRAMES[code])[expected.columns].iloc[WARMUP_CANDLES:]
    assert features.isna().equals(expected.isna())
    deviation = (features - expected).abs().max() / expected.abs().max()
    assert (deviation <= 1e-9).all(), deviation[~(deviation <= 1e-9)]
