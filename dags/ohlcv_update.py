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

from airflow.sdk import Asset, dag, task

from candlecast.dag_defaults import dag_kwargs

SYMBOLS = Asset("candlecast://symbols")
OHLCV = Asset("candlecast://ohlcv")
# A mapped batch reads as "X:BTCUSDT … X:XRPUSDT (5)" in the UI.
BATCH_LABEL = (
    "{{ task.op_kwargs['tickers'][0] }} … {{ task.op_kwargs['tickers'][-1] }} "
    "({{ task.op_kwargs['tickers'] | length }})"
)


@dag(schedule=[SYMBOLS], **dag_kwargs(__doc__, owner="data-team", tags=["market-data"]))
def ohlcv_update():
    @task
    def plan_batches() -> list[list[str]]:
        from candlecast.pipeline import universe_batches
        from candlecast.settings import Settings

        return universe_batches(Settings())

    @task(pool="market_data_api", map_index_template=BATCH_LABEL)
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
