"""The market features: the coin against its benchmarks (BTC and ETH, `MarketContext`) at the
same candle: their recent returns and volatility regime, and the coin's volatility ratio, beta,
correlation and own move against each."""

from __future__ import annotations

import numpy as np

from candlecast.modeling.features.helpers import (
    EPS,
    Moments,
    rolling_windows,
)
from candlecast.modeling.market_context import BenchmarkSeries, MarketContext

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
    dx, dy = (
        w - w.mean(axis=1, keepdims=True)
        for w in (rolling_windows(x, window), rolling_windows(y, window))
    )
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
        bench_vol = {w: Moments(bench[1], w).std() for w in (5, MARKET_WINDOW)}
        moves = series.derived["moves"] = (bench, bench_vol)
    return moves


def add_market(stamps: np.ndarray, market: MarketContext, out) -> None:
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
            out[f"{p}_ret_{k}_z"] = at[k] / (vol * np.sqrt(k) + EPS)
        out[f"{p}_vol_regime"] = vol_5 / (vol + EPS)
        out[f"{p}_vol_rel"] = np.log((coin_vol + EPS) / (vol + EPS))
        out[f"{p}_beta_{MARKET_WINDOW}"] = beta
        out[f"{p}_corr_{MARKET_WINDOW}"] = corr
        for k in MARKET_LAGS:
            own = out[f"ret_{k}"] - beta * at[k]
            out[f"{p}_rel_{k}"] = own / (coin_vol * np.sqrt(k) + EPS)
