"""
### replay

What the champion of each date would have forecast at past dates, scored against what followed:
trigger with params. `timeframe`, the dates from `start` to `end` every `every` (e.g. `24h`),
the `top` coins by USD volume (or `symbols`, space-separated); each date's forecasts come from
the version that was champion at it (the current champion where that one is gone from the model
store, stated in the output), through the served forecaster's code, from candles closed at that
date only. Writes the table (`replay.parquet`), the figures (`scores.json`) and the report
(`report.html`, IC by horizon, IC over time, calibration, the spread's cumulative curve) under
`CANDLECAST_HOME/replays/`; the task returns their paths and the headline figures.
The same as `candlecast replay`. Never scheduled.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from candlecast.orchestration import TIMEFRAME_CODES, dag_kwargs


@dag(
    schedule=None,
    params={
        "timeframe": Param("1h", enum=list(TIMEFRAME_CODES)),
        "start": Param("", type="string", description="first date, e.g. 2021-05-20 (UTC)"),
        "end": Param("", type="string", description="last date, e.g. 2021-06-19 (UTC)"),
        "every": Param("24h", type="string", description="spacing: 24h, 4h, 1d, 1w or 1M"),
        "top": Param(None, type=["null", "integer"], minimum=1, description="top N coins"),
        "symbols": Param("", type="string", description="or these tickers, space-separated"),
        "fee": Param(0.001, type="number", minimum=0, description="a side, for the spread"),
    },
    **dag_kwargs(__doc__, owner="ml-team", tags=["models", "replay"]),
)
def replay():
    @task
    def replay_dates(params=None) -> dict:
        from candlecast.replay.workflow import replay_timeframe
        from candlecast.settings import Settings

        p = dict(params)
        return replay_timeframe(
            Settings(), p["timeframe"], p["start"], p["end"], p["every"], p["top"],
            p["symbols"].split() or None, fee=p["fee"],
        )  # fmt: skip

    replay_dates()


replay()
