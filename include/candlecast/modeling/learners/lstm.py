"""The LSTM learner: the last SEQUENCE_LENGTH rows of its symbol in, all 30 horizons out. Trained
with keras (jax backend) and served by a few lines of numpy running the same cell, so the Bento
never imports keras."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from candlecast.modeling.learners.limits import PREDICT_CHUNK, Z_CLIP
from candlecast.timeframes import MAX_STEPS

SEQUENCE_LENGTH = 16
LSTM_UNITS = 32
INPUT_CLIP = 5.0
SEQUENCE_CHUNK = 4096


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _keras_model(keras, n_features: int):
    """LSTM(LSTM_UNITS) and a dense head of MAX_STEPS, compiled with a loss that skips unknown
    (NaN) targets."""

    def masked_mse(y_true, y_pred):
        known = keras.ops.logical_not(keras.ops.isnan(y_true))
        error = keras.ops.where(known, y_true - y_pred, 0.0)
        count = keras.ops.maximum(keras.ops.sum(keras.ops.cast(known, "float32")), 1.0)
        return keras.ops.sum(error * error) / count

    model = keras.Sequential(
        [
            keras.Input((SEQUENCE_LENGTH, n_features)),
            keras.layers.LSTM(LSTM_UNITS),
            keras.layers.Dense(MAX_STEPS),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=masked_mse)
    return model


def _cell_weights(model) -> dict[str, np.ndarray]:
    """The trained cell's and head's weights, as `LSTMLearner.forward` reads them."""
    lstm, dense = model.layers
    kernel, recurrent, bias = (np.asarray(v, dtype="float32") for v in lstm.get_weights())
    dense_kernel, dense_bias = (np.asarray(v, dtype="float32") for v in dense.get_weights())
    return {
        "kernel": kernel,
        "recurrent": recurrent,
        "bias": bias,
        "dense_kernel": dense_kernel,
        "dense_bias": dense_bias,
    }


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

        model = _keras_model(keras, features.shape[1])
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
        learner.weights |= _cell_weights(model)
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
