"""candlecast: crypto OHLCV forecasting — data pipeline, models and serving."""

__version__ = "0.1.0"
