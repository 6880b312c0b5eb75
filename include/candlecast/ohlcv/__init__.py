"""The OHLCV data: the Parquet store (a local folder, or an S3-compatible object store in
`s3_store`), one definition of a clean candle series, moves judged on each series' own scale,
Great Expectations validation, incremental ingestion, the symbol universe, data health, quality
records, the review of held candles and the run's report.

May import: `candlecast.marketdata`, `candlecast.ops`, `candlecast.settings`,
`candlecast.timeframes`.

Re-exported here is what serving may use too (the store, the cleaner, health, quality records).
`validation` (the GX suites), `ingest` (which runs them) and `symbols` (whose sync validates the
provider's ticker list) reach Great Expectations, so they are imported by their path, by the
workflows only: importing this package never loads GX.
"""

from candlecast.ohlcv import data_health, moves, quality, quarantine_review, update_summary
from candlecast.ohlcv.cleaning import CleaningReport, clean_candles, drop_unclosed
from candlecast.ohlcv.parquet_store import (
    CandleStore,
    describe_series,
    merge_candles,
    ticker_filename,
)
from candlecast.ohlcv.s3_store import ObjectCandleStore, open_store

__all__ = [
    "CandleStore",
    "CleaningReport",
    "ObjectCandleStore",
    "clean_candles",
    "data_health",
    "describe_series",
    "drop_unclosed",
    "merge_candles",
    "moves",
    "open_store",
    "quality",
    "quarantine_review",
    "ticker_filename",
    "update_summary",
]
