"""The four base learners of the ensemble, one interface: z for (panel row, horizon) pairs.

Every learner predicts the horizon-normalised log return z. The ridge learner is one penalised
linear map per horizon over the standardised features, fitted to z against the other coins at
the same candle (weak, broad signals are where trees overfit and a linear map does not); tree
learners see one feature row plus the horizon; the LSTM sees the last SEQUENCE_LENGTH rows of its
symbol and predicts all 30 horizons at once. The LSTM is trained with keras (jax backend) and
served by a few lines of numpy running the same cell, so the Bento never imports keras.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import xgboost as xgb

from candlecast.timeframes import MAX_STEPS

log = logging.getLogger(__name__)

HORIZON_COLUMN = "horizon"
Z_CLIP = 6.0
PREDICT_CHUNK = 50_000
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


SEQUENCE_LENGTH = 16
LSTM_UNITS = 32
INPUT_CLIP = 5.0
SEQUENCE_CHUNK = 4096


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class LSTMLearner:
    """LSTM(32) over the last 16 standardised feature rows -> 30 z values (one per horizon)."""

    name = "lstm"

    def __init__(self, weights: dict[str, np.ndarray], stride: int) -> None:
        self.weights = weights
        self.stride = stride  # panel rows are `stride` candles apart; serving reads the same

    @property
    def input_rows(self) -> int:
        return (SEQUENCE_LENGTH - 1) * self.stride + 1

    def sequences(self, features, series_start, rows, spacing: int = 1) -> np.ndarray:
        """The window ending at each row: SEQUENCE_LENGTH rows `stride` candles apart, where the
        rows of `features` are `spacing` candles apart (the panel keeps every stride-th candle
        and passes spacing=stride; serving reads every candle, spacing 1)."""
        back = np.arange(SEQUENCE_LENGTH - 1, -1, -1) * max(self.stride // spacing, 1)
        rows = np.asarray(rows)
        out = np.empty((len(rows), SEQUENCE_LENGTH, features.shape[1]), dtype="float32")
        for lo in range(0, len(rows), SEQUENCE_CHUNK):  # a few temporaries of one chunk each
            chunk = rows[lo : lo + SEQUENCE_CHUNK]
            index = np.maximum(chunk[:, None] - back[None, :], series_start[chunk][:, None])
            scaled = (features[index] - self.weights["mean"]) / self.weights["scale"]
            out[lo : lo + SEQUENCE_CHUNK] = np.clip(np.nan_to_num(scaled), -INPUT_CLIP, INPUT_CLIP)
        return out

    def forward(self, sequences: np.ndarray) -> np.ndarray:
        """The keras LSTM cell (gates i, f, c, o; sigmoid and tanh) and the dense head."""
        w = self.weights
        units = w["recurrent"].shape[0]
        h = np.zeros((len(sequences), units), dtype="float32")
        c = np.zeros_like(h)
        for t in range(sequences.shape[1]):
            gates = sequences[:, t] @ w["kernel"] + h @ w["recurrent"] + w["bias"]
            i, f = _sigmoid(gates[:, :units]), _sigmoid(gates[:, units : 2 * units])
            candidate = np.tanh(gates[:, 2 * units : 3 * units])
            o = _sigmoid(gates[:, 3 * units :])
            c = f * c + i * candidate
            h = o * np.tanh(c)
        return h @ w["dense_kernel"] + w["dense_bias"]

    def predict_paths(self, features, series_start, rows, spacing: int = 1) -> np.ndarray:
        out = np.empty((len(rows), MAX_STEPS), dtype="float64")
        for lo in range(0, len(rows), PREDICT_CHUNK // 5):
            hi = lo + PREDICT_CHUNK // 5
            window = self.sequences(features, series_start, rows[lo:hi], spacing)
            out[lo:hi] = self.forward(window)
        return out

    def predict(self, features, series_start, rows, horizon, spacing: int = 1) -> np.ndarray:
        unique, inverse = np.unique(rows, return_inverse=True)
        paths = self.predict_paths(features, series_start, unique, spacing)
        return paths[inverse, np.asarray(horizon) - 1]

    @classmethod
    def fit(
        cls, features, series_start, rows, targets, stride, early_stop_rows=None, seed=7
    ) -> LSTMLearner:
        """`features`: the panel, whose rows are `stride` candles apart; targets: (len(rows), 30)
        z values, NaN where unknown or purged."""
        os.environ.setdefault("KERAS_BACKEND", "jax")
        import keras

        keras.utils.set_random_seed(seed)
        sample = features[rows]
        mean = np.nanmean(sample, axis=0)
        scale = np.nanstd(sample, axis=0)
        scale = np.where(np.isfinite(scale) & (scale > 1e-9), scale, 1.0).astype("float32")
        mean = np.nan_to_num(mean).astype("float32")
        learner = cls({"mean": mean, "scale": scale}, stride)

        def masked_mse(y_true, y_pred):
            known = keras.ops.logical_not(keras.ops.isnan(y_true))
            error = keras.ops.where(known, y_true - y_pred, 0.0)
            count = keras.ops.maximum(keras.ops.sum(keras.ops.cast(known, "float32")), 1.0)
            return keras.ops.sum(error * error) / count

        model = keras.Sequential(
            [
                keras.Input((SEQUENCE_LENGTH, features.shape[1])),
                keras.layers.LSTM(LSTM_UNITS),
                keras.layers.Dense(MAX_STEPS),
            ]
        )
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=masked_mse)
        x = learner.sequences(features, series_start, rows, spacing=stride)
        y = np.clip(targets, -Z_CLIP, Z_CLIP).astype("float32")
        validation = None
        callbacks = []
        if early_stop_rows is not None and len(early_stop_rows[0]):
            e_rows, e_targets = early_stop_rows
            validation = (
                learner.sequences(features, series_start, e_rows, spacing=stride),
                np.clip(e_targets, -Z_CLIP, Z_CLIP).astype("float32"),
            )
            callbacks = [keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)]
        model.fit(
            x,
            y,
            batch_size=256,
            epochs=8,
            validation_data=validation,
            callbacks=callbacks,
            shuffle=True,
            verbose=0,
        )
        lstm, dense = model.layers
        kernel, recurrent, bias = (np.asarray(v, dtype="float32") for v in lstm.get_weights())
        dense_kernel, dense_bias = (np.asarray(v, dtype="float32") for v in dense.get_weights())
        learner.weights |= {
            "kernel": kernel,
            "recurrent": recurrent,
            "bias": bias,
            "dense_kernel": dense_kernel,
            "dense_bias": dense_bias,
        }
        learner.keras_model = model  # kept for the parity test; not saved
        return learner

    def save(self, folder: Path) -> None:
        np.savez(folder / "lstm.npz", **self.weights)
        (folder / "lstm.json").write_text(json.dumps({"stride": self.stride}))

    @classmethod
    def load(cls, folder: Path) -> LSTMLearner:
        with np.load(folder / "lstm.npz") as stored:
            weights = {k: stored[k] for k in stored.files}
        stride = json.loads((folder / "lstm.json").read_text())["stride"]
        return cls(weights, stride)
