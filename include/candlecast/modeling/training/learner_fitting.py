"""The base learners and naive rankers of one fold, fitted on its training window: XGBoost and
the random forest on sampled (row, horizon) pairs with the window's tail held out to stop early,
the ridge on the whole window's relative z, the LSTM on sampled rows, and the rankers' signs."""

from __future__ import annotations

import numpy as np

from candlecast.modeling.learners import (
    Z_CLIP,
    LSTMLearner,
    RandomForestLearner,
    RidgeLearner,
    XGBoostLearner,
)
from candlecast.modeling.naive_rankers import NAIVE_LOOKBACKS, NaiveRanker
from candlecast.modeling.training.dataset import Pairs, Panel, pairs
from candlecast.modeling.training.folds import Fold, rows_between

EARLY_STOP_FRACTION = 0.1  # tail of the training window that stops XGBoost and the LSTM
MAX_TRAIN_PAIRS = 200_000
MAX_FOREST_PAIRS = 60_000
MAX_LSTM_ROWS = 30_000
MAX_RIDGE_ROWS = 400_000


def relative_target(panel: Panel, chosen: Pairs) -> np.ndarray:
    """A pair's z against the other coins at the same candle: what the ridge learner is fitted
    to, and what the stacking weighs the learners on (the ranking is what carries over from one
    window to the next; the shared market move is most of the noise)."""
    return panel.relative_z(chosen.row, chosen.horizon)


def z_of(panel: Panel, chosen: Pairs) -> np.ndarray:
    return panel.z(chosen.row, chosen.horizon)


def fit_learners(panel: Panel, fold: Fold) -> dict:
    start = panel.timestamp.min()
    early_stop_start = fold.validation_start - (fold.validation_start - start) // 10
    fit_rows = rows_between(panel, start, early_stop_start)
    stop_rows = rows_between(panel, early_stop_start, fold.validation_start)
    if len(fit_rows) == 0:
        raise ValueError(f"{fold.name}: no training rows before {fold.validation_start}")
    fit_pairs = pairs(panel, fit_rows, early_stop_start, MAX_TRAIN_PAIRS)
    stop_pairs = pairs(panel, stop_rows, fold.validation_start, MAX_TRAIN_PAIRS // 5)
    clip = lambda z: np.clip(z, -Z_CLIP, Z_CLIP)  # noqa: E731
    learners = {
        "xgboost": XGBoostLearner.fit(
            panel.features,
            panel.columns,
            fit_pairs.row,
            fit_pairs.horizon,
            clip(z_of(panel, fit_pairs)),
            eval_set=(stop_pairs.row, stop_pairs.horizon, clip(z_of(panel, stop_pairs))),
        )
    }
    forest_pairs = pairs(panel, fit_rows, early_stop_start, MAX_FOREST_PAIRS, seed=11)
    learners["random_forest"] = RandomForestLearner.fit(
        panel.features,
        panel.columns,
        forest_pairs.row,
        forest_pairs.horizon,
        clip(z_of(panel, forest_pairs)),
    )
    # No early stopping to hold out for: the ridge learns from the whole training window.
    ridge_rows = _subsample_rows(rows_between(panel, start, fold.validation_start), MAX_RIDGE_ROWS)
    learners["ridge"] = RidgeLearner.fit(
        panel.features,
        ridge_rows,
        _masked_targets(panel, ridge_rows, fold.validation_start, relative=True),
    )
    learners |= _fit_rankers(panel, start, fold)
    lstm_rows = _subsample_rows(fit_rows, MAX_LSTM_ROWS)
    learners["lstm"] = LSTMLearner.fit(
        panel.features,
        panel.series_start,
        lstm_rows,
        _masked_targets(panel, lstm_rows, early_stop_start),
        panel.stride,
        early_stop_rows=(
            _subsample_rows(stop_rows, MAX_LSTM_ROWS // 5),
            _masked_targets(
                panel, _subsample_rows(stop_rows, MAX_LSTM_ROWS // 5), fold.validation_start
            ),
        ),
    )
    return learners


def _fit_rankers(panel: Panel, start, fold: Fold) -> dict[str, NaiveRanker]:
    """The naive rankers, their signs fixed on the training window's pairs."""
    train = pairs(
        panel,
        rows_between(panel, start, fold.validation_start),
        fold.validation_start,
        MAX_TRAIN_PAIRS,
    )
    rankers = [
        NaiveRanker.fit(
            panel.features,
            panel.columns,
            train.row,
            train.horizon,
            relative_target(panel, train),
            panel.sigma[train.row],
            lookback,
        )
        for lookback in NAIVE_LOOKBACKS
    ]
    return {ranker.name: ranker for ranker in rankers}


def _subsample_rows(rows: np.ndarray, limit: int, seed: int = 5) -> np.ndarray:
    if len(rows) <= limit:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, limit, replace=False))


def _masked_targets(panel: Panel, rows: np.ndarray, ends_before, relative=False) -> np.ndarray:
    z = panel.relative_z(rows) if relative else panel.z(rows)
    return np.where(panel.known(rows, ends_before), z, np.nan)
