"""The five timeframe codes, importable without pandas: the DAG files read them at parse time
(`candlecast.timeframes` defines each timeframe and checks it defines these)."""

TIMEFRAME_CODES: tuple[str, ...] = ("1h", "4h", "1d", "1w", "1M")
