"""Calibration on validation pairs: per-horizon shrinkage toward no change, an isotonic map
|z| -> P(direction right), conformal 80 % bands of the residuals."""

from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression

from candlecast.modeling.predictor import Calibration
from candlecast.modeling.training.evaluation import direction_of
from candlecast.modeling.training.folds import halves_of
from candlecast.timeframes import MAX_STEPS

MIN_CALIBRATION_PAIRS = 20
SHRINK_GRID = np.linspace(0.0, 1.0, 11)
MIN_SHRINK_GAIN = 0.001  # relative MAE gain over the random walk needed to move at all


def _best_shrink(actual: np.ndarray, predicted: np.ndarray) -> float:
    errors = np.array([np.mean(np.abs(actual - k * predicted)) for k in SHRINK_GRID])
    best = int(np.argmin(errors))
    if errors[0] - errors[best] < MIN_SHRINK_GAIN * errors[0]:
        return 0.0  # a gain this small is noise: no edge, no move
    return float(SHRINK_GRID[best])


def _per_horizon(values_at: callable, horizon: np.ndarray, pooled) -> list:
    return [
        values_at(horizon == h) if (horizon == h).sum() >= 30 else pooled
        for h in range(1, MAX_STEPS + 1)
    ]


def _stable_shrink(actual: np.ndarray, predicted: np.ndarray, halves: np.ndarray) -> float:
    """The smaller of the best factors on each half of the window: a factor is only trusted
    as far as both halves agree on it (an edge seen in one regime only is not kept)."""
    factors = [
        _best_shrink(actual[halves == half], predicted[halves == half])
        for half in (0, 1)
        if (halves == half).sum() >= 15
    ]
    return min(factors) if len(factors) == 2 else 0.0


def fit_calibration(
    z: np.ndarray,
    horizon: np.ndarray,
    log_return: np.ndarray,
    predicted_z: np.ndarray,
    timestamps: np.ndarray,
) -> Calibration:
    """On validation pairs: per-horizon shrinkage toward no change (no edge, no move), an
    isotonic map |z| -> P(direction right), and conformal 80 % bands of the residuals."""
    if len(z) < MIN_CALIBRATION_PAIRS:
        # No evidence of an edge: the random walk's point, a flat 0.5, ±1.28 sigma (normal 80 %).
        return Calibration(
            [0.0, 1.0], [0.5, 0.5], [-1.28] * MAX_STEPS, [1.28] * MAX_STEPS, [0.0] * MAX_STEPS
        )
    halves = halves_of(timestamps)
    shrink = np.asarray(
        _per_horizon(
            lambda at: _stable_shrink(z[at], predicted_z[at], halves[at]),
            horizon,
            _stable_shrink(z, predicted_z, halves),
        )
    )
    corrected = shrink[horizon - 1] * predicted_z
    correct = (direction_of(corrected) == np.sign(log_return)).astype(float)
    iso = IsotonicRegression(increasing=True, out_of_bounds="clip", y_min=0.0, y_max=1.0)
    iso.fit(np.abs(corrected), correct)
    residual = z - corrected
    bands = np.asarray(
        _per_horizon(
            lambda at: np.quantile(residual[at], (0.1, 0.9)),
            horizon,
            np.quantile(residual, (0.1, 0.9)),
        )
    )
    # Widened where needed so that the band always holds the point forecast.
    return Calibration(
        iso.X_thresholds_.tolist(),
        iso.y_thresholds_.tolist(),
        np.minimum(bands[:, 0], 0.0).tolist(),
        np.maximum(bands[:, 1], 0.0).tolist(),
        shrink.tolist(),
    )
