"""Scale-free features, one function for training and serving (their single shared import).

Every column is a return, a ratio or a normalised indicator, so one model serves BTC and a
$0.0001 coin alike. Row t uses candles up to and including t only. Families: returns, trend
(distance to moving averages), momentum, volatility, volume, candle shape, statistics,
calendar; TA-Lib for the classic indicators, pandas-ta where TA-Lib has no equivalent. Windows
stay within WARMUP_CANDLES so that even the 59 months of a young coin's 1M series can be served.
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd
import talib

from candlecast.timeframes import Timeframe

FEATURE_SET_VERSION = "v2"
WARMUP_CANDLES = 40
VOLATILITY_COLUMN = "vol_24"  # scale of the targets: trailing std of one-candle log returns
RETURN_LAGS = (1, 2, 3, 4, 5, 6, 8, 12, 16, 20, 24, 30)
_EPS = 1e-12


def _log_ratio(a, b) -> np.ndarray:
    return np.log(np.asarray(a, dtype="float64") / np.asarray(b, dtype="float64"))


def _rolling(values: np.ndarray, window: int) -> pd.core.window.Rolling:
    return pd.Series(values).rolling(window)


def _returns(c, lc, out) -> None:
    for k in RETURN_LAGS:
        lagged = np.full_like(lc, np.nan)
        lagged[k:] = lc[k:] - lc[:-k]
        out[f"ret_{k}"] = lagged
    r1 = pd.Series(out["ret_1"])
    for w in (5, 10, 24):
        out[f"vol_{w}"] = r1.rolling(w).std().to_numpy()
    out["vol_ratio_5_24"] = out["vol_5"] / (out["vol_24"] + _EPS)
    out["vol_ratio_10_24"] = out["vol_10"] / (out["vol_24"] + _EPS)
    r1_values = out["ret_1"]
    out["max_ret_10"] = _rolling(r1_values, 10).max().to_numpy()
    out["min_ret_10"] = _rolling(r1_values, 10).min().to_numpy()
    for k in (6, 24):
        out[f"ret_{k}_z"] = out[f"ret_{k}"] / (out["vol_24"] * np.sqrt(k) + _EPS)
    for w in (10, 24):
        out[f"ret_z_{w}"] = out["ret_1"] / (r1.rolling(w).std().to_numpy() + _EPS)
        out[f"skew_{w}"] = r1.rolling(w).skew().to_numpy()
        out[f"kurt_{w}"] = r1.rolling(w).kurt().to_numpy()
        out[f"autocorr_{w}"] = r1.rolling(w).corr(r1.shift(1)).to_numpy()
        out[f"up_share_{w}"] = (r1 > 0).astype(float).rolling(w).mean().to_numpy()


def _trend(o, h, lo, c, out) -> None:
    for w in (5, 10, 20, 30):
        out[f"close_sma_{w}"] = _log_ratio(c, talib.SMA(c, w))
    out["close_kama_10"] = _log_ratio(c, talib.KAMA(c, 10))
    out["sma_5_20"] = _log_ratio(talib.SMA(c, 5), talib.SMA(c, 20))
    out["cycle_period"] = talib.HT_DCPERIOD(c) / 50
    out["ema_8_21"] = _log_ratio(talib.EMA(c, 8), talib.EMA(c, 21))
    out["sar_dist"] = _log_ratio(c, talib.SAR(h, lo))
    out["midpoint_dist_14"] = _log_ratio(c, talib.MIDPRICE(h, lo, 14))
    out["linreg_slope_14"] = talib.LINEARREG_SLOPE(c, 14) / c
    out["linreg_slope_30"] = talib.LINEARREG_SLOPE(c, 30) / c
    out["tsf_dist_14"] = _log_ratio(talib.TSF(c, 14), c)
    out["linreg_r2_20"] = talib.CORREL(np.arange(len(c), dtype="float64"), c, 20) ** 2
    for w in (10, 20, 30):
        out[f"high_dist_{w}"] = _log_ratio(c, talib.MAX(h, w))
        out[f"low_dist_{w}"] = _log_ratio(c, talib.MIN(lo, w))
    out["aroon_osc_14"] = talib.AROONOSC(h, lo, 14) / 100
    aroon_down, aroon_up = talib.AROON(h, lo, 25)
    out["aroon_up_25"], out["aroon_down_25"] = aroon_up / 100, aroon_down / 100
    out["adx_14"] = talib.ADX(h, lo, c, 14) / 100
    out["plus_di_14"] = talib.PLUS_DI(h, lo, c, 14) / 100
    out["minus_di_14"] = talib.MINUS_DI(h, lo, c, 14) / 100
    out["adxr_10"] = talib.ADXR(h, lo, c, 10) / 100


def _momentum(o, h, lo, c, v, out) -> None:
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


def _volatility(o, h, lo, c, out) -> None:
    for w in (7, 14, 28):
        out[f"atr_{w}"] = talib.ATR(h, lo, c, w) / c
    out["atr_ratio_7_28"] = out["atr_7"] / (out["atr_28"] + _EPS)
    for w in (10, 20):
        upper, middle, lower = talib.BBANDS(c, w, 2.0, 2.0)
        out[f"bb_pctb_{w}"] = (c - lower) / (upper - lower + _EPS * c)
        out[f"bb_width_{w}"] = (upper - lower) / middle
    parkinson = _log_ratio(h, lo) ** 2 / (4 * np.log(2))
    for w in (10, 24):
        out[f"parkinson_{w}"] = np.sqrt(_rolling(parkinson, w).mean().to_numpy())
    gk = 0.5 * _log_ratio(h, lo) ** 2 - (2 * np.log(2) - 1) * _log_ratio(c, o) ** 2
    out["garman_klass_20"] = np.sqrt(np.clip(_rolling(gk, 20).mean().to_numpy(), 0, None))
    out["range_vol_ratio"] = out["parkinson_10"] / (out["vol_10"] + _EPS)
    out["parkinson_ratio_10_24"] = out["parkinson_10"] / (out["parkinson_24"] + _EPS)
    keltner_mid = talib.EMA(c, 20)
    out["keltner_pos"] = (c - keltner_mid) / (2 * talib.ATR(h, lo, c, 10) + _EPS * c)
    out["donchian_width_20"] = _log_ratio(talib.MAX(h, 20), talib.MIN(lo, 20))


def _volume(h, lo, c, v, vwap, out) -> None:
    # Zero-volume candles happen: offset by a tiny share of the volume seen so far, which keeps
    # the logarithm finite, causal, unit-free and the same for any history longer than warm-up.
    recent_mean = pd.Series(v).rolling(WARMUP_CANDLES, min_periods=1).mean().to_numpy()
    lv = np.log(v + 1e-3 * recent_mean + 1e-300)
    for w in (5, 10, 20):
        out[f"volume_ratio_{w}"] = lv - _rolling(lv, w).mean().to_numpy()
    out["volume_z_20"] = out["volume_ratio_20"] / (_rolling(lv, 20).std().to_numpy() + _EPS)
    pvo = (
        pd.Series(lv).ewm(span=12, adjust=False).mean()
        - pd.Series(lv).ewm(span=26, adjust=False).mean()
    )
    out["volume_osc_12_26"] = pvo.to_numpy()
    out["volume_trend_5_20"] = (
        _rolling(lv, 5).mean().to_numpy() - _rolling(lv, 20).mean().to_numpy()
    )
    signed = np.sign(np.diff(c, prepend=np.nan)) * v
    vol_sum_10 = _rolling(v, 10).sum().to_numpy() + _EPS
    out["obv_flow_10"] = _rolling(signed, 10).sum().to_numpy() / vol_sum_10
    out["obv_flow_24"] = _rolling(signed, 24).sum().to_numpy() / (
        _rolling(v, 24).sum().to_numpy() + _EPS
    )
    clv = ((c - lo) - (h - c)) / (h - lo + _EPS * c)
    out["cmf_20"] = _rolling(clv * v, 20).sum().to_numpy() / (
        _rolling(v, 20).sum().to_numpy() + _EPS
    )
    out["adosc_norm"] = talib.ADOSC(h, lo, c, v, 3, 10) / (_rolling(v, 10).mean().to_numpy() + _EPS)
    out["vwap_dist"] = _log_ratio(c, np.where(np.isfinite(vwap) & (vwap > 0), vwap, c))
    out["ret_volume_corr_20"] = pd.Series(out["ret_1"]).rolling(20).corr(pd.Series(lv)).to_numpy()
    out["abs_ret_volume_corr_20"] = (
        pd.Series(np.abs(out["ret_1"])).rolling(20).corr(pd.Series(lv)).to_numpy()
    )


def _shape(o, h, lo, c, out) -> None:
    rng = h - lo + _EPS * c
    out["range_1"] = _log_ratio(h, lo)
    out["body_share"] = np.abs(c - o) / rng
    out["upper_wick"] = _log_ratio(h, np.maximum(o, c))
    out["lower_wick"] = _log_ratio(np.minimum(o, c), lo)
    out["close_in_range"] = (c - lo) / rng
    gap = np.full_like(c, np.nan)
    gap[1:] = _log_ratio(o[1:], c[:-1])
    out["gap"] = gap
    out["range_mean_5"] = _rolling(out["range_1"], 5).mean().to_numpy()
    for w in (5, 20):
        out[f"upper_wick_mean_{w}"] = _rolling(out["upper_wick"], w).mean().to_numpy()
        out[f"lower_wick_mean_{w}"] = _rolling(out["lower_wick"], w).mean().to_numpy()
    range_mean_20 = _rolling(out["range_1"], 20).mean().to_numpy()
    out["range_ratio_1_20"] = out["range_1"] / (range_mean_20 + _EPS)


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


def _patterns(o, h, lo, c, out) -> None:
    """TA-Lib candle patterns as -1/0/1 (the candle family's discrete signals)."""
    for name in CANDLE_PATTERNS:
        out[f"pattern_{name[3:].lower()}"] = getattr(talib, name)(o, h, lo, c) / 100.0


def _pandas_ta(o, h, lo, c, out) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandas_ta as ta

        hs, ls, cs, os_ = (pd.Series(x) for x in (h, lo, c, o))
        vortex = ta.vortex(hs, ls, cs, length=14)
        out["vortex_diff_14"] = (vortex.iloc[:, 0] - vortex.iloc[:, 1]).to_numpy()
        out["chop_14"] = ta.chop(hs, ls, cs, length=14).to_numpy() / 100
        out["efficiency_10"] = ta.er(cs, length=10).to_numpy()
        out["efficiency_30"] = ta.er(cs, length=30).to_numpy()
        out["cti_12"] = ta.cti(cs, length=12).to_numpy()
        out["entropy_10"] = ta.entropy(cs, length=10).to_numpy()
        out["psl_12"] = ta.psl(cs, os_, length=12).to_numpy() / 100
        out["rvi_14"] = ta.rvi(cs, hs, ls, length=14).to_numpy() / 100
        out["ulcer_14"] = ta.ui(cs, length=14).to_numpy() / 100
        out["cg_10"] = ta.cg(cs, length=10).to_numpy() + 5.5
        out["pgo_14"] = ta.pgo(hs, ls, cs, length=14).to_numpy()
        out["vhf_28"] = ta.vhf(cs, length=28).to_numpy()
        eri = ta.eri(hs, ls, cs, length=13)
        out["bull_power_13"] = eri.iloc[:, 0].to_numpy() / c
        out["bear_power_13"] = eri.iloc[:, 1].to_numpy() / c
        out["qstick_10"] = ta.qstick(os_, cs, length=10).to_numpy() / c
        out["cfo_9"] = ta.cfo(cs, length=9).to_numpy() / 100


def _calendar(stamps: pd.DatetimeIndex, timeframe: Timeframe, out) -> list[str]:
    names = []
    cycles = []
    if timeframe.code in ("1h", "4h"):
        cycles.append(("hour", stamps.hour.to_numpy(), 24))
    if timeframe.code in ("1h", "4h", "1d"):
        cycles.append(("dow", stamps.dayofweek.to_numpy(), 7))
    if timeframe.code in ("1d", "1w", "1M"):
        cycles.append(("month", stamps.month.to_numpy() - 1, 12))
    for name, values, period in cycles:
        out[f"{name}_sin"] = np.sin(2 * np.pi * values / period)
        out[f"{name}_cos"] = np.cos(2 * np.pi * values / period)
        names += [f"{name}_sin", f"{name}_cos"]
    return names


def compute_features(candles: pd.DataFrame, timeframe: Timeframe) -> pd.DataFrame:
    """Feature frame aligned with `candles` (sorted, clean); warm-up rows hold NaN."""
    o, h, lo, c, v = (
        candles[k].to_numpy(dtype="float64") for k in ("open", "high", "low", "close", "volume")
    )
    vwap = candles["vwap"].to_numpy(dtype="float64") if "vwap" in candles else c
    out: dict[str, np.ndarray] = {}
    _returns(c, np.log(c), out)
    _trend(o, h, lo, c, out)
    _momentum(o, h, lo, c, v, out)
    _volatility(o, h, lo, c, out)
    _volume(h, lo, c, v, vwap, out)
    _shape(o, h, lo, c, out)
    _patterns(o, h, lo, c, out)
    _pandas_ta(o, h, lo, c, out)
    calendar = _calendar(pd.DatetimeIndex(candles["timestamp"]), timeframe, out)
    columns = [k for k in out if k not in calendar] + calendar
    values = np.column_stack([np.asarray(out[k], dtype="float64") for k in columns])
    values[~np.isfinite(values)] = np.nan
    values[: WARMUP_CANDLES - 1] = np.nan
    frame = pd.DataFrame(values, columns=columns, index=candles.index)
    return frame


def feature_columns(timeframe: Timeframe) -> list[str]:
    """The names compute_features produces for this timeframe, in order."""
    return list(_probe_columns(timeframe.code))


@cache
def _probe_columns(code: str) -> tuple[str, ...]:
    from candlecast.timeframes import TIMEFRAMES

    stamps = pd.date_range("2024-01-01", periods=WARMUP_CANDLES + 5, freq="D", tz="UTC")
    n = len(stamps)
    probe = pd.DataFrame(
        {
            "timestamp": stamps,
            "open": np.linspace(1, 2, n),
            "high": np.linspace(1.1, 2.1, n),
            "low": np.linspace(0.9, 1.9, n),
            "close": np.linspace(1.05, 2.05, n),
            "volume": np.linspace(5, 9, n),
            "vwap": np.linspace(1, 2, n),
        }
    )
    return tuple(compute_features(probe, TIMEFRAMES[code]).columns)
