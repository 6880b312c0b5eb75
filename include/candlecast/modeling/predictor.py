"""The trained forecaster as served: base learners, their stacking weights and the calibration
(`confidence`).

Targets are horizon-normalised log returns z = log(C[t+h]/C[t]) / (sigma_t * sqrt(h)); a 30-step
path is one feature computation and one prediction per horizon (direct, not recursive).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from candlecast.modeling.confidence import Calibration, sides
from candlecast.modeling.features import VOLATILITY_COLUMN
from candlecast.modeling.learners import (
    LSTMLearner,
    RandomForestLearner,
    RidgeLearner,
    XGBoostLearner,
)
from candlecast.modeling.naive_rankers import NaiveRanker, is_ranker
from candlecast.timeframes import MAX_STEPS

_META_FILE = "forecaster.json"
LEARNER_TYPES = {
    c.name: c for c in (XGBoostLearner, RandomForestLearner, LSTMLearner, RidgeLearner)
}


def first_defined_row(matrix: np.ndarray) -> int:
    """The first row of a feature matrix with every feature defined (0 when none is): where a
    learner's window of past rows stops."""
    valid = np.flatnonzero(~np.isnan(matrix).any(axis=1))
    return int(valid[0]) if len(valid) else 0


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


@dataclass(frozen=True)
class CandleShape:
    """What a path takes of the candles: the last close and the median wicks of the last 20
    (kept per series by a caller that serves many forecasts on the same candles)."""

    last_close: float
    upper_wick: float
    lower_wick: float

    @classmethod
    def of(cls, candles: pd.DataFrame) -> CandleShape:
        return cls(float(candles["close"].iloc[-1]), *_median_wicks(candles))


def horizon_weights(weights: dict) -> dict[str, np.ndarray]:
    """Each learner's weight per horizon 1..30 (a version from before per-horizon signals holds
    one weight per learner, the same at every horizon)."""
    return {
        name: np.broadcast_to(np.asarray(weight, dtype=float), (MAX_STEPS,))
        for name, weight in weights.items()
    }


