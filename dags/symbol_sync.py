"""
### symbol_sync

Daily: every crypto ticker the market data provider lists is upserted into `symbols`,
tickers the provider no longer lists are marked inactive, and the active ones are ranked by
the last full day's USD volume. Emits the `candlecast://symbols` Asset, which schedules
`ohlcv_update`.
"""

from __future__ import annotations

from airflow.sdk import Asset, dag, task

from candlecast.dag_defaults import dag_kwargs

SYMBOLS = Asset("candlecast://symbols")


@dag(schedule="@daily", **dag_kwargs(__doc__, owner="data-team", tags=["market-data"]))
def symbol_sync():
    @task(outlets=[SYMBOLS])
    def sync() -> dict:
        from candlecast.pipeline import run_symbol_sync
        from candlecast.settings import Settings

        return run_symbol_sync(Settings())

    sync()


symbol_sync()
