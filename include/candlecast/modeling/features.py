"""Scale-free features, one function for training and serving (their single shared import).

Every column is a return, a ratio or a normalised indicator, so one model serves BTC and a
$0.0001 coin alike. Row t uses candles up to and including t only. Families: returns, trend
(distance to moving averages), momentum, volatility, volume, candle shape, statistics,
calendar, and the market context (the coin against BTC and ETH at the same candle, when a
`MarketContext` is given); TA-Lib for the classic indicators, pandas-ta where TA-Lib has no
equivalent. Windows stay within WARMUP_CANDLES so that even the 59 months of a young coin's
1M series can be served.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import talib
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import lfilter

from candlecast.modeling.market import BenchmarkSeries, MarketContext
from candlecast.timeframes import Timeframe

FEATURE_SET_VERSION = "v2"
WARMUP_CANDLES = 40
VOLATILITY_COLUMN = "vol_24"  # scale of the targets: trailing std of one-candle log returns
RETURN_LAGS = (1, 2, 3, 4, 5, 6, 8, 12, 16, 20, 24, 30)
_EPS = 1e-12


def _log_ratio(a, b) -> np.ndarray:
    return np.log(np.asarray(a, dtype="float64") / np.asarray(b, dtype="float64"))


def _shifted(values: np.ndarray, k: int) -> np.ndarray:
    """values[t - k] at row t; NaN before it exists."""
    out = np.full_like(values, np.nan)
    out[k:] = values[:-k]
    return out


def _windows(values: np.ndarray, window: int) -> np.ndarray:
    """Row t holds values[t - window + 1 .. t]; rows before the first full window hold NaN,
    so every rolling statistic below is NaN wherever pandas' rolling(window) would be."""
    padded = np.concatenate([np.full(window - 1, np.nan), values])
    step = padded.strides[0]  # sliding_window_view's layout, without its per-call checks
    return np.ndarray((len(values), window), padded.dtype, padded, strides=(step, step))


def _rolling_sum(values: np.ndarray, window: int) -> np.ndarray:
    return _windows(values, window).sum(axis=1)


def _rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    return _windows(values, window).mean(axis=1)


def _rolling_max(values: np.ndarray, window: int) -> np.ndarray:
    return talib.MAX(values, window)  # exact, and NaN until a full window (inputs: NaN-led)


def _rolling_min(values: np.ndarray, window: int) -> np.ndarray:
    return talib.MIN(values, window)


class _Moments:
    """Central moments of each trailing window, with pandas' conventions: sample (ddof=1)
    statistics, and a window of identical values has std 0 and no skew, kurtosis or
    correlation (a two-pass mean may miss such a value by one ulp, hence the flat mask)."""

    def __init__(self, values: np.ndarray, window: int) -> None:
        windows = _windows(values, window)
        self.window = window
        self.deviations = windows - windows.mean(axis=1, keepdims=True)
        self.squares = self.deviations * self.deviations
        self.flat = _rolling_max(values, window) == _rolling_min(values, window)
        self.m2 = np.where(self.flat, 0.0, self.squares.sum(axis=1))

    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / (self.window - 1))

    def skew(self) -> np.ndarray:
        n = self.window
        m3 = (self.squares * self.deviations).sum(axis=1)
        return _unless_flat(
            self.flat, m3 / (self.m2 * np.sqrt(self.m2)) * n * np.sqrt(n - 1) / (n - 2)
        )

    def corr(self, other: _Moments) -> np.ndarray:
        cross = (self.deviations * other.deviations).sum(axis=1)
        return _unless_flat(self.flat | other.flat, cross / np.sqrt(self.m2 * other.m2))


def _unless_flat(flat: np.ndarray, values: np.ndarray) -> np.ndarray:
    return np.where(flat, np.nan, values)


def _pandas_rolling_kurt(values: np.ndarray, window: int) -> np.ndarray:
    # Kept on pandas' online algorithm on purpose: on long histories its rounding reaches 4e-8
    # of the exact kurtosis, and those are the values of this FEATURE_SET_VERSION.
    return pd.Series(values).rolling(window).kurt().to_numpy()


def _ewm_mean(values: np.ndarray, span: int) -> np.ndarray:
    """pandas' ewm(span, adjust=False).mean(): y[0] = x[0], y[t] = a x[t] + (1 - a) y[t-1]."""
    alpha = 2 / (span + 1)
    smoothed, _ = lfilter([alpha], [1, alpha - 1], values, zi=[(1 - alpha) * values[0]])
    return smoothed


