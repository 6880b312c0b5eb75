"""
### train_models

One forecasting model per timeframe (1h, 4h, 1d, 1w, 1M) across all stored symbols: scale-free
features, walk-forward folds with purge, four learners (XGBoost, random forest, ridge, LSTM) and
three naive rankers (± the last 1, 6 and 24 candles' return) on horizon-normalised log returns
for horizons 1–30, per horizon the signal of the highest validation rank IC served (their stacked
ensemble, one learner or one ranker), direction confidence calibrated on validation data. Each
version is saved in the BentoML model store as `candlecast-<timeframe>` (1M is stored as
`candlecast-1mo`, since BentoML lowercases tags) with its metrics and a `models` row.
Stablecoins, fiat, gold-pegged and wrapped coins are left out of training. Runs weekly (Sunday
02:00 UTC) and whenever `candlecast://ohlcv` changes; training reads the Parquet store, never
XCom.

On an ohlcv Asset event a timeframe retrains only when its store gained
`CANDLECAST_RETRAIN_MIN_NEW_CANDLES` candles since its champion's data end (a week of 1h, 4h or
1d candles, one 1w or 1M candle by default); otherwise its task is skipped with the count. A
weekly or manual run retrains every timeframe; a run triggered with `timeframes` (e.g.
`["1d"]`) retrains only those, the others skipped. Each new version is its timeframe's challenger
(the first one its champion), gated against the champion on the same most recent test window
(the champion imported from the object store when this worker's model store lacks it); one
that passes waits for the live gate (`CANDLECAST_AUTO_PROMOTE`) or a person (`release_models`).
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from candlecast.orchestration import OHLCV, TIMEFRAME_CODES, dag_kwargs


@dag(
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 2 * * 0", timezone="UTC"), assets=OHLCV
    ),
    params={
        "timeframes": Param(
            list(TIMEFRAME_CODES),
            type="array",
            items={"type": "string", "enum": list(TIMEFRAME_CODES)},
            description="the timeframes this run retrains (a run by hand; the others skip)",
        ),
    },
    **dag_kwargs(__doc__, owner="ml-team", tags=["models"]),
)
def train_models():
    @task(map_index_template="{{ task.op_kwargs['timeframe'] }}")
    def train(timeframe: str, dag_run=None, params=None) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from candlecast.pipeline import train_and_register, training_due
        from candlecast.settings import Settings

        due = training_due(Settings(), timeframe, dag_run.run_type, params["timeframes"])
        if not due["due"]:
            raise AirflowSkipException(due["reason"])
        return train_and_register(Settings(), timeframe, actor=f"train_models:{dag_run.run_id}")

    train.expand(timeframe=list(TIMEFRAME_CODES))


train_models()
