"""The OHLCV data.

    `parquet_store`      the Parquet candle store on disk, atomic writes under a per-series lock
    `s3_store`           the same store on an S3-compatible object store
    `cleaning`           one definition of a clean candle series
    `moves`              moves judged on each series' own scale
    `validation/`        the Great Expectations suites, checks and verdicts
    `ingest`             incremental ingestion; held candles into quarantine
    `quarantine_review`  the review of held candles
    `symbols`            the symbol universe
    `data_health`        stale series, gaps, spikes, coverage
    `quality`            data-quality records
    `update_summary`     an update run's counts, findings and alert

May import: `candlecast.marketdata`, `candlecast.ops`, `candlecast.settings`,
`candlecast.timeframes`.

Re-exported here is what serving may use too (the store, the cleaner, health, quality records).
`validation` (the GX suites), `ingest` (which runs them) and `symbols` (whose sync validates the
provider's ticker list) reach Great Expectations, so they are imported by their path, by the
workflows only: importing this package never loads GX.
"""

from candlecast.ohlcv import data_health, moves, quality, quarantine_review, update_summary
from candlecast.ohlcv.cleaning import clean_candles, drop_unclosed
from candlecast.ohlcv.parquet_store import CandleStore, merge_candles, ticker_filename
from candlecast.ohlcv.s3_store import ObjectCandleStore, open_store

__all__ = [
    "CandleStore",
    "ObjectCandleStore",
    "clean_candles",
    "data_health",
    "drop_unclosed",
    "merge_candles",
    "moves",
    "open_store",
    "quality",
    "quarantine_review",
    "ticker_filename",
    "update_summary",
]
