"""The trained forecaster as served: base learners, their stacking weights and the calibration.

Targets are horizon-normalised log returns z = log(C[t+h]/C[t]) / (sigma_t * sqrt(h)); a 30-step
path is one feature computation and one prediction per horizon (direct, not recursive).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from candlecast.modeling.features import VOLATILITY_COLUMN
from candlecast.modeling.learners import LSTMLearner, RandomForestLearner, XGBoostLearner
from candlecast.timeframes import MAX_STEPS

CONFIDENCE_FLOOR, CONFIDENCE_CEIL = 0.001, 0.999
_META_FILE = "forecaster.json"
LEARNER_TYPES = {c.name: c for c in (XGBoostLearner, RandomForestLearner, LSTMLearner)}


@dataclass
class Calibration:
    """Validation-fitted maps: |z| -> P(direction right), and per-horizon 80 % residual bands."""

    strength_x: list[float]
    probability_y: list[float]
    residual_q10: list[float]  # per horizon 1..30, in z units
    residual_q90: list[float]
    shrink: list[float]  # per horizon, 0 (no change) … 1 (the raw prediction)

    def direction_probability(self, strength: np.ndarray) -> np.ndarray:
        p = np.interp(strength, self.strength_x, self.probability_y)
        return np.clip(p, CONFIDENCE_FLOOR, CONFIDENCE_CEIL)


@dataclass(frozen=True)
class ServingInputs:
    """What a forecast reads of one series' features: the last rows the learners look at (in the
    model's feature order), the first of them with every feature defined, and the volatility."""

    matrix: np.ndarray  # float32 (rows, features)
    series_start: int
    sigma: float


def _median_wicks(candles: pd.DataFrame) -> tuple[float, float]:
    """Median log upper and lower wick of the last 20 candles (the path's high/low shape)."""
    recent = candles.iloc[-20:]
    o, h, lo, c = (recent[k].to_numpy(dtype="float64") for k in ("open", "high", "low", "close"))
    body_top, body_bottom = np.maximum(o, c), np.minimum(o, c)
    return float(np.median(np.log(h / body_top))), float(np.median(np.log(body_bottom / lo)))


@dataclass
class ForecastModel:
    learners: dict  # name -> learner, only those with a non-zero weight
    weights: dict[str, float]
    timeframe: str
    feature_names: list[str]
    feature_set_version: str
    calibration: Calibration
    info: dict = field(default_factory=dict)

    def raw_z(self, features: np.ndarray, series_start, rows, horizon) -> np.ndarray:
        """The stacked prediction for (row, horizon) pairs of a feature matrix."""
        rows, horizon = np.asarray(rows), np.asarray(horizon)
        total = np.zeros(len(rows))
        for name, weight in self.weights.items():
            total += weight * self.learners[name].predict(features, series_start, rows, horizon)
        return total

    def point_z(self, features: np.ndarray, series_start, rows, horizon) -> np.ndarray:
        """The shrunk prediction: the point forecast the service serves."""
        shrink = np.asarray(self.calibration.shrink)[np.asarray(horizon) - 1]
        return shrink * self.raw_z(features, series_start, rows, horizon)

    @property
    def input_rows(self) -> int:
        """How many trailing feature rows a forecast reads (the LSTM's window, else one)."""
        return max((learner.input_rows for learner in self.learners.values()), default=1)

    def serving_inputs(self, features: pd.DataFrame) -> ServingInputs:
        matrix = features[self.feature_names].to_numpy(dtype="float32")
        valid = np.flatnonzero(~np.isnan(matrix).any(axis=1))
        first = int(valid[0]) if len(valid) else 0
        offset = len(matrix) - min(self.input_rows, len(matrix))
        # Rows before `offset` are never read: the window clamps at the series start, which
        # lies either before the tail (no clamp is reached) or inside it (same row).
        return ServingInputs(
            np.ascontiguousarray(matrix[offset:]),
            max(first - offset, 0),
            float(features[VOLATILITY_COLUMN].iloc[-1]),
        )

    def path_z_from(self, inputs: ServingInputs, steps: int) -> np.ndarray:
        """z for horizons 1..steps from the last row of a series' serving inputs."""
        rows = len(inputs.matrix)
        return self.point_z(
            inputs.matrix,
            np.full(rows, inputs.series_start),
            np.full(steps, rows - 1),
            np.arange(1, steps + 1),
        )

    def path_from_z(self, z: np.ndarray, sigma: float, candles: pd.DataFrame) -> dict:
        """Prices from z: closes, a consistent OHLC path, 80 % bands and direction confidence."""
        steps = len(z)
        horizons = np.arange(1, steps + 1)
        scale = sigma * np.sqrt(horizons)
        log_ret = z * scale
        last_close = float(candles["close"].iloc[-1])
        close = last_close * np.exp(log_ret)
        open_ = np.concatenate([[last_close], close[:-1]])
        upper_wick, lower_wick = _median_wicks(candles)
        high = np.maximum(open_, close) * np.exp(max(upper_wick, 0.0))
        low = np.minimum(open_, close) * np.exp(-max(lower_wick, 0.0))
        q10 = np.asarray(self.calibration.residual_q10[:steps])
        q90 = np.asarray(self.calibration.residual_q90[:steps])
        return {
            "horizons": horizons,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "close_low_80": last_close * np.exp((z + q10) * scale),
            "close_high_80": last_close * np.exp((z + q90) * scale),
            "direction": np.where(log_ret >= 0, "up", "down"),
            "step_direction": np.where(close >= open_, "up", "down"),
            # Confidence that each step's close is on the predicted side of the last real close.
            "confidence": self.calibration.direction_probability(np.abs(z)),
        }

    def forecast_path(self, candles: pd.DataFrame, features: pd.DataFrame, steps: int) -> dict:
        """Direct multi-horizon path from the last feature row; returns arrays per step."""
        inputs = self.serving_inputs(features)
        return self.path_from_z(self.path_z_from(inputs, steps), inputs.sigma, candles)

    def save(self, folder: Path) -> None:
        for learner in self.learners.values():
            learner.save(folder)
        meta = {
            "timeframe": self.timeframe,
            "weights": self.weights,
            "feature_names": self.feature_names,
            "feature_set_version": self.feature_set_version,
            "calibration": self.calibration.__dict__,
            "info": self.info,
        }
        (folder / _META_FILE).write_text(json.dumps(meta))

    @classmethod
    def load(cls, folder: Path) -> ForecastModel:
        meta = json.loads((folder / _META_FILE).read_text())
        learners = {}
        for name in meta["weights"]:
            if name == LSTMLearner.name:
                learners[name] = LSTMLearner.load(folder)
            else:
                learners[name] = LEARNER_TYPES[name].load(folder, meta["feature_names"])
        return cls(
            learners=learners,
            weights=meta["weights"],
            timeframe=meta["timeframe"],
            feature_names=meta["feature_names"],
            feature_set_version=meta["feature_set_version"],
            calibration=Calibration(**meta["calibration"]),
            info=meta["info"],
        )


__all__ = ["MAX_STEPS", "Calibration", "ForecastModel"]