@dataclass
class ForecastModel:
    learners: dict  # name -> learner, only those with a non-zero weight at some horizon
    weights: dict[str, list[float]]  # name -> weight per horizon 1..30 (or one for all)
    timeframe: str
    feature_names: list[str]
    feature_set_version: str
    calibration: Calibration
    info: dict = field(default_factory=dict)
    market: dict[str, str] = field(default_factory=dict)  # benchmark base -> ticker it reads

    def raw_z(self, features: np.ndarray, series_start, rows, horizon, spacing=1) -> np.ndarray:
        """The stacked prediction for (row, horizon) pairs of a feature matrix whose rows are
        `spacing` candles apart (the panel: its stride; a served series: 1)."""
        rows, horizon = np.asarray(rows), np.asarray(horizon)
        total = np.zeros(len(rows))
        for name, weight in horizon_weights(self.weights).items():
            at_horizon = weight[horizon - 1]
            used = at_horizon != 0
            if not used.any():
                continue
            learner = self.learners[name]
            if used.all():
                total += at_horizon * learner.predict(
                    features, series_start, rows, horizon, spacing
                )
            else:
                total[used] += at_horizon[used] * learner.predict(
                    features, series_start, rows[used], horizon[used], spacing
                )
        return total

    def point_z(self, features: np.ndarray, series_start, rows, horizon, spacing=1) -> np.ndarray:
        """The calibrated point forecast the service serves (0 where a horizon has no skill)."""
        raw = self.raw_z(features, series_start, rows, horizon, spacing)
        return self.calibration.point(raw, horizon)

    @property
    def input_rows(self) -> int:
        """How many trailing feature rows a forecast reads (the LSTM's window, else one)."""
        return max((learner.input_rows for learner in self.learners.values()), default=1)

    def serving_inputs(self, features: pd.DataFrame) -> ServingInputs:
        matrix = features[self.feature_names].to_numpy(dtype="float32")
        first = first_defined_row(matrix)
        offset = len(matrix) - min(self.input_rows, len(matrix))
        # Rows before `offset` are never read: the window clamps at the series start, which
        # lies either before the tail (no clamp is reached) or inside it (same row).
        return ServingInputs(
            np.ascontiguousarray(matrix[offset:]),
            max(first - offset, 0),
            float(features[VOLATILITY_COLUMN].iloc[-1]),
        )

    def path_raw_z(self, inputs: ServingInputs, steps: int) -> np.ndarray:
        """Raw z for horizons 1..steps from the last row of a series' serving inputs."""
        rows = len(inputs.matrix)
        return self.paths_raw_z(inputs.matrix, inputs.series_start, np.array([rows - 1]), steps)[0]

    def paths_raw_z(
        self, matrix: np.ndarray, series_start: int, origins: np.ndarray, steps: int
    ) -> np.ndarray:
        """Raw z for horizons 1..steps from each row of `origins` of one series' feature matrix
        (the model's columns, one row per candle; `series_start`: its first fully defined row):
        (len(origins), steps). A served forecast is one origin, its last row; a replay is every
        date's origin of a series at once."""
        origins = np.asarray(origins, dtype="int64")
        raw = self.raw_z(
            matrix,
            np.full(len(matrix), series_start),
            np.repeat(origins, steps),
            np.tile(np.arange(1, steps + 1), len(origins)),
        )
        return raw.reshape(len(origins), steps)

    def path_from_raw(
        self, raw: np.ndarray, sigma: float, candles: pd.DataFrame | CandleShape
    ) -> dict:
        """Prices from the raw z of each step: the calibrated close, 80 % bands, the more likely
        side with its probability, whether the step has skill, and a consistent OHLC path
        (open = the previous step's close, wicks = the median wicks of the last 20 candles)."""
        steps = len(raw)
        horizons = np.arange(1, steps + 1)
        z = self.calibration.point(raw, horizons)
        scale = sigma * np.sqrt(horizons)
        shape = candles if isinstance(candles, CandleShape) else CandleShape.of(candles)
        last_close, upper_wick, lower_wick = shape.last_close, shape.upper_wick, shape.lower_wick
        close = last_close * np.exp(z * scale)
        open_ = np.concatenate([[last_close], close[:-1]])
        high = np.maximum(open_, close) * np.exp(max(upper_wick, 0.0))
        low = np.minimum(open_, close) * np.exp(-max(lower_wick, 0.0))
        q10 = np.asarray(self.calibration.residual_q10[:steps])
        q90 = np.asarray(self.calibration.residual_q90[:steps])
        direction, confidence = sides(self.calibration.probability_up(raw, horizons))
        return {
            "horizons": horizons,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "close_low_80": last_close * np.exp((z + q10) * scale),
            "close_high_80": last_close * np.exp((z + q90) * scale),
            "direction": direction,
            "confidence": confidence,
            "skill": np.asarray(self.calibration.skill[:steps], dtype=bool),
            "relative_skill": np.asarray(self.calibration.relative_skill[:steps], dtype=bool),
        }

    def forecast_path(self, candles: pd.DataFrame, features: pd.DataFrame, steps: int) -> dict:
        """Direct multi-horizon path from the last feature row; returns arrays per step."""
        inputs = self.serving_inputs(features)
        return self.path_from_raw(self.path_raw_z(inputs, steps), inputs.sigma, candles)

    def save(self, folder: Path) -> None:
        for learner in self.learners.values():
            learner.save(folder)
        meta = {
            "timeframe": self.timeframe,
            "weights": {n: np.asarray(w, dtype=float).tolist() for n, w in self.weights.items()},
            "feature_names": self.feature_names,
            "feature_set_version": self.feature_set_version,
            "calibration": self.calibration.__dict__,
            "info": self.info,
            "market": self.market,
        }
        (folder / _META_FILE).write_text(json.dumps(meta))

    @classmethod
    def load(cls, folder: Path) -> ForecastModel:
        meta = json.loads((folder / _META_FILE).read_text())
        learners = {}
        for name in meta["weights"]:
            if name == LSTMLearner.name:
                learners[name] = LSTMLearner.load(folder)
            elif is_ranker(name):
                learners[name] = NaiveRanker.load(folder, meta["feature_names"], name)
            else:
                learners[name] = LEARNER_TYPES[name].load(folder, meta["feature_names"])
        return cls(
            learners=learners,
            weights=meta["weights"],
            timeframe=meta["timeframe"],
            feature_names=meta["feature_names"],
            feature_set_version=meta["feature_set_version"],
            calibration=Calibration.from_dict(meta["calibration"]),
            info=meta["info"],
            market=meta.get("market", {}),
        )
