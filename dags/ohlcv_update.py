"""
### ohlcv_update

Brings every symbol of the top-N universe up to date in the Parquet store, for all five
timeframes (1h, 4h, 1d, 1w, 1M). The universe is split into batches, one mapped task per batch;
each series is fetched from its last stored candle, validated by the Great Expectations OHLCV
suite, and written atomically. A batch that fails validation is quarantined under
`$CANDLECAST_HOME/quarantine` and never reaches the store. Tasks exchange paths and counts only.
Emits `candlecast://ohlcv`, which schedules `train_models`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, task

SYMBOLS = Asset("candlecast://symbols")
OHLCV = Asset("candlecast://ohlcv")


@dag(
    schedule=[SYMBOLS],
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
def ohlcv_update():
    @task
    def plan_batches() -> list[list[str]]:
        from candlecast.pipeline import universe_batches
        from candlecast.settings import Settings

        return universe_batches(Settings())

    @task(pool="market_data_api", map_index_template="{{ task.op_kwargs['tickers'][0] }}…")
    def update(tickers: list[str]) -> dict:
        from candlecast.pipeline import update_batch
        from candlecast.settings import Settings

        return update_batch(Settings(), tickers)

    @task(outlets=[OHLCV])
    def summarise(results: list[dict]) -> dict:
        totals: dict[str, int] = {}
        for result in results:
            for status, n in result["counts"].items():
                totals[status] = totals.get(status, 0) + n
        return totals

    summarise(update.expand(tickers=plan_batches()))


ohlcv_update()
