"""Live monitoring of what was served: outcomes of every forecast step once its target candle
closed (`outcomes`, on the realised candles of `candles`), rolling figures per model version
(`rolling`), drift alerts (`drift`), the forward paper-trading ledger (`paper_ledger`), the daily and
weekly reports (`periodic_reports`) and one pass of it all (`live`).

Everything is keyed by model version (tag), so a champion and its challengers are grouped by
version side by side.

May import: `candlecast.modeling` (the training package's evaluation figures and paper-trading
rules, shared with the backtest), `candlecast.ohlcv`, `candlecast.marketdata`, `candlecast.ops`,
`candlecast.settings`, `candlecast.timeframes`. Only the workflows and the CLI import it; serving
reads its tables through `candlecast.api` (an import contract keeps serving off training).
"""

from candlecast.monitoring import delivery
from candlecast.monitoring.drift import DriftRules, check_drift, drift_reasons
from candlecast.monitoring.live import monitor
from candlecast.monitoring.outcomes import ScoringRun, score_outcomes
from candlecast.monitoring.paper_ledger import SIGNAL_STEP, run_ledger
from candlecast.monitoring.periodic_reports import PERIODS, Report, build_report, save_report
from candlecast.monitoring.realised_candles import RealisedCandles
from candlecast.monitoring.rolling import HORIZONS, WINDOWS, refresh_rolling

__all__ = [
    "HORIZONS",
    "PERIODS",
    "SIGNAL_STEP",
    "WINDOWS",
    "DriftRules",
    "RealisedCandles",
    "Report",
    "ScoringRun",
    "build_report",
    "delivery",
    "check_drift",
    "drift_reasons",
    "monitor",
    "refresh_rolling",
    "run_ledger",
    "save_report",
    "score_outcomes",
]
