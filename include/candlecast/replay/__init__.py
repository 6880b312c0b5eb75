"""Replays: what the served forecaster would have said at past dates, and how it fared.

    `dates`        the dates of a replay and what each may read
    `versions`     the version of each date: the champion then
    `forecasts`    forecasts at past dates through the served forecaster
    `scoring`      a replay scored by training's scoring code
    `run`          a replay end to end
    `html_report`  the replay's HTML page
    `workflow`     `candlecast replay` and the `replay` DAG

`candlecast replay` and the `replay` DAG run `pipeline.run_replay`, which takes the dates
(`dates`), the version of each date (`versions`: the champion at the date), forecasts every coin
at every date with the features computed once per series (`forecasts`), scores them against
the store with training's scoring code (`scoring`) and writes the table, the figures and the
report (`run`, `html_report`).

May import: `candlecast.modeling` (training's evaluation and report included), `candlecast.ohlcv`,
`candlecast.ops`, `candlecast.settings`, `candlecast.timeframes`; never serving, whose candles
come from the provider, not the store.
"""

from candlecast.replay.dates import candles_per_step, replay_dates, spacing
from candlecast.replay.forecasts import Version
from candlecast.replay.run import forecast_dates, run_replay, write_replay

__all__ = [
    "Version",
    "candles_per_step",
    "forecast_dates",
    "replay_dates",
    "run_replay",
    "spacing",
    "write_replay",
]
