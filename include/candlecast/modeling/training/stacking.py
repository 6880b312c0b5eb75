"""The served signal per horizon, chosen on rank, not on error.

Candidates: the ensemble (non-negative least-squares weights of every learner and naive ranker,
fitted per horizon on the pairs of that horizon and its neighbours, in rank space: each
candidate's rank among the coins at its candle against the rank of the realised return, so a
pumping coin's extreme value does not decide the weights; served on the candidates' own values
divided by their spread), each learner alone and each naive ranker. Each is scored per horizon
by its rank IC across coins on validation; the ensemble's IC is cross-fitted (weights fitted on
one half of the window, measured on the other), since its weights are fitted there and the
single candidates' are not. The highest IC is served at that
horizon. An error such as the MAE is no criterion: a near-constant prediction wins it while
ranking nothing; the point's size is the calibration's job, not the choice of signal's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from candlecast.modeling.training.evaluation import mean_ic
from candlecast.modeling.training.folds import halves_of
from candlecast.timeframes import MAX_STEPS

ENSEMBLE = "ensemble"
MIN_FIT_PAIRS = 10
NEIGHBOURS = 1


@dataclass
class Stacking:
    weights: dict[str, list[float]]  # learner or ranker -> weight per horizon 1..30
    chosen: list[str]  # per horizon: "ensemble", a learner's or a naive ranker's name
    validation_ic: dict[
        str, list[float | None]
    ]  # candidate -> IC per horizon (ensemble: cross-fitted)
    ensemble_weights: dict[str, float]

    @property
    def summary(self) -> str:
        """'ensemble at h1-h6, naive_ret_1 at h7-h30': what is served where."""
        parts, start = [], 1
        for h in range(2, len(self.chosen) + 2):
            if h > len(self.chosen) or self.chosen[h - 1] != self.chosen[start - 1]:
                span = f"h{start}" if h - 1 == start else f"h{start}-h{h - 1}"
                parts.append(f"{self.chosen[start - 1]} at {span}")
                start = h
        return ", ".join(parts)


def only(name: str, reason: str = "") -> Stacking:
    """One learner at every horizon (too few validation pairs to choose)."""
    chosen = [f"{name}{': ' + reason if reason else ''}"] * MAX_STEPS
    return Stacking({name: [1.0] * MAX_STEPS}, chosen, {}, {name: [1.0] * MAX_STEPS})


def _nnls(matrix: np.ndarray, target: np.ndarray) -> np.ndarray:
    weights, _ = nnls(matrix, target)
    return weights


def _neighbourhood(horizon: np.ndarray, h: int) -> np.ndarray:
    return np.abs(horizon.astype(int) - h) <= NEIGHBOURS


def cross_sectional_ranks(values: np.ndarray, stamps: np.ndarray, horizon) -> np.ndarray:
    """Each column's rank among the coins of its (candle, horizon), centred in [-0.5, 0.5]."""
    frame = pd.DataFrame(np.atleast_2d(values.T).T)
    keys = [pd.Series(stamps), pd.Series(np.asarray(horizon))]
    ranks = frame.groupby(keys).rank(pct=True).to_numpy() - 0.5
    return np.nan_to_num(ranks)


def _ensemble(ranks, target_rank, horizon, fit: np.ndarray) -> np.ndarray:
    """(30, candidates) non-negative rank-space weights, each horizon's fitted on the `fit`
    pairs of that horizon and its neighbours (0 where too few)."""
    weights = np.zeros((MAX_STEPS, ranks.shape[1]))
    for h in range(1, MAX_STEPS + 1):
        at = fit & _neighbourhood(horizon, h)
        if at.sum() >= MIN_FIT_PAIRS:
            weights[h - 1] = _nnls(ranks[at], target_rank[at])
    return weights


def _apply(matrix: np.ndarray, weights: np.ndarray, horizon: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", matrix, weights[horizon.astype(int) - 1])


def _cross_fitted(matrix, ranks, target_rank, horizon, halves, scale) -> np.ndarray:
    """Each half's ensemble prediction from weights fitted on the other half."""
    predicted = np.zeros(len(target_rank))
    for fit_half in (0, 1):
        fit, check = halves == fit_half, halves != fit_half
        if fit.sum() < MIN_FIT_PAIRS or check.sum() < MIN_FIT_PAIRS:
            return np.full(len(target_rank), np.nan)
        weights = _ensemble(ranks, target_rank, horizon, fit) / scale
        predicted[check] = _apply(matrix[check], weights, horizon[check])
    return predicted


def _candidate_ic(stamps: np.ndarray, predicted: np.ndarray, actual: np.ndarray) -> float | None:
    """None where the candidate could not be scored (a half too small to cross-fit)."""
    return None if np.isnan(predicted).any() else mean_ic(stamps, predicted, actual)


def _neighbourhood_ic(ics: list[float | None], h: int) -> float:
    """The mean IC of horizons h-1..h+1 (0-based h): neighbouring horizons share most of their
    target, so one horizon's noise does not flip the signal from one step to the next."""
    near = [ic for ic in ics[max(h - NEIGHBOURS, 0) : h + NEIGHBOURS + 1] if ic is not None]
    return float(np.mean(near)) if near else -np.inf


def stack(
    predictions: dict[str, np.ndarray],
    log_return: np.ndarray,
    timestamps: np.ndarray,
    horizon: np.ndarray,
) -> Stacking:
    """Per horizon, the candidate of the highest validation rank IC against the pairs'
    `log_return` (the figure the skill is claimed and measured on, averaged with the neighbouring
    horizons') serves; ties go to the earlier candidate."""
    names = list(predictions)
    matrix = np.column_stack([predictions[n] for n in names])
    scale = np.std(matrix, axis=0)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    ranks = cross_sectional_ranks(matrix, timestamps, horizon)
    target_rank = cross_sectional_ranks(log_return, timestamps, horizon)[:, 0]
    every = np.ones(len(log_return), dtype=bool)
    ensemble = _ensemble(ranks, target_rank, horizon, every) / scale
    halves = halves_of(timestamps)
    crossed = _cross_fitted(matrix, ranks, target_rank, horizon, halves, scale)
    candidates = {ENSEMBLE: crossed, **predictions}
    validation_ic = {
        name: [
            _candidate_ic(timestamps[at], predicted[at], log_return[at]) if at.any() else None
            for at in (horizon == h for h in range(1, MAX_STEPS + 1))
        ]
        for name, predicted in candidates.items()
    }
    chosen = [
        max(
            (name for name in candidates if name != ENSEMBLE or ensemble[h].any()),
            key=lambda name: _neighbourhood_ic(validation_ic[name], h),
        )
        for h in range(MAX_STEPS)
    ]
    weights = {name: [0.0] * MAX_STEPS for name in names}
    for h, name in enumerate(chosen):
        if name == ENSEMBLE:
            for k, learner in enumerate(names):
                weights[learner][h] = float(ensemble[h, k])
        else:
            weights[name][h] = 1.0
    weights = {name: w for name, w in weights.items() if any(w)}
    ensemble_weights = {
        name: ensemble[:, k].tolist() for k, name in enumerate(names) if ensemble[:, k].any()
    }
    return Stacking(weights, chosen, validation_ic, ensemble_weights)
