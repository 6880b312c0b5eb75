"""The tree learners: XGBoost and a random forest (XGBoost's), each seeing one feature row plus
the horizon."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xgboost as xgb

from candlecast.modeling.learners.limits import PREDICT_CHUNK

HORIZON_COLUMN = "horizon"
INPLACE_ROWS = 256


def _with_horizon(features: np.ndarray, rows: np.ndarray, horizon: np.ndarray) -> np.ndarray:
    design = np.empty((len(rows), features.shape[1] + 1), dtype="float32")
    design[:, :-1] = features[rows]
    design[:, -1] = horizon
    return design


class XGBoostLearner:
    name = "xgboost"
    input_rows = 1  # reads only the row it predicts from
    params = {
        "objective": "reg:squarederror",
        "tree_method": "hist",
        "max_depth": 4,
        "eta": 0.05,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "min_child_weight": 20,
        "nthread": 2,
        "seed": 7,
    }
    _file = "xgboost.json"

    def __init__(self, booster: xgb.Booster, columns: list[str]) -> None:
        self.booster, self.columns = booster, columns

    @classmethod
    def fit(cls, features, columns, rows, horizon, z, eval_set=None) -> XGBoostLearner:
        names = [*columns, HORIZON_COLUMN]
        train = xgb.DMatrix(_with_horizon(features, rows, horizon), label=z, feature_names=names)
        evals = []
        if eval_set is not None and len(eval_set[0]):
            e_rows, e_horizon, e_z = eval_set
            evals = [
                (
                    xgb.DMatrix(
                        _with_horizon(features, e_rows, e_horizon), label=e_z, feature_names=names
                    ),
                    "early_stop",
                )
            ]
        booster = xgb.train(
            cls.params,
            train,
            num_boost_round=400,
            evals=evals,
            early_stopping_rounds=30 if evals else None,
            verbose_eval=False,
        )
        if evals:
            booster = booster[: booster.best_iteration + 1]
        return cls(booster, columns)

    def predict(self, features, series_start, rows, horizon, spacing: int = 1) -> np.ndarray:
        out = np.empty(len(rows), dtype="float64")
        names = [*self.columns, HORIZON_COLUMN]
        for lo in range(0, len(rows), PREDICT_CHUNK):
            hi = lo + PREDICT_CHUNK
            design = _with_horizon(features, rows[lo:hi], horizon[lo:hi])
            if len(design) <= INPLACE_ROWS:  # serving: no DMatrix to build for a few rows
                out[lo:hi] = self.booster.inplace_predict(design)
            else:
                out[lo:hi] = self.booster.predict(xgb.DMatrix(design, feature_names=names))
        return out

    def importance(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.booster.get_score(importance_type="gain").items()}

    def save(self, folder: Path) -> None:
        self.booster.save_model(folder / self._file)

    @classmethod
    def load(cls, folder: Path, columns: list[str]) -> XGBoostLearner:
        booster = xgb.Booster()
        booster.load_model(folder / cls._file)
        booster.set_param({"nthread": 1})
        return cls(booster, columns)


class RandomForestLearner(XGBoostLearner):
    """A random forest (bagged deep trees, features sampled per split), grown by XGBoost's
    histogram method: one round of 50 parallel trees, no boosting and no shrinkage."""

    name = "random_forest"
    params = {
        "objective": "reg:squarederror",
        "tree_method": "hist",
        "num_parallel_tree": 50,
        "max_bin": 64,
        "subsample": 0.632,
        "colsample_bynode": 0.3,
        "eta": 1.0,
        "max_depth": 7,
        "min_child_weight": 50,
        "nthread": 2,
        "seed": 7,
    }
    _file = "random_forest.json"

    @classmethod
    def fit(cls, features, columns, rows, horizon, z, eval_set=None) -> RandomForestLearner:
        names = [*columns, HORIZON_COLUMN]
        train = xgb.DMatrix(_with_horizon(features, rows, horizon), label=z, feature_names=names)
        return cls(xgb.train(cls.params, train, num_boost_round=1), columns)
