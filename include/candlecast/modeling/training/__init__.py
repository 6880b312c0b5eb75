"""Training one timeframe's forecaster across all coins.

    `dataset`          the cross-symbol panel
    `folds`            walk-forward folds with purge
    `learner_fitting`  a fold's learners and naive rankers, fitted
    `fit`              the fold loop and the trained forecaster
    `stacking`         the served signal per horizon, chosen on rank IC
    `calibration`      the two claims and the calibration, fitted on validation
    `outperform`       `p_outperform` fitted on validation
    `cross_section`    Spearman across coins, in numpy
    `evaluation`       out-of-sample figures beside the baselines
    `ranking_eval`     the ranking's test-window figures
    `measurement`      what a trained model is measured by
    `gate`             the release gate: a challenger against the champion
    `report/`          the HTML report of a version

May import: `candlecast.modeling` (features, learners, naive rankers, predictor), `candlecast.ohlcv`,
`candlecast.ops`, `candlecast.settings`, `candlecast.timeframes`. Only the workflows import this
package; serving never does (an import contract says so).
"""

from candlecast.modeling.training.dataset import build_panel, pairs, stored_context
from candlecast.modeling.training.evaluation import block_bootstrap_ci, calibration_curve, rank_ic
from candlecast.modeling.training.fit import train_timeframe
from candlecast.modeling.training.folds import walk_forward_folds
from candlecast.modeling.training.report import report_writer, run_paper_trading

__all__ = [
    "block_bootstrap_ci",
    "build_panel",
    "calibration_curve",
    "pairs",
    "rank_ic",
    "report_writer",
    "run_paper_trading",
    "stored_context",
    "train_timeframe",
    "walk_forward_folds",
]
