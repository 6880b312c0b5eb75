"""The cross-symbol training table: features at t, forward log returns at horizons 1..30."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from candlecast.features import VOLATILITY_COLUMN, compute_features, feature_columns
from candlecast.modeling.predictor import MAX_STEPS
from candlecast.store import CandleStore
from candlecast.timeframes import Timeframe

HORIZONS = np.arange(1, MAX_STEPS + 1)


@dataclass
class HorizonTable:
    """Long format: one row per (symbol, candle, horizon) whose forward return exists."""

    features: pd.DataFrame  # feature columns, float32
    horizon: np.ndarray
    timestamp: np.ndarray  # candle open (datetime64[ms])
    target_open: np.ndarray  # open of the candle whose close ends the target window
    log_return: np.ndarray
    sigma: np.ndarray
    ticker: np.ndarray

    @property
    def z(self) -> np.ndarray:
        return self.log_return / (self.sigma * np.sqrt(self.horizon))

    def take(self, mask: np.ndarray) -> HorizonTable:
        return HorizonTable(
            self.features[mask].reset_index(drop=True),
            self.horizon[mask],
            self.timestamp[mask],
            self.target_open[mask],
            self.log_return[mask],
            self.sigma[mask],
            self.ticker[mask],
        )

    def __len__(self) -> int:
        return len(self.horizon)


def build_table(store: CandleStore, tickers: list[str], timeframe: Timeframe) -> HorizonTable:
    columns = feature_columns(timeframe)
    parts: list[dict] = []
    for ticker in tickers:
        candles = store.read(ticker, timeframe)
        if len(candles) <= 40:
            continue
        features = compute_features(candles, timeframe)
        log_close = np.log(candles["close"].to_numpy())
        stamps = candles["timestamp"].to_numpy(dtype="datetime64[ms]")
        sigma = features[VOLATILITY_COLUMN].to_numpy()
        valid = features.notna().all(axis=1).to_numpy() & (sigma > 0)
        for h in HORIZONS:
            if len(candles) <= h:
                break
            rows = np.flatnonzero(valid[:-h])
            parts.append(
                {
                    "features": features.iloc[rows],
                    "horizon": np.full(len(rows), h, dtype="int16"),
                    "timestamp": stamps[rows],
                    "target_open": stamps[rows + h],
                    "log_return": log_close[rows + h] - log_close[rows],
                    "sigma": sigma[rows],
                    "ticker": np.full(len(rows), ticker, dtype=object),
                }
            )
    if not parts:
        raise ValueError(f"no {timeframe.code} series with enough candles to train on")
    return HorizonTable(
        features=pd.concat([p["features"] for p in parts], ignore_index=True)[columns].astype(
            "float32"
        ),
        **{
            k: np.concatenate([p[k] for p in parts])
            for k in ("horizon", "timestamp", "target_open", "log_return", "sigma", "ticker")
        },
    )
