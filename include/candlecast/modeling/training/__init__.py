"""Training one timeframe's forecaster across all coins: the panel (`dataset`), walk-forward
folds with purge (`folds`), fitting the learners and naive rankers and the fold loop (`fit`),
the served signal per horizon chosen on rank IC (`stacking`), the two claims and the calibration
(`calibration`), out-of-sample figures beside the baselines and the naive rankers (`evaluation`)
and what a model is measured by (`measurement`), and the HTML report (`report/`, with paper
trading on the test window by `candlecast.modeling.paper_trading`).

May import: `candlecast.modeling` (features, learners, naive rankers, predictor), `candlecast.ohlcv`,
`candlecast.ops`, `candlecast.settings`, `candlecast.timeframes`. Only the workflows import this
package; serving never does (an import contract says so).
"""

from candlecast.modeling.training.dataset import Panel, build_panel, pairs, stored_context
from candlecast.modeling.training.evaluation import block_bootstrap_ci, calibration_curve, rank_ic
from candlecast.modeling.training.fit import FoldResult, train_timeframe
from candlecast.modeling.training.folds import walk_forward_folds
from candlecast.modeling.training.report import ReportInput, report_writer, run_paper_trading
from candlecast.modeling.training.stacking import stack

__all__ = [
    "FoldResult",
    "Panel",
    "ReportInput",
    "block_bootstrap_ci",
    "build_panel",
    "stored_context",
    "calibration_curve",
    "pairs",
    "rank_ic",
    "report_writer",
    "run_paper_trading",
    "stack",
    "train_timeframe",
    "walk_forward_folds",
]