def _returns(c, lc, out) -> None:
    for k in RETURN_LAGS:
        lagged = np.full_like(lc, np.nan)
        lagged[k:] = lc[k:] - lc[:-k]
        out[f"ret_{k}"] = lagged
    r1 = out["ret_1"]
    moments = {w: _Moments(r1, w) for w in (5, 10, 24)}
    for w in (5, 10, 24):
        out[f"vol_{w}"] = moments[w].std()
    out["vol_ratio_5_24"] = out["vol_5"] / (out["vol_24"] + _EPS)
    out["vol_ratio_10_24"] = out["vol_10"] / (out["vol_24"] + _EPS)
    out["max_ret_10"] = _rolling_max(r1, 10)
    out["min_ret_10"] = _rolling_min(r1, 10)
    for k in (6, 24):
        out[f"ret_{k}_z"] = out[f"ret_{k}"] / (out["vol_24"] * np.sqrt(k) + _EPS)
    rose = (r1 > 0).astype(float)
    r1_before = _shifted(r1, 1)
    for w in (10, 24):
        out[f"ret_z_{w}"] = r1 / (out[f"vol_{w}"] + _EPS)
        out[f"skew_{w}"] = moments[w].skew()
        out[f"kurt_{w}"] = _pandas_rolling_kurt(r1, w)
        out[f"autocorr_{w}"] = moments[w].corr(_Moments(r1_before, w))
        out[f"up_share_{w}"] = _rolling_mean(rose, w)


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
        out[f"parkinson_{w}"] = np.sqrt(_rolling_mean(parkinson, w))
    gk = 0.5 * _log_ratio(h, lo) ** 2 - (2 * np.log(2) - 1) * _log_ratio(c, o) ** 2
    out["garman_klass_20"] = np.sqrt(np.clip(_rolling_mean(gk, 20), 0, None))
    out["range_vol_ratio"] = out["parkinson_10"] / (out["vol_10"] + _EPS)
    out["parkinson_ratio_10_24"] = out["parkinson_10"] / (out["parkinson_24"] + _EPS)
    keltner_mid = talib.EMA(c, 20)
    out["keltner_pos"] = (c - keltner_mid) / (2 * talib.ATR(h, lo, c, 10) + _EPS * c)
    out["donchian_width_20"] = _log_ratio(talib.MAX(h, 20), talib.MIN(lo, 20))


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


def _volume(h, lo, c, v, vwap, out) -> None:
    lv = _log_volume(v)
    lv_mean = {w: _rolling_mean(lv, w) for w in (5, 10, 20)}
    for w in (5, 10, 20):
        out[f"volume_ratio_{w}"] = lv - lv_mean[w]
    lv_moments = _Moments(lv, 20)
    out["volume_z_20"] = out["volume_ratio_20"] / (lv_moments.std() + _EPS)
    out["volume_osc_12_26"] = _ewm_mean(lv, 12) - _ewm_mean(lv, 26)
    out["volume_trend_5_20"] = lv_mean[5] - lv_mean[20]
    signed = np.sign(np.diff(c, prepend=np.nan)) * v
    volume_sum = {w: _rolling_sum(v, w) for w in (10, 20, 24)}
    out["obv_flow_10"] = _rolling_sum(signed, 10) / (volume_sum[10] + _EPS)
    out["obv_flow_24"] = _rolling_sum(signed, 24) / (volume_sum[24] + _EPS)
    clv = ((c - lo) - (h - c)) / (h - lo + _EPS * c)
    out["cmf_20"] = _rolling_sum(clv * v, 20) / (volume_sum[20] + _EPS)
    out["adosc_norm"] = talib.ADOSC(h, lo, c, v, 3, 10) / (volume_sum[10] / 10 + _EPS)
    out["vwap_dist"] = _log_ratio(c, np.where(np.isfinite(vwap) & (vwap > 0), vwap, c))
    out["ret_volume_corr_20"] = _Moments(out["ret_1"], 20).corr(lv_moments)
    out["abs_ret_volume_corr_20"] = _Moments(np.abs(out["ret_1"]), 20).corr(lv_moments)


