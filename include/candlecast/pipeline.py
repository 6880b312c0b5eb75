"""The workflows the DAGs and the CLI run: each returns small, JSON-safe summaries (for XCom)."""

from __future__ import annotations

import logging

import pandas as pd

from candlecast import db
from candlecast.ingest import update_many
from candlecast.marketdata import get_provider
from candlecast.settings import Settings
from candlecast.store import CandleStore
from candlecast.symbols import sync_symbols, top_symbols
from candlecast.timeframes import TIMEFRAME_CODES, parse_timeframe

log = logging.getLogger(__name__)


def run_symbol_sync(settings: Settings) -> dict:
    with db.connect(settings) as conn:
        result = sync_symbols(conn, get_provider(settings))
    return result.__dict__


def universe_batches(settings: Settings, symbols: list[str] | None = None) -> list[list[str]]:
    """The top-N universe (or the given symbols) in batches, one mapped task per batch."""
    if not symbols:
        with db.connect(settings) as conn:
            symbols = top_symbols(conn, settings.candlecast_top_n)
    size = settings.candlecast_symbol_batch_size
    return [symbols[i : i + size] for i in range(0, len(symbols), size)]


def update_batch(
    settings: Settings,
    tickers: list[str],
    timeframes: tuple[str, ...] = TIMEFRAME_CODES,
    since: str | None = None,
) -> dict:
    """Update (or, with `since`, backfill) every timeframe of a batch of symbols."""
    provider = get_provider(settings)
    store = CandleStore(settings.store_dir)
    now = provider.now()
    series = [(ticker, parse_timeframe(code)) for ticker in tickers for code in timeframes]
    start = None if since is None else pd.Timestamp(since, tz="UTC")
    results = [
        r.as_dict()
        for r in update_many(store, provider, series, now, settings.home / "quarantine", start)
    ]
    counts: dict[str, int] = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    return {
        "counts": counts,
        "written": [r["path"] for r in results if r["status"] == "written"],
        "quarantined": [r["path"] for r in results if r["status"] == "quarantined"],
        "failed": [
            f"{r['ticker']} {r['timeframe']}: {r['reason']}"
            for r in results
            if r["status"] == "failed"
        ],
    }


def train_and_register(settings: Settings, timeframe_code: str) -> dict:
    from candlecast.modeling.training import train_timeframe
    from candlecast.registry import save_model

    timeframe = parse_timeframe(timeframe_code)
    store = CandleStore(settings.store_dir)
    tickers = store.tickers(timeframe)
    model = train_timeframe(store, tickers, timeframe)
    with db.connect(settings) as conn:
        tag = save_model(settings, conn, model)
    headline = model.info["metrics"]["test"].get("all", {})
    log.info("registered %s on %d symbols: %s", tag, len(tickers), headline)
    return {
        "tag": tag,
        "n_symbols": len(tickers),
        "direction_accuracy": headline.get("direction_accuracy"),
        "mae_ratio_to_random_walk": headline.get("mae_ratio_to_random_walk"),
    }
