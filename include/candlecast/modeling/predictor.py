"""The trained forecaster as served: a booster plus its calibration, saved as plain files.

Targets are horizon-normalised log returns z = log(C[t+h]/C[t]) / (sigma_t * sqrt(h)), one model
over all horizons (the horizon is a feature), so a 30-step path costs one feature computation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from candlecast.features import VOLATILITY_COLUMN

MAX_STEPS = 30
HORIZON_COLUMN = "horizon"
CONFIDENCE_FLOOR, CONFIDENCE_CEIL = 0.001, 0.999
_BOOSTER_FILE, _META_FILE = "booster.json", "calibration.json"


def design_matrix(
    features: pd.DataFrame, horizon: np.ndarray, label: np.ndarray | None = None
) -> xgb.DMatrix:
    """Feature rows with their horizon column, as the booster sees them in training and serving."""
    design = features.reset_index(drop=True)
    design[HORIZON_COLUMN] = np.asarray(horizon, dtype="float32")
    return xgb.DMatrix(design, label=label)


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


@dataclass
class ForecastModel:
    booster: xgb.Booster
    timeframe: str
    feature_names: list[str]
    feature_set_version: str
    calibration: Calibration
    info: dict = field(default_factory=dict)

    def predict_z(self, features: pd.DataFrame, horizon: np.ndarray) -> np.ndarray:
        """One prediction per (feature row, horizon) pair; rows and horizons align."""
        return self.booster.predict(design_matrix(features[self.feature_names], horizon))

    def point_z(self, features: pd.DataFrame, horizon: np.ndarray) -> np.ndarray:
        """The shrunk prediction: the point forecast the service serves."""
        shrink = np.asarray(self.calibration.shrink)[np.asarray(horizon) - 1]
        return shrink * self.predict_z(features, horizon)

    def forecast_path(self, candles: pd.DataFrame, features: pd.DataFrame, steps: int) -> dict:
        """Direct multi-horizon path from the last feature row; returns arrays per step."""
        horizons = np.arange(1, steps + 1)
        last = features.iloc[[-1]]
        sigma = float(last[VOLATILITY_COLUMN].iloc[0])
        z = self.point_z(last.loc[last.index.repeat(steps)], horizons)
        scale = sigma * np.sqrt(horizons)
        log_ret = z * scale
        last_close = float(candles["close"].iloc[-1])
        close = last_close * np.exp(log_ret)
        open_ = np.concatenate([[last_close], close[:-1]])
        recent = candles.iloc[-20:]
        upper_wick = float(
            np.median(np.log(recent["high"] / recent[["open", "close"]].max(axis=1)))
        )
        lower_wick = float(np.median(np.log(recent[["open", "close"]].min(axis=1) / recent["low"])))
        high = np.maximum(open_, close) * np.exp(upper_wick)
        low = np.minimum(open_, close) * np.exp(-lower_wick)
        q10 = np.asarray(self.calibration.residual_q10[:steps])
        q90 = np.asarray(self.calibration.residual_q90[:steps])
        step_dir = np.where(close >= open_, "up", "down")
        # Confidence that each step's close is on the predicted side of the last real close.
        confidence = self.calibration.direction_probability(np.abs(z))
        return {
            "horizons": horizons,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "close_low_80": last_close * np.exp((z + q10) * scale),
            "close_high_80": last_close * np.exp((z + q90) * scale),
            "direction": np.where(log_ret >= 0, "up", "down"),
            "step_direction": step_dir,
            "confidence": confidence,
        }

    def save(self, folder: Path) -> None:
        self.booster.save_model(folder / _BOOSTER_FILE)
        meta = {
            "timeframe": self.timeframe,
            "feature_names": self.feature_names,
            "feature_set_version": self.feature_set_version,
            "calibration": self.calibration.__dict__,
            "info": self.info,
        }
        (folder / _META_FILE).write_text(json.dumps(meta))

    @classmethod
    def load(cls, folder: Path) -> ForecastModel:
        booster = xgb.Booster()
        booster.load_model(folder / _BOOSTER_FILE)
        booster.set_param({"nthread": 1})
        meta = json.loads((folder / _META_FILE).read_text())
        return cls(
            booster=booster,
            timeframe=meta["timeframe"],
            feature_names=meta["feature_names"],
            feature_set_version=meta["feature_set_version"],
            calibration=Calibration(**meta["calibration"]),
            info=meta["info"],
        )
