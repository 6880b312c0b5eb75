"""The ridge learner: one penalised linear map per horizon over the standardised features,
fitted to z against the other coins at the same candle (weak, broad signals are where trees
overfit and a linear map does not)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from candlecast.modeling.learners.limits import PREDICT_CHUNK, Z_CLIP
from candlecast.timeframes import MAX_STEPS

RIDGE_PENALTY = 0.15  # per training row: the penalty grows with the data, as the Gram does
RIDGE_CLIP = 5.0
MOMENT_COLUMNS = 16


class RidgeLearner:
    """Per horizon, ridge regression of z on the standardised features (clipped at ±5,
    missing values at the mean): 30 coefficient vectors, one dot product per prediction."""

    name = "ridge"
    input_rows = 1

    def __init__(self, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray) -> None:
        self.mean, self.scale, self.coef = mean, scale, coef  # coef: (30, features + 1)

    def _design(self, features: np.ndarray, rows: np.ndarray) -> np.ndarray:
        scaled = (features[rows].astype("float64") - self.mean) / self.scale
        standard = np.clip(np.nan_to_num(scaled), -RIDGE_CLIP, RIDGE_CLIP)
        return np.hstack([standard, np.ones((len(rows), 1))])

    @classmethod
    def fit(cls, features, rows, targets) -> RidgeLearner:
        """targets: (len(rows), 30) z values, NaN where unknown or purged. The standardised
        design is built PREDICT_CHUNK rows at a time and its Gram matrices summed, so no float64
        copy of the training rows is ever whole (400 k rows of 1h features are 0.55 GB each)."""
        rows = np.asarray(rows)
        width = features.shape[1] + 1
        mean, scale = np.empty(features.shape[1]), np.empty(features.shape[1])
        for lo in range(0, features.shape[1], MOMENT_COLUMNS):  # columns are independent
            sample = features[rows, lo : lo + MOMENT_COLUMNS].astype("float64")
            mean[lo : lo + MOMENT_COLUMNS] = np.nan_to_num(np.nanmean(sample, axis=0))
            scale[lo : lo + MOMENT_COLUMNS] = np.nanstd(sample, axis=0)
        scale = np.where(np.isfinite(scale) & (scale > 1e-9), scale, 1.0)
        learner = cls(mean, scale, np.zeros((MAX_STEPS, width)))
        targets = np.clip(targets, -Z_CLIP, Z_CLIP)
        gram_all = np.zeros((width, width))
        gram_unknown = np.zeros((MAX_STEPS, width, width))
        rhs = np.zeros((MAX_STEPS, width))
        for lo in range(0, len(rows), PREDICT_CHUNK):
            design = learner._design(features, rows[lo : lo + PREDICT_CHUNK])
            chunk = targets[lo : lo + PREDICT_CHUNK]
            gram_all += design.T @ design
            for h in range(MAX_STEPS):
                known = ~np.isnan(chunk[:, h])
                unknown = design[~known]
                gram_unknown[h] += unknown.T @ unknown
                rhs[h] += design[known].T @ chunk[known, h]
        known_count = (~np.isnan(targets)).sum(axis=0)
        for h in range(MAX_STEPS):
            if known_count[h] <= width:
                continue
            penalty = RIDGE_PENALTY * known_count[h] * np.eye(width)
            penalty[-1, -1] = 0.0  # the intercept is not shrunk
            learner.coef[h] = np.linalg.solve(gram_all - gram_unknown[h] + penalty, rhs[h])
        return learner

    def predict(self, features, series_start, rows, horizon, spacing: int = 1) -> np.ndarray:
        rows, horizon = np.asarray(rows), np.asarray(horizon)
        out = np.empty(len(rows), dtype="float64")
        for lo in range(0, len(rows), PREDICT_CHUNK):
            hi = lo + PREDICT_CHUNK
            design = self._design(features, rows[lo:hi])
            out[lo:hi] = np.einsum("ij,ij->i", design, self.coef[horizon[lo:hi] - 1])
        return out

    def importance(self) -> dict[str, float]:
        return {}

    def save(self, folder: Path) -> None:
        np.savez(folder / "ridge.npz", mean=self.mean, scale=self.scale, coef=self.coef)

    @classmethod
    def load(cls, folder: Path, columns: list[str] | None = None) -> RidgeLearner:
        with np.load(folder / "ridge.npz") as stored:
            return cls(stored["mean"], stored["scale"], stored["coef"])
