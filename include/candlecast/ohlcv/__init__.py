"""The OHLCV data: the Parquet store, one definition of a clean candle series, Great Expectations
validation, incremental ingestion, the symbol universe, data health and quality records.

May import: `candlecast.marketdata`, `candlecast.ops`, `candlecast.settings`,
`candlecast.timeframes`.

Re-exported here is what serving may use too (the store, the cleaner, health, quality records).
`validation` (the GX suites), `ingest` (which runs them) and `symbols` (whose sync validates the
provider's ticker list) reach Great Expectations, so they are imported by their path, by the
workflows only: importing this package never loads GX.
"""

from candlecast.ohlcv import data_health, quality
from candlecast.ohlcv.cleaning import CleaningReport, clean_candles, drop_unclosed
from candlecast.ohlcv.store import CandleStore, describe_series, merge_candles, ticker_filename

__all__ = [
    "CandleStore",
    "CleaningReport",
    "clean_candles",
    "data_health",
    "describe_series",
    "drop_unclosed",
    "merge_candles",
    "quality",
    "ticker_filename",
]
