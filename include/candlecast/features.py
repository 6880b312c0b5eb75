"""Scale-free features, one function for training and serving (their single shared import).

Every column is a return, a ratio or a normalised indicator, so one model serves BTC and a
$0.0001 coin alike. Row t uses candles up to and including t only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import talib

from candlecast.timeframes import Timeframe

FEATURE_SET_VERSION = "v1"
WARMUP_CANDLES = 40  # longest lookback (MACD 26 + 9 signal) with margin
VOLATILITY_COLUMN = "vol_24"  # scale of the targets: trailing std of one-candle log returns
RETURN_LAGS = (1, 2, 3, 6, 12, 24)
_EPS = 1e-12


def feature_columns(timeframe: Timeframe) -> list[str]:
    columns = [f"ret_{k}" for k in RETURN_LAGS]
    columns += [
        "vol_10",
        "vol_24",
        "vol_ratio",
        "rsi_14",
        "macd_hist",
        "atr_14",
        "bb_pctb",
        "bb_width",
        "range_1",
        "upper_wick",
        "lower_wick",
        "close_sma_20",
        "volume_ratio",
    ]
    if timeframe.code in ("1h", "4h"):
        columns += ["hour_sin", "hour_cos"]
    if timeframe.code in ("1h", "4h", "1d"):
        columns += ["dow_sin", "dow_cos"]
    return columns


def compute_features(candles: pd.DataFrame, timeframe: Timeframe) -> pd.DataFrame:
    """Feature frame aligned with `candles` (sorted, clean); warm-up rows hold NaN."""
    close = candles["close"].to_numpy(dtype="float64")
    high = candles["high"].to_numpy(dtype="float64")
    low = candles["low"].to_numpy(dtype="float64")
    open_ = candles["open"].to_numpy(dtype="float64")
    volume = candles["volume"].to_numpy(dtype="float64")
    log_close = np.log(close)
    out: dict[str, np.ndarray] = {}
    for k in RETURN_LAGS:
        lagged = np.full_like(log_close, np.nan)
        lagged[k:] = log_close[k:] - log_close[:-k]
        out[f"ret_{k}"] = lagged
    ret_1 = pd.Series(out["ret_1"])
    out["vol_10"] = ret_1.rolling(10).std().to_numpy()
    out["vol_24"] = ret_1.rolling(24).std().to_numpy()
    out["vol_ratio"] = out["vol_10"] / (out["vol_24"] + _EPS)
    out["rsi_14"] = talib.RSI(close, timeperiod=14) / 100.0 - 0.5
    _, _, macd_hist = talib.MACD(close, fastperiod=12, slowperiod=26, signalperiod=9)
    out["macd_hist"] = macd_hist / close
    out["atr_14"] = talib.ATR(high, low, close, timeperiod=14) / close
    upper, middle, lower = talib.BBANDS(close, timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
    out["bb_pctb"] = (close - lower) / (upper - lower + _EPS * close)
    out["bb_width"] = (upper - lower) / middle
    out["range_1"] = np.log(high / low)
    out["upper_wick"] = np.log(high / np.maximum(open_, close))
    out["lower_wick"] = np.log(np.minimum(open_, close) / low)
    out["close_sma_20"] = np.log(close / talib.SMA(close, timeperiod=20))
    mean_volume = pd.Series(volume).rolling(20).mean().to_numpy()
    out["volume_ratio"] = np.log((volume + _EPS) / (mean_volume + _EPS))
    stamps = pd.DatetimeIndex(candles["timestamp"])
    hour = stamps.hour.to_numpy()
    dow = stamps.dayofweek.to_numpy()
    out["hour_sin"], out["hour_cos"] = np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24)
    out["dow_sin"], out["dow_cos"] = np.sin(2 * np.pi * dow / 7), np.cos(2 * np.pi * dow / 7)
    frame = pd.DataFrame({c: out[c] for c in feature_columns(timeframe)}, index=candles.index)
    frame.iloc[: WARMUP_CANDLES - 1] = np.nan
    return frame
