"""Replays: what the served forecaster would have said at past dates, and how it fared.

`candlecast replay` and the `replay` DAG run `pipeline.run_replay`, which takes the dates
(`dates`), the version of each date (`versions`: the champion at the date), forecasts every coin
at every date with the features computed once per series (`forecasts`), scores them against
the store with training's scoring code (`scoring`) and writes the table, the figures and the
report (`run`, `html_report`).

May import: `candlecast.modeling` (training's evaluation and report included), `candlecast.ohlcv`,
`candlecast.ops`, `candlecast.settings`, `candlecast.timeframes`; never serving, whose candles
come from the provider, not the store.
"""

from candlecast.replay.dates import candles_per_step, replay_dates, spacing, utc
from candlecast.replay.forecasts import SeriesPlan, Version, series_forecasts
from candlecast.replay.run import Replay, forecast_dates, run_replay, write_replay
from candlecast.replay.scoring import DEFAULT_FEE

__all__ = [
    "DEFAULT_FEE",
    "Replay",
    "SeriesPlan",
    "Version",
    "candles_per_step",
    "forecast_dates",
    "replay_dates",
    "run_replay",
    "series_forecasts",
    "spacing",
    "utc",
    "write_replay",
]
