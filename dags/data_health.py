"""
### data_health

Hourly (at :35): for every timeframe of the active top-N universe, how many series exist
(coverage), which are stale (no new candle for more than two periods), which have gaps (each with
its length), and which have a recent candle the move check would flag or hold (with why). Results
go to the `data_health` table; one alert is
sent when the stale fraction or the coverage crosses its threshold
(`CANDLECAST_HEALTH_MAX_STALE_FRACTION`, `CANDLECAST_HEALTH_MIN_COVERAGE`).
"""

from __future__ import annotations

from airflow.sdk import dag, task

from candlecast.orchestration import dag_kwargs


@dag(schedule="35 * * * *", **dag_kwargs(__doc__, owner="data-team", tags=["market-data"]))
def data_health():
    @task
    def check(logical_date=None) -> dict:
        from candlecast.pipeline import run_data_health
        from candlecast.settings import Settings

        return run_data_health(Settings(), logical_date)

    check()


data_health()
