"""Incremental update of many series at once.

For each series: read the last stored candle → fetch only what is newer (all fetches of a batch
concurrently) → drop the still-open candle → one Great Expectations run over the whole batch →
series that fail go to quarantine, the rest are cleaned → merged (newer wins) → trimmed to the
retention window → written atomically.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from candlecast.marketdata import FetchRequest, MarketDataProvider
from candlecast.ohlcv.cleaning import clean_candles, drop_unclosed
from candlecast.ohlcv.store import CandleStore, merge_candles, ticker_filename
from candlecast.ohlcv.validation import is_critical, validate_batches
from candlecast.timeframes import Timeframe

log = logging.getLogger(__name__)


@dataclass
class UpdateResult:
    ticker: str
    timeframe: str
    status: str  # written | unchanged | quarantined | failed
    rows_fetched: int
    rows_stored: int
    path: str
    reason: str = ""
    failures: list[dict] = field(default_factory=list)  # GX failures (critical or warning)

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


def plan_fetch(
    store: CandleStore,
    ticker: str,
    timeframe: Timeframe,
    now: pd.Timestamp,
    since: pd.Timestamp | None = None,
) -> FetchRequest:
    """From the last stored candle (re-fetched: the provider may have revised it), or from
    `since` / the start of the retention window when there is nothing newer to start from."""
    retention_start = timeframe.retention_start(now)
    last = store.last_timestamp(ticker, timeframe)
    if since is not None:
        start = max(timeframe.floor(since), retention_start)
    elif last is None or last < retention_start:
        start = retention_start
    else:
        start = last
    return FetchRequest(ticker, timeframe, start, now)


def _store_series(
    store: CandleStore, request: FetchRequest, batch: pd.DataFrame, now: pd.Timestamp
) -> UpdateResult:
    ticker, timeframe = request.ticker, request.timeframe
    stored = store.read(ticker, timeframe)
    fresh, _ = clean_candles(batch, timeframe, now, label=ticker)
    merged = merge_candles(stored, fresh)
    merged = merged[merged["timestamp"] >= timeframe.retention_start(now)].reset_index(drop=True)
    path = store.path(ticker, timeframe)
    if merged.equals(stored):
        return UpdateResult(ticker, timeframe.code, "unchanged", len(batch), len(stored), str(path))
    store.write(ticker, timeframe, merged)
    return UpdateResult(ticker, timeframe.code, "written", len(batch), len(merged), str(path))


def update_many(
    store: CandleStore,
    provider: MarketDataProvider,
    series: list[tuple[str, Timeframe]],
    now: pd.Timestamp,
    quarantine_root: Path,
    since: pd.Timestamp | None = None,
    gx_project: Path | None = None,
) -> list[UpdateResult]:
    requests = [plan_fetch(store, ticker, tf, now, since) for ticker, tf in series]
    fetched = provider.fetch_many(requests)
    results: list[UpdateResult] = []
    batches: dict[tuple[str, str], tuple[FetchRequest, pd.DataFrame]] = {}
    for request, got in zip(requests, fetched, strict=True):
        key = (request.ticker, request.timeframe.code)
        if isinstance(got, Exception):
            log.warning("fetching %s %s failed: %s", *key, got)
            results.append(UpdateResult(*key, "failed", 0, 0, "", str(got)))
        else:
            batches[key] = (request, drop_unclosed(got, request.timeframe, now))
    failures = validate_batches(
        {k: (r.timeframe, b) for k, (r, b) in batches.items()}, now, gx_project
    )
    for key, (request, batch) in batches.items():
        if is_critical(failures.get(key, [])):
            where = quarantine(
                quarantine_root,
                request.ticker,
                request.timeframe,
                batch,
                {"ticker": key[0], "timeframe": key[1], "failures": failures[key]},
            )
            reason = "; ".join(f"{f['expectation']}({f['column']})" for f in failures[key])
            log.warning(
                "quarantined %s %s batch of %d rows: %s (%s)", *key, len(batch), reason, where
            )
            stored_rows = len(store.read(request.ticker, request.timeframe))
            results.append(
                UpdateResult(
                    *key, "quarantined", len(batch), stored_rows, str(where), reason, failures[key]
                )
            )
        else:
            result = _store_series(store, request, batch, now)
            result.failures = failures.get(key, [])  # warnings only: flagged, still written
            results.append(result)
    return results


def update_series(
    store: CandleStore,
    provider: MarketDataProvider,
    ticker: str,
    timeframe: Timeframe,
    now: pd.Timestamp,
    quarantine_root: Path,
) -> UpdateResult:
    (result,) = update_many(store, provider, [(ticker, timeframe)], now, quarantine_root)
    return result
