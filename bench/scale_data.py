"""Scale data for benchmarks, built from the real sample (never pure random walks).

Each synthetic ticker is a block bootstrap of real hourly candles: weeks of one real coin's
candles (relative shapes: gap, body, wicks, volume) laid end to end in random order from a
random price level; 4h, 1d, 1w and 1M are resampled from those hours.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from candlecast.marketdata import SampleProvider
from candlecast.settings import SAMPLE_DATA_DIR
from candlecast.timeframes import TIMEFRAMES

BLOCK_HOURS = 24 * 7
RULES = {"4h": "4h", "1d": "1D", "1w": "W-MON", "1M": "MS"}


def _hourly_shapes() -> list[np.ndarray]:
    sample = SampleProvider(SAMPLE_DATA_DIR)
    shapes = []
    for ticker in sample.list_tickers():
        h = sample.fetch_candles(
            ticker.ticker, TIMEFRAMES["1h"], pd.Timestamp("2000-01-01", tz="UTC"), sample.now()
        )
        prev_close = h["close"].shift(1).fillna(h["open"])
        shapes.append(
            np.column_stack(
                [
                    np.log(h["open"] / prev_close),
                    np.log(h["high"] / h["open"]),
                    np.log(h["low"] / h["open"]),
                    np.log(h["close"] / h["open"]),
                    h["volume"] / h["volume"].median(),
                ]
            )
        )
    return shapes


def synthetic_hours(shapes: list[np.ndarray], hours: pd.DatetimeIndex, rng) -> pd.DataFrame:
    source = shapes[rng.integers(len(shapes))]
    blocks = -(-len(hours) // BLOCK_HOURS)
    starts = rng.integers(0, len(source) - BLOCK_HOURS, size=blocks)
    rows = np.concatenate([source[s : s + BLOCK_HOURS] for s in starts])[: len(hours)]
    gap, up, down, body, volume = rows.T
    log_open = np.log(10 ** rng.uniform(-4, 4)) + np.cumsum(gap + np.concatenate([[0], body[:-1]]))
    open_ = np.exp(log_open)
    return pd.DataFrame(
        {
            "timestamp": hours,
            "open": open_,
            "high": open_ * np.exp(up),
            "low": open_ * np.exp(down),
            "close": open_ * np.exp(body),
            "volume": volume * 10 ** rng.uniform(2, 6),
        }
    )


def resample(hours: pd.DataFrame, rule: str) -> pd.DataFrame:
    grouped = hours.set_index("timestamp").resample(rule, label="left", closed="left")
    out = (
        pd.DataFrame(
            {
                "open": grouped["open"].first(),
                "high": grouped["high"].max(),
                "low": grouped["low"].min(),
                "close": grouped["close"].last(),
                "volume": grouped["volume"].sum(),
            }
        )
        .dropna()
        .reset_index()
    )
    return out


def build(folder: Path, n_tickers: int, seed: int = 11) -> list[str]:
    """Write `<tf>/<PAIR>.parquet` for n synthetic pairs (cached: reused when present)."""
    pairs = [f"SYN{i:04d}USDT" for i in range(n_tickers)]
    if all((folder / "1M" / f"{p}.parquet").exists() for p in pairs):
        return pairs
    rng = np.random.default_rng(seed)
    shapes = _hourly_shapes()
    end = SampleProvider(SAMPLE_DATA_DIR).now()
    hours = pd.date_range(
        end - pd.Timedelta(days=5 * 365 + 2), end, freq="1h", inclusive="left", tz="UTC"
    )
    for code in ("1h", *RULES):
        (folder / code).mkdir(parents=True, exist_ok=True)
    for pair in pairs:
        hourly = synthetic_hours(shapes, hours, rng)
        hourly.to_parquet(folder / "1h" / f"{pair}.parquet", index=False)
        for code, rule in RULES.items():
            resample(hourly, rule).to_parquet(folder / code / f"{pair}.parquet", index=False)
    return pairs
