"""The coin's own feature families, each adding its columns to `out` (arrays in, arrays out):
returns, trend (distance to moving averages), momentum, volatility, volume, candle shape, TA-Lib
candle patterns, pandas-ta's indicators restated on arrays, and the calendar. Windows stay
within WARMUP_CANDLES."""

from __future__ import annotations

import numpy as np
import talib
from numpy.lib.stride_tricks import sliding_window_view

from candlecast.modeling.features.helpers import (
    EPS,
    Moments,
    ewm_mean,
    log_ratio,
    pandas_rolling_kurt,
    rolling_max,
    rolling_mean,
    rolling_min,
    rolling_sum,
    rolling_windows,
    shifted,
)
from candlecast.timeframes import Timeframe

WARMUP_CANDLES = 40
RETURN_LAGS = (1, 2, 3, 4, 5, 6, 8, 12, 16, 20, 24, 30)


def add_returns(c, lc, out) -> None:
    for k in RETURN_LAGS:
        lagged = np.full_like(lc, np.nan)
        lagged[k:] = lc[k:] - lc[:-k]
        out[f"ret_{k}"] = lagged
    r1 = out["ret_1"]
    moments = {w: Moments(r1, w) for w in (5, 10, 24)}
    for w in (5, 10, 24):
        out[f"vol_{w}"] = moments[w].std()
    out["vol_ratio_5_24"] = out["vol_5"] / (out["vol_24"] + EPS)
    out["vol_ratio_10_24"] = out["vol_10"] / (out["vol_24"] + EPS)
    out["max_ret_10"] = rolling_max(r1, 10)
    out["min_ret_10"] = rolling_min(r1, 10)
    for k in (6, 24):
        out[f"ret_{k}_z"] = out[f"ret_{k}"] / (out["vol_24"] * np.sqrt(k) + EPS)
    rose = (r1 > 0).astype(float)
    r1_before = shifted(r1, 1)
    for w in (10, 24):
        out[f"ret_z_{w}"] = r1 / (out[f"vol_{w}"] + EPS)
        out[f"skew_{w}"] = moments[w].skew()
        out[f"kurt_{w}"] = pandas_rolling_kurt(r1, w)
        out[f"autocorr_{w}"] = moments[w].corr(Moments(r1_before, w))
        out[f"up_share_{w}"] = rolling_mean(rose, w)


def add_trend(o, h, lo, c, out) -> None:
    for w in (5, 10, 20, 30):
        out[f"close_sma_{w}"] = log_ratio(c, talib.SMA(c, w))
    out["close_kama_10"] = log_ratio(c, talib.KAMA(c, 10))
    out["sma_5_20"] = log_ratio(talib.SMA(c, 5), talib.SMA(c, 20))
    out["cycle_period"] = talib.HT_DCPERIOD(c) / 50
    out["ema_8_21"] = log_ratio(talib.EMA(c, 8), talib.EMA(c, 21))
    out["sar_dist"] = log_ratio(c, talib.SAR(h, lo))
    out["midpoint_dist_14"] = log_ratio(c, talib.MIDPRICE(h, lo, 14))
    out["linreg_slope_14"] = talib.LINEARREG_SLOPE(c, 14) / c
    out["linreg_slope_30"] = talib.LINEARREG_SLOPE(c, 30) / c
    out["tsf_dist_14"] = log_ratio(talib.TSF(c, 14), c)
    out["linreg_r2_20"] = talib.CORREL(np.arange(len(c), dtype="float64"), c, 20) ** 2
    for w in (10, 20, 30):
        out[f"high_dist_{w}"] = log_ratio(c, talib.MAX(h, w))
        out[f"low_dist_{w}"] = log_ratio(c, talib.MIN(lo, w))
    out["aroon_osc_14"] = talib.AROONOSC(h, lo, 14) / 100
    aroon_down, aroon_up = talib.AROON(h, lo, 25)
    out["aroon_up_25"], out["aroon_down_25"] = aroon_up / 100, aroon_down / 100
    out["adx_14"] = talib.ADX(h, lo, c, 14) / 100
    out["plus_di_14"] = talib.PLUS_DI(h, lo, c, 14) / 100
    out["minus_di_14"] = talib.MINUS_DI(h, lo, c, 14) / 100
    out["adxr_10"] = talib.ADXR(h, lo, c, 10) / 100


