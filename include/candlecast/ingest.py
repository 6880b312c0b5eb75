"""Incremental update of one series: fetch → validate (GX) → clean → merge → trim → atomic write."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from candlecast.cleaning import clean_candles, drop_unclosed
from candlecast.marketdata.base import MarketDataProvider
from candlecast.store import CandleStore, merge_candles, ticker_filename
from candlecast.timeframes import Timeframe
from candlecast.validation import validate_candles

log = logging.getLogger(__name__)


@dataclass
class UpdateResult:
    ticker: str
    timeframe: str
    status: str  # written | unchanged | quarantined
    rows_fetched: int
    rows_stored: int
    path: str
    reason: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def quarantine(
    root: Path, ticker: str, timeframe: Timeframe, batch: pd.DataFrame, reason: dict
) -> Path:
    stamp = pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%S%f")
    folder = root / timeframe.slug / ticker_filename(ticker).removesuffix(".parquet")
    folder.mkdir(parents=True, exist_ok=True)
    batch.to_parquet(folder / f"{stamp}.parquet", index=False)
    (folder / f"{stamp}.json").write_text(json.dumps(reason, indent=2, default=str))
    return folder / f"{stamp}.parquet"


def update_series(
    store: CandleStore,
    provider: MarketDataProvider,
    ticker: str,
    timeframe: Timeframe,
    now: pd.Timestamp,
    quarantine_root: Path,
) -> UpdateResult:
    stored = store.read(ticker, timeframe)
    retention_start = timeframe.retention_start(now)
    # Re-fetch the last stored candle too: the provider may have revised it.
    start = retention_start if stored.empty else stored["timestamp"].iloc[-1]
    batch = drop_unclosed(provider.fetch_candles(ticker, timeframe, start, now), timeframe, now)
    path = store.path(ticker, timeframe)
    outcome = validate_candles(batch, timeframe, now)
    if not outcome.success:
        where = quarantine(
            quarantine_root,
            ticker,
            timeframe,
            batch,
            {"ticker": ticker, "timeframe": timeframe.code, "failures": outcome.failures},
        )
        log.warning(
            "quarantined %s %s batch of %d rows: %s (%s)",
            ticker,
            timeframe.code,
            len(batch),
            outcome.summary(),
            where,
        )
        return UpdateResult(
            ticker,
            timeframe.code,
            "quarantined",
            len(batch),
            len(stored),
            str(where),
            outcome.summary(),
        )
    fresh, _ = clean_candles(batch, timeframe, now, label=ticker)
    merged = merge_candles(stored, fresh)
    merged = merged[merged["timestamp"] >= retention_start].reset_index(drop=True)
    if merged.equals(stored):
        return UpdateResult(ticker, timeframe.code, "unchanged", len(batch), len(stored), str(path))
    store.write(ticker, timeframe, merged)
    return UpdateResult(ticker, timeframe.code, "written", len(batch), len(merged), str(path))