def _shape(o, h, lo, c, out) -> None:
    rng = h - lo + _EPS * c
    out["range_1"] = _log_ratio(h, lo)
    out["body_share"] = np.abs(c - o) / rng
    out["upper_wick"] = _log_ratio(h, np.maximum(o, c))
    out["lower_wick"] = _log_ratio(np.minimum(o, c), lo)
    out["close_in_range"] = (c - lo) / rng
    out["gap"] = _log_ratio(o, _shifted(c, 1))
    out["range_mean_5"] = _rolling_mean(out["range_1"], 5)
    for w in (5, 20):
        out[f"upper_wick_mean_{w}"] = _rolling_mean(out["upper_wick"], w)
        out[f"lower_wick_mean_{w}"] = _rolling_mean(out["lower_wick"], w)
    range_mean_20 = _rolling_mean(out["range_1"], 20)
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
    """pandas-ta's indicators (0.4.71b0 definitions, its default TA-Lib mode) restated on
    arrays: the library's per-call Series plumbing cost more than all other families."""
    close_moves = np.abs(np.diff(c, prepend=np.nan))
    true_range = talib.TRANGE(h, lo, c)
    out["vortex_diff_14"] = _vortex_diff(h, lo, true_range, 14)
    out["chop_14"] = _choppiness(h, lo, true_range, 14)
    for w in (10, 30):
        out[f"efficiency_{w}"] = np.abs(c - _shifted(c, w)) / _rolling_sum(close_moves, w)
    out["cti_12"] = _trend_correlation(c, 12)
    out["entropy_10"] = _entropy(c, 10)
    out["psl_12"] = _rolling_sum((c > o).astype(float), 12) / 12
    out["rvi_14"] = _relative_volatility(c, 14)
    out["ulcer_14"] = _ulcer(c, 14)
    out["cg_10"] = _centre_of_gravity(c, 10) + 5.5
    out["pgo_14"] = (c - talib.SMA(c, 14)) / talib.EMA(talib.ATR(h, lo, c, 14), 14)
    close_range_28 = np.abs(_rolling_max(c, 28) - _rolling_min(c, 28))
    out["vhf_28"] = close_range_28 / _rolling_sum(close_moves, 28)
    ema_13 = talib.EMA(c, 13)
    out["bull_power_13"] = (h - ema_13) / c
    out["bear_power_13"] = (lo - ema_13) / c
    out["qstick_10"] = talib.SMA(c - o, 10) / c
    out["cfo_9"] = (c - talib.TSF(c, 9)) / c


def _vortex_diff(h, lo, true_range, window: int) -> np.ndarray:
    range_sum = _rolling_sum(true_range, window)
    up_moves = _rolling_sum(np.abs(h - _shifted(lo, 1)), window)
    down_moves = _rolling_sum(np.abs(lo - _shifted(h, 1)), window)
    return up_moves / range_sum - down_moves / range_sum


def _choppiness(h, lo, true_range, window: int) -> np.ndarray:
    span = _rolling_max(h, window) - _rolling_min(lo, window)
    path = _rolling_sum(true_range, window)
    return (np.log10(path) - np.log10(span)) / np.log10(window)


def _trend_correlation(c, window: int) -> np.ndarray:
    """Correlation of each window's closes with time (Ehlers' CTI). Measured from the window's
    first close: the same correlation, without the cancellation of raw price sums."""
    windows = _windows(c, window)
    y = windows - windows[:, :1]
    x = np.arange(1, window + 1, dtype="float64")
    x_sum, y_sum = x.sum(), y.sum(axis=1)
    numerator = window * (y @ x) - x_sum * y_sum
    x_spread = window * (x @ x) - x_sum * x_sum
    y_spread = window * (y * y).sum(axis=1) - y_sum * y_sum
    denominator = np.sqrt(x_spread * y_spread)
    return numerator / np.where(denominator == 0, np.finfo(float).eps, denominator)


def _entropy(c, window: int) -> np.ndarray:
    share = c / _rolling_sum(c, window)
    return _rolling_sum(-share * np.log(share) / np.log(2.0), window)


def _relative_volatility(c, window: int) -> np.ndarray:
    std = talib.STDDEV(c, window)
    move = np.nan_to_num(np.diff(c, prepend=np.nan))
    up_avg = talib.EMA((move > 0) * std, window)
    down_avg = talib.EMA((move < 0) * std, window)
    return up_avg / (up_avg + down_avg)


def _ulcer(c, window: int) -> np.ndarray:
    highest = _rolling_max(c, window)
    drawdown = (c - highest) / highest
    return np.sqrt(_rolling_sum(drawdown * drawdown, window) / window)


def _centre_of_gravity(c, window: int) -> np.ndarray:
    weighted = _windows(c, window) @ np.arange(1, window + 1, dtype="float64")
    return -weighted / _rolling_sum(c, window)


def _calendar(stamps: np.ndarray, timeframe: Timeframe, out) -> None:
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


MARKET_LAGS = (1, 6, 24)
MARKET_WINDOW = 24


