"""
### score_outcomes

Hourly (at :50), and whenever `ohlcv_update` writes new candles: every stored forecast step
whose target candle has closed is scored against the realised close (the Parquet store for the
universe, the provider for any other coin) into `prediction_outcomes`, by UPSERT: a re-run
writes nothing, a late candle is scored once it is in the store. Then the rolling figures the new
outcomes touch are recomputed (`outcome_rolling`: per model version × horizon h1/h6/h30/all ×
day × 1/7/30-day window, with intervals, beside the version's test window), drift is checked
(one alert per version per day) and the forward paper ledger (`paper_positions`) is run on the
new candles and the new served forecasts; its emergency stops pause a version and alert.
Last, the live gate: each challenger's shadows paired with the champion's forecasts of the same
requests (n, differences of direction accuracy and rank IC with intervals, verdict, decide-by)
recorded on its row; with auto-promotion on, one that passed both gates is promoted and one not
promoted by its deadline rejected (see the README's Releases).
"""

from __future__ import annotations

from airflow.sdk import dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from candlecast.orchestration import OHLCV, dag_kwargs


@dag(
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("50 * * * *", timezone="UTC"), assets=OHLCV
    ),
    **dag_kwargs(__doc__, owner="data-team", tags=["monitoring"]),
)
def score_outcomes():
    @task
    def score() -> dict:
        from candlecast.pipeline import run_score_outcomes
        from candlecast.settings import Settings

        return run_score_outcomes(Settings())

    score()


score_outcomes()
