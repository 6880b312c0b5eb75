"""
### ohlcv_update

Hourly (at :05), and whenever `symbol_sync` refreshes the universe: brings every symbol of the
top-N universe up to date in the Parquet store. A scheduled run updates only the timeframes with
a candle that can have closed in the past hour (1h always, 4h every four hours, 1d/1w/1M at their
boundaries); an Asset-triggered or manual run updates all five.

The universe is split into batches, one mapped task per batch (pool `market_data_api` caps
provider concurrency). Each batch: fetch from the last stored candle → one Great Expectations run
over the whole batch, each series measured against its own history (moves only between
consecutive candles, on the series' own scale; gaps reported with their length) → only the
defective candles are held in `$CANDLECAST_HOME/quarantine` (a `quarantine` entry and a
`data_quality` row; review them with the `quarantine_review` DAG or `candlecast quarantine`), the
rest of the series is written atomically. One alert per run sums up what is new (a first load as
one history line; nothing for a run that found nothing new); GX Data Docs are rebuilt. Tasks
exchange paths and counts only.
Emits `candlecast://ohlcv`, which schedules `train_models`, **only when series were written**
(the event's `extra` says how many per timeframe); a run that wrote nothing skips `announce`
and emits nothing, so nothing retrains.
"""

from __future__ import annotations

from airflow.sdk import dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from candlecast.orchestration import OHLCV, SYMBOLS, dag_kwargs

# A mapped batch reads as "X:BTCUSDT … X:XRPUSDT (5) 1h,4h" in the UI.
BATCH_LABEL = (
    "{{ task.op_kwargs['tickers'][0] }} … {{ task.op_kwargs['tickers'][-1] }} "
    "({{ task.op_kwargs['tickers'] | length }}) {{ task.op_kwargs['timeframes'] | join(',') }}"
)
HOURLY = CronTriggerTimetable("5 * * * *", timezone="UTC")


@dag(
    schedule=AssetOrTimeSchedule(timetable=HOURLY, assets=SYMBOLS),
    **dag_kwargs(__doc__, owner="data-team", tags=["market-data"]),
)
def ohlcv_update():
    @task
    def plan(dag_run=None, logical_date=None) -> list[dict]:
        from candlecast.pipeline import due_timeframes, plan_update
        from candlecast.settings import Settings

        return plan_update(Settings(), due_timeframes(dag_run.run_type, logical_date))

    @task(pool="market_data_api", map_index_template=BATCH_LABEL)
    def update(tickers: list[str], timeframes: list[str], run_id: str | None = None) -> dict:
        from candlecast.pipeline import update_batch
        from candlecast.settings import Settings

        return update_batch(Settings(), tickers, timeframes, run_id=run_id)

    @task
    def summarise(batches: list[dict], run_id: str | None = None) -> dict:
        from candlecast.pipeline import summarise_update
        from candlecast.settings import Settings

        return summarise_update(Settings(), list(batches), run_id or "")

    @task(outlets=[OHLCV])
    def announce(summary: dict, outlet_events=None) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from candlecast.pipeline import ohlcv_changes

        changes = ohlcv_changes(summary)
        if not changes["series_written"]:
            raise AirflowSkipException("no series written: no candlecast://ohlcv event")
        outlet_events[OHLCV].extra = changes
        return changes

    announce(summarise(update.expand_kwargs(plan())))


ohlcv_update()
