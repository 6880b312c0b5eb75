"""The Assets the DAGs produce and consume, defined once: a producer lists one in `outlets`, a
consumer in its schedule, both by importing it from here."""

from __future__ import annotations

from airflow.sdk import Asset

SYMBOLS = Asset("candlecast://symbols")  # the symbol universe was synced and ranked
OHLCV = Asset("candlecast://ohlcv")  # the Parquet store was updated