def add_momentum(o, h, lo, c, v, out) -> None:
    for w in (6, 14, 24):
        out[f"rsi_{w}"] = talib.RSI(c, w) / 100 - 0.5
    k, d = talib.STOCH(h, lo, c, 14, 3, 0, 3, 0)
    out["stoch_k"], out["stoch_d"] = k / 100, d / 100
    fast_k, _ = talib.STOCHF(h, lo, c, 5, 3, 0)
    out["stochf_k_5"] = fast_k / 100
    rsi_k, rsi_d = talib.STOCHRSI(c, 14, 5, 3, 0)
    out["stochrsi_k"], out["stochrsi_d"] = rsi_k / 100, rsi_d / 100
    out["willr_21"] = talib.WILLR(h, lo, c, 21) / 100
    out["cci_14"] = talib.CCI(h, lo, c, 14) / 100
    out["cci_30"] = talib.CCI(h, lo, c, 30) / 100
    macd, signal, hist = talib.MACD(c, 12, 26, 9)
    out["macd"], out["macd_signal"], out["macd_hist"] = macd / c, signal / c, hist / c
    out["macd_fast"] = talib.MACD(c, 5, 13, 5)[2] / c
    out["mfi_14"] = talib.MFI(h, lo, c, v, 14) / 100
    out["ultosc"] = talib.ULTOSC(h, lo, c, 7, 14, 28) / 100
    out["bop"] = talib.BOP(o, h, lo, c)
    out["bop_10"] = talib.SMA(out["bop"], 10)
    out["mom_accel"] = out["ret_6"] - np.concatenate([np.full(6, np.nan), out["ret_6"][:-6]])


def add_volatility(o, h, lo, c, out) -> None:
    for w in (7, 14, 28):
        out[f"atr_{w}"] = talib.ATR(h, lo, c, w) / c
    out["atr_ratio_7_28"] = out["atr_7"] / (out["atr_28"] + EPS)
    for w in (10, 20):
        upper, middle, lower = talib.BBANDS(c, w, 2.0, 2.0)
        out[f"bb_pctb_{w}"] = (c - lower) / (upper - lower + EPS * c)
        out[f"bb_width_{w}"] = (upper - lower) / middle
    parkinson = log_ratio(h, lo) ** 2 / (4 * np.log(2))
    for w in (10, 24):
        out[f"parkinson_{w}"] = np.sqrt(rolling_mean(parkinson, w))
    gk = 0.5 * log_ratio(h, lo) ** 2 - (2 * np.log(2) - 1) * log_ratio(c, o) ** 2
    out["garman_klass_20"] = np.sqrt(np.clip(rolling_mean(gk, 20), 0, None))
    out["range_vol_ratio"] = out["parkinson_10"] / (out["vol_10"] + EPS)
    out["parkinson_ratio_10_24"] = out["parkinson_10"] / (out["parkinson_24"] + EPS)
    keltner_mid = talib.EMA(c, 20)
    out["keltner_pos"] = (c - keltner_mid) / (2 * talib.ATR(h, lo, c, 10) + EPS * c)
    out["donchian_width_20"] = log_ratio(talib.MAX(h, 20), talib.MIN(lo, 20))


def _trailing_mean_from_start(values: np.ndarray, window: int) -> np.ndarray:
    """rolling(window, min_periods=1).mean(): the first rows average what exists so far."""
    padded = np.concatenate([np.zeros(window - 1), values])
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return sliding_window_view(padded, window).sum(axis=1) / counts


def _log_volume(v: np.ndarray) -> np.ndarray:
    # Zero-volume candles happen: offset by a tiny share of the volume seen so far, which keeps
    # the logarithm finite, causal, unit-free and the same for any history longer than warm-up.
    recent_mean = _trailing_mean_from_start(v, WARMUP_CANDLES)
    return np.log(v + 1e-3 * recent_mean + 1e-300)