def market_columns(bases: tuple[str, ...]) -> list[str]:
    names = []
    for base in bases:
        p = base.lower()
        names += [f"{p}_ret_{k}_z" for k in MARKET_LAGS]
        names += [f"{p}_vol_regime", f"{p}_vol_rel", f"{p}_beta_{MARKET_WINDOW}"]
        names += [f"{p}_corr_{MARKET_WINDOW}"] + [f"{p}_rel_{k}" for k in MARKET_LAGS]
    return names


def _aligned(stamps: np.ndarray, bench_stamps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """values (one per benchmark candle) at the coin's candles; NaN where the benchmark has none."""
    at = np.minimum(np.searchsorted(bench_stamps, stamps), len(bench_stamps) - 1)
    return np.where(bench_stamps[at] == stamps, values[at], np.nan)


def _beta_and_corr(x: np.ndarray, y: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling beta of x on y and their correlation; NaN wherever a window holds a NaN."""
    dx, dy = (w - w.mean(axis=1, keepdims=True) for w in (_windows(x, window), _windows(y, window)))
    sxy, sxx, syy = (dx * dy).sum(axis=1), (dx * dx).sum(axis=1), (dy * dy).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return sxy / syy, sxy / np.sqrt(sxx * syy)


def _benchmark_moves(series: BenchmarkSeries) -> tuple[dict, dict]:
    """The benchmark's log returns over each lag and its volatility over 5 and MARKET_WINDOW
    candles, on its own candles: computed once per series, shared by every coin."""
    moves = series.derived.get("moves")
    if moves is None:
        lc = series.log_close
        bench = {k: np.concatenate([np.full(k, np.nan), lc[k:] - lc[:-k]]) for k in MARKET_LAGS}
        bench_vol = {w: _Moments(bench[1], w).std() for w in (5, MARKET_WINDOW)}
        moves = series.derived["moves"] = (bench, bench_vol)
    return moves


def _market(stamps: np.ndarray, market: MarketContext, out) -> None:
    """Each benchmark's recent returns and volatility regime at the coin's candle, and the coin
    against it: volatility ratio, rolling beta and correlation, and its return less beta times
    the benchmark's (the coin's own move), all in units of volatility. Benchmark returns are
    taken on the benchmark's own candles, then matched to the coin's by open time."""
    coin_r1, coin_vol = out["ret_1"], out["vol_24"]
    for base, series in market.series.items():
        p = base.lower()
        bench, bench_vol = _benchmark_moves(series)
        at = {k: _aligned(stamps, series.stamps, v) for k, v in bench.items()}
        vol = _aligned(stamps, series.stamps, bench_vol[MARKET_WINDOW])
        vol_5 = _aligned(stamps, series.stamps, bench_vol[5])
        beta, corr = _beta_and_corr(coin_r1, at[1], MARKET_WINDOW)
        for k in MARKET_LAGS:
            out[f"{p}_ret_{k}_z"] = at[k] / (vol * np.sqrt(k) + _EPS)
        out[f"{p}_vol_regime"] = vol_5 / (vol + _EPS)
        out[f"{p}_vol_rel"] = np.log((coin_vol + _EPS) / (vol + _EPS))
        out[f"{p}_beta_{MARKET_WINDOW}"] = beta
        out[f"{p}_corr_{MARKET_WINDOW}"] = corr
        for k in MARKET_LAGS:
            own = out[f"ret_{k}"] - beta * at[k]
            out[f"{p}_rel_{k}"] = own / (coin_vol * np.sqrt(k) + _EPS)


@cache
def _column_index(names: tuple[str, ...]) -> pd.Index:
    return pd.Index(names)


def compute_features(
    candles: pd.DataFrame, timeframe: Timeframe, market: MarketContext | None = None
) -> pd.DataFrame:
    """Feature frame aligned with `candles` (sorted, clean); warm-up rows hold NaN. With a
    market context, the market columns follow the coin's own (see `market_columns`)."""
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
    stamps = candles["timestamp"].to_numpy("datetime64[ns]")
    _calendar(stamps, timeframe, out)
    if market is not None:
        _market(stamps, market, out)
    values = np.array(list(out.values()), dtype="float64").T  # column-major, as pandas stores it
    values[~np.isfinite(values)] = np.nan
    values[: WARMUP_CANDLES - 1] = np.nan
    return pd.DataFrame(values, columns=_column_index(tuple(out)), index=candles.index, copy=False)


def feature_columns(timeframe: Timeframe, market_bases: tuple[str, ...] = ()) -> list[str]:
    """The names compute_features produces for this timeframe (and these benchmarks), in order."""
    return list(_probe_columns(timeframe.code)) + market_columns(tuple(market_bases))


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
