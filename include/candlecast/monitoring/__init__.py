"""Live monitoring of what was served.

    `realised_candles`  the candles a forecast is scored on
    `outcomes`          each forecast step scored once its target candle closed
    `ranking_outcomes`  the served rankings' realised IC and spread
    `rolling`           rolling figures per model version
    `drift`             the drift check and its alerts
    `paper_ledger`      the forward paper-trading ledger on served forecasts
    `live_gate`         the live gate: a challenger against the champion on live outcomes
    `live_release`      the live gate's decision, as the release commands show it
    `periodic_reports`  the daily and weekly reports (the Slack text and a PNG)
    `delivery`          each report posted to Slack once
    `live`              one monitoring pass of it all

Everything is keyed by model version (tag), so a champion and its challengers are grouped by
version side by side.

May import: `candlecast.modeling` (training's evaluation figures; the paper-trading rules and
their simulation, `modeling.paper_trading`, shared with the backtest), `candlecast.ohlcv`,
`candlecast.marketdata`, `candlecast.ops`, `candlecast.settings`, `candlecast.timeframes`. Only
the workflows and the CLI import it; serving reads its tables through `candlecast.api` (an import
contract keeps serving off training).
"""

from candlecast.monitoring import delivery
from candlecast.monitoring.drift import DriftRules
from candlecast.monitoring.live import monitor
from candlecast.monitoring.periodic_reports import build_report, save_report
from candlecast.monitoring.realised_candles import RealisedCandles

__all__ = [
    "DriftRules",
    "RealisedCandles",
    "build_report",
    "delivery",
    "monitor",
    "save_report",
]
