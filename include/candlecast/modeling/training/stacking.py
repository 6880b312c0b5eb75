"""Stacking: NNLS weights of the learners on validation (their error cross-fitted: weights fitted
on one half of the window, measured on the other), against XGBoost alone as it is served; the
lower error is served."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from candlecast.modeling.learners import Z_CLIP
from candlecast.modeling.training.folds import halves_of


@dataclass
class Stacking:
    weights: dict[str, float]
    validation_mae: dict[str, float]  # cross-fitted, in z units
    chosen: str  # "ensemble" or "xgboost"


def _cross_fitted_mae(predictions: np.ndarray, target: np.ndarray, halves: np.ndarray) -> float:
    """Fit non-negative weights on one half of the validation window, measure on the other."""
    errors = []
    for fit_half in (0, 1):
        fit, check = halves == fit_half, halves != fit_half
        if fit.sum() < 10 or check.sum() < 10:
            continue
        weights, _ = nnls(predictions[fit], target[fit])
        errors.append(np.mean(np.abs(target[check] - predictions[check] @ weights)))
    return float(np.mean(errors)) if errors else float("inf")


def stack(predictions: dict[str, np.ndarray], target: np.ndarray, timestamps) -> Stacking:
    """Weights of the ensemble by NNLS on validation, scored cross-fitted; XGBoost alone is
    scored as it would be served (weight 1, not rescaled), and the lower error is served."""
    names = list(predictions)
    matrix = np.column_stack([predictions[n] for n in names])
    halves = halves_of(timestamps)
    target = np.clip(target, -Z_CLIP, Z_CLIP)
    ensemble_mae = _cross_fitted_mae(matrix, target, halves)
    xgboost_mae = float(np.mean(np.abs(target - predictions["xgboost"])))
    if ensemble_mae < xgboost_mae:
        weights, _ = nnls(matrix, target)
        chosen = "ensemble"
        final = {n: float(w) for n, w in zip(names, weights, strict=True) if w > 0}
    else:
        chosen, final = "xgboost", {"xgboost": 1.0}
    if not final:  # every learner weighted 0: keep XGBoost, the calibration then decides
        final = {"xgboost": 1.0}
    return Stacking(final, {"ensemble": ensemble_mae, "xgboost": xgboost_mae}, chosen)
