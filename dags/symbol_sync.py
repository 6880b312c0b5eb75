"""
### symbol_sync

Daily: every crypto ticker the market data provider lists is upserted into `symbols`,
tickers the provider no longer lists are marked inactive, and the active ones are ranked by
the last full day's USD volume. Emits the `candlecast://symbols` Asset, which schedules
`ohlcv_update`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, task

SYMBOLS = Asset("candlecast://symbols")


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["candlecast", "market-data"],
    default_args={
        "owner": "data-team",
        "retries": 2,
        "retry_delay": pendulum.duration(minutes=1),
        "retry_exponential_backoff": True,
    },
)
def symbol_sync():
    @task(outlets=[SYMBOLS])
    def sync() -> dict:
        from candlecast.pipeline import run_symbol_sync
        from candlecast.settings import Settings

        return run_symbol_sync(Settings())

    sync()


symbol_sync()
