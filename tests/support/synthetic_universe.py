"""A synthetic universe of coins with a planted cross-sectional signal of known strength.

Returns are fat-tailed (Student t, 4 degrees of freedom) with volatility clustering (an AR(1)
log-volatility per coin) on top of a shared market move. The planted signal is a hidden state
m[i, t] (AR(1), phi 0.3, unit variance) that moves coin i's next return by `signal` of its own
volatility and shows in candle t's volume, so a model can see it at t's close and no earlier:

    r[i, t+1] = beta_i * market[t+1] + sigma[i, t] * (signal * m[i, t] + sqrt(1 - signal^2) * e)

With `signal` 0.08 the rank IC across coins at h=1 is about 0.05-0.08 and decays with the horizon
(phi^(h-1)); with `signal` 0 the same universe carries no information at all.

`reversal` plants what a one-line rule finds: `reversal` of each coin's own shock at t comes back
at t+1 with the opposite sign, so ranking the coins by minus their last candle's return has a rank
IC of about `reversal` at h=1, which decays as 1/sqrt(h) (the later candles carry none of it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

START = pd.Timestamp("2022-01-03", tz="UTC")
PHI = 0.3
VOLUME_LOADING = 0.8


def _t4(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.standard_t(4, size=shape) / np.sqrt(2.0)  # unit variance


def synthetic_candles(
    coins: int = 50, hours: int = 2400, signal: float = 0.08, seed: int = 11, reversal: float = 0.0
) -> dict[str, pd.DataFrame]:
    """{pair: 1h OHLCV frame} for `coins` pairs named SYN00USDT, SYN01USDT, …"""
    rng = np.random.default_rng(seed)
    market = 0.004 * _t4(rng, hours)
    log_vol = np.zeros((coins, hours))
    shocks = rng.normal(0.0, 0.15, (coins, hours))
    for t in range(1, hours):
        log_vol[:, t] = 0.97 * log_vol[:, t - 1] + shocks[:, t]
    sigma = rng.uniform(0.006, 0.02, (coins, 1)) * np.exp(log_vol)
    state = np.zeros((coins, hours))
    innovations = rng.normal(0.0, np.sqrt(1 - PHI**2), (coins, hours))
    state[:, 0] = rng.normal(0.0, 1.0, coins)
    for t in range(1, hours):
        state[:, t] = PHI * state[:, t - 1] + innovations[:, t]
    beta = rng.uniform(0.8, 1.2, (coins, 1))
    noise = _t4(rng, (coins, hours))
    returns = np.zeros((coins, hours))
    returns[:, 1:] = beta * market[None, 1:] + sigma[:, :-1] * (
        signal * state[:, :-1] + np.sqrt(1 - signal**2) * noise[:, 1:]
    )
    returns[:, 2:] -= reversal * sigma[:, :-2] * noise[:, 1:-1]  # last candle's shock, undone
    close = 100.0 * rng.uniform(0.01, 100.0, (coins, 1)) * np.exp(np.cumsum(returns, axis=1))
    open_ = np.concatenate([close[:, :1] * np.exp(-returns[:, :1]), close[:, :-1]], axis=1)
    wick = sigma * np.abs(rng.normal(0.0, 0.5, (coins, hours, 2))).transpose(2, 0, 1)
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    volume = np.exp(10.0 + VOLUME_LOADING * state + rng.normal(0.0, 0.3, (coins, hours)))
    stamps = pd.date_range(START, periods=hours, freq="1h").astype("datetime64[ms, UTC]")
    return {
        f"SYN{i:02d}USDT": pd.DataFrame(
            {
                "timestamp": stamps,
                "open": open_[i],
                "high": high[i],
                "low": low[i],
                "close": close[i],
                "volume": volume[i],
            }
        )
        for i in range(coins)
    }


def daily(frame: pd.DataFrame) -> pd.DataFrame:
    """Whole UTC days of an hourly frame."""
    grouped = frame.set_index("timestamp").resample("1D")
    days = pd.DataFrame(
        {
            "open": grouped["open"].first(),
            "high": grouped["high"].max(),
            "low": grouped["low"].min(),
            "close": grouped["close"].last(),
            "volume": grouped["volume"].sum(),
            "hours": grouped["close"].count(),
        }
    )
    days = days[days["hours"] == 24].drop(columns="hours").reset_index()
    return days.astype({"timestamp": "datetime64[ms, UTC]"})


def write_universe(folder: Path, candles: dict[str, pd.DataFrame]) -> Path:
    """The sample provider's layout: <timeframe>/<PAIR>.parquet (1h, and 1d for volumes)."""
    for pair, frame in candles.items():
        for code, data in (("1h", frame), ("1d", daily(frame))):
            (folder / code).mkdir(parents=True, exist_ok=True)
            data.to_parquet(folder / code / f"{pair}.parquet", index=False)
    return folder


def write_store(root: Path, candles: dict[str, pd.DataFrame]) -> Path:
    """The Parquet store's layout for 1h (what training reads)."""
    from candlecast.ohlcv import CandleStore
    from candlecast.timeframes import TIMEFRAMES

    store = CandleStore(root)
    for pair, frame in candles.items():
        typical = (frame["high"] + frame["low"] + frame["close"]) / 3.0  # as the sample provider
        frame = frame.assign(vwap=typical, trades=float("nan"))
        store.write(f"X:{pair}", TIMEFRAMES["1h"], frame)
    return root