def add_volume(h, lo, c, v, vwap, out) -> None:
    lv = _log_volume(v)
    lv_mean = {w: rolling_mean(lv, w) for w in (5, 10, 20)}
    for w in (5, 10, 20):
        out[f"volume_ratio_{w}"] = lv - lv_mean[w]
    lv_moments = Moments(lv, 20)
    out["volume_z_20"] = out["volume_ratio_20"] / (lv_moments.std() + EPS)
    out["volume_osc_12_26"] = ewm_mean(lv, 12) - ewm_mean(lv, 26)
    out["volume_trend_5_20"] = lv_mean[5] - lv_mean[20]
    signed = np.sign(np.diff(c, prepend=np.nan)) * v
    volume_sum = {w: rolling_sum(v, w) for w in (10, 20, 24)}
    out["obv_flow_10"] = rolling_sum(signed, 10) / (volume_sum[10] + EPS)
    out["obv_flow_24"] = rolling_sum(signed, 24) / (volume_sum[24] + EPS)
    clv = ((c - lo) - (h - c)) / (h - lo + EPS * c)
    out["cmf_20"] = rolling_sum(clv * v, 20) / (volume_sum[20] + EPS)
    out["adosc_norm"] = talib.ADOSC(h, lo, c, v, 3, 10) / (volume_sum[10] / 10 + EPS)
    out["vwap_dist"] = log_ratio(c, np.where(np.isfinite(vwap) & (vwap > 0), vwap, c))
    out["ret_volume_corr_20"] = Moments(out["ret_1"], 20).corr(lv_moments)
    out["abs_ret_volume_corr_20"] = Moments(np.abs(out["ret_1"]), 20).corr(lv_moments)


def add_shape(o, h, lo, c, out) -> None:
    rng = h - lo + EPS * c
    out["range_1"] = log_ratio(h, lo)
    out["body_share"] = np.abs(c - o) / rng
    out["upper_wick"] = log_ratio(h, np.maximum(o, c))
    out["lower_wick"] = log_ratio(np.minimum(o, c), lo)
    out["close_in_range"] = (c - lo) / rng
    out["gap"] = log_ratio(o, shifted(c, 1))
    out["range_mean_5"] = rolling_mean(out["range_1"], 5)
    for w in (5, 20):
        out[f"upper_wick_mean_{w}"] = rolling_mean(out["upper_wick"], w)
        out[f"lower_wick_mean_{w}"] = rolling_mean(out["lower_wick"], w)
    range_mean_20 = rolling_mean(out["range_1"], 20)
    out["range_ratio_1_20"] = out["range_1"] / (range_mean_20 + EPS)


CANDLE_PATTERNS = (
    "CDLDOJI",
    "CDLENGULFING",
    "CDLHAMMER",
    "CDLSHOOTINGSTAR",
    "CDLHARAMI",
    "CDLMARUBOZU",
    "CDLSPINNINGTOP",
    "CDL3OUTSIDE",
    "CDLBELTHOLD",
    "CDLHIGHWAVE",
    "CDLLONGLINE",
    "CDLSHORTLINE",
    "CDLHANGINGMAN",
    "CDLINVERTEDHAMMER",
    "CDLDRAGONFLYDOJI",
    "CDLGRAVESTONEDOJI",
)


def add_patterns(o, h, lo, c, out) -> None:
    """TA-Lib candle patterns as -1/0/1 (the candle family's discrete signals)."""
    for name in CANDLE_PATTERNS:
        out[f"pattern_{name[3:].lower()}"] = getattr(talib, name)(o, h, lo, c) / 100.0


def add_pandas_ta(o, h, lo, c, out) -> None:
    """pandas-ta's indicators (0.4.71b0 definitions, its default TA-Lib mode) restated on
    arrays: the library's per-call Series plumbing cost more than all other families."""
    close_moves = np.abs(np.diff(c, prepend=np.nan))
    true_range = talib.TRANGE(h, lo, c)
    out["vortex_diff_14"] = _vortex_diff(h, lo, true_range, 14)
    out["chop_14"] = _choppiness(h, lo, true_range, 14)
    for w in (10, 30):
        out[f"efficiency_{w}"] = np.abs(c - shifted(c, w)) / rolling_sum(close_moves, w)
    out["cti_12"] = _trend_correlation(c, 12)
    out["entropy_10"] = _entropy(c, 10)
    out["psl_12"] = rolling_sum((c > o).astype(float), 12) / 12
    out["rvi_14"] = _relative_volatility(c, 14)
    out["ulcer_14"] = _ulcer(c, 14)
    out["cg_10"] = _centre_of_gravity(c, 10) + 5.5
    out["pgo_14"] = (c - talib.SMA(c, 14)) / talib.EMA(talib.ATR(h, lo, c, 14), 14)
    close_range_28 = np.abs(rolling_max(c, 28) - rolling_min(c, 28))
    out["vhf_28"] = close_range_28 / rolling_sum(close_moves, 28)
    ema_13 = talib.EMA(c, 13)
    out["bull_power_13"] = (h - ema_13) / c
    out["bear_power_13"] = (lo - ema_13) / c
    out["qstick_10"] = talib.SMA(c - o, 10) / c
    out["cfo_9"] = (c - talib.TSF(c, 9)) / c


def _vortex_diff(h, lo, true_range, window: int) -> np.ndarray:
    range_sum = rolling_sum(true_range, window)
    up_moves = rolling_sum(np.abs(h - shifted(lo, 1)), window)
    down_moves = rolling_sum(np.abs(lo - shifted(h, 1)), window)
    return up_moves / range_sum - down_moves / range_sum


def _choppiness(h, lo, true_range, window: int) -> np.ndarray:
    span = rolling_max(h, window) - rolling_min(lo, window)
    path = rolling_sum(true_range, window)
    return (np.log10(path) - np.log10(span)) / np.log10(window)


def _trend_correlation(c, window: int) -> np.ndarray:
    """Correlation of each window's closes with time (Ehlers' CTI). Measured from the window's
    first close: the same correlation, without the cancellation of raw price sums."""
    windows = rolling_windows(c, window)
    y = windows - windows[:, :1]
    x = np.arange(1, window + 1, dtype="float64")
    x_sum, y_sum = x.sum(), y.sum(axis=1)
    numerator = window * (y @ x) - x_sum * y_sum
    x_spread = window * (x @ x) - x_sum * x_sum
    y_spread = window * (y * y).sum(axis=1) - y_sum * y_sum
    denominator = np.sqrt(x_spread * y_spread)
    return numerator / np.where(denominator == 0, np.finfo(float).eps, denominator)


def _entropy(c, window: int) -> np.ndarray:
    share = c / rolling_sum(c, window)
    return rolling_sum(-share * np.log(share) / np.log(2.0), window)


def _relative_volatility(c, window: int) -> np.ndarray:
    std = talib.STDDEV(c, window)
    move = np.nan_to_num(np.diff(c, prepend=np.nan))
    up_avg = talib.EMA((move > 0) * std, window)
    down_avg = talib.EMA((move < 0) * std, window)
    return up_avg / (up_avg + down_avg)


def _ulcer(c, window: int) -> np.ndarray:
    highest = rolling_max(c, window)
    drawdown = (c - highest) / highest
    return np.sqrt(rolling_sum(drawdown * drawdown, window) / window)


def _centre_of_gravity(c, window: int) -> np.ndarray:
    weighted = rolling_windows(c, window) @ np.arange(1, window + 1, dtype="float64")
    return -weighted / rolling_sum(c, window)


def add_calendar(stamps: np.ndarray, timeframe: Timeframe, out) -> None:
    """Cyclical encodings of the candle's UTC open time (stamps: datetime64[ns], UTC)."""
    hours = stamps.astype("int64") // 3_600_000_000_000
    cycles = []
    if timeframe.code in ("1h", "4h"):
        cycles.append(("hour", hours % 24, 24))
    if timeframe.code in ("1h", "4h", "1d"):
        cycles.append(("dow", (hours // 24 + 3) % 7, 7))  # 1970-01-01 was a Thursday; Monday = 0
    if timeframe.code in ("1d", "1w", "1M"):
        cycles.append(("month", stamps.astype("datetime64[M]").astype("int64") % 12, 12))
    for name, values, period in cycles:
        out[f"{name}_sin"] = np.sin(2 * np.pi * values / period)
        out[f"{name}_cos"] = np.cos(2 * np.pi * values / period)
