"""Naive rankers: rules that rank coins by their own recent return, needing no model.

A ranker reads one feature, the log return over the last k candles (k in NAIVE_LOOKBACKS), and
ranks the coins by it with one sign fixed on the training window: minus (reversal) where the
coins that rose most went on to do worst relative to the others, plus (momentum) where they went
on to do best. One sign for every horizon: a rule that flipped from one horizon to the next
would be fitted noise, not a rule. They are the baseline every rank figure stands beside, and a served signal
in their own right where none of the learners ranks better: a simple honest model is a model.

A ranker is a learner like the others (same `predict`, `save`, `load`), so the forecaster serves
it through the same code as XGBoost or the ridge, and its served raw prediction is
sign · ret_k / scale, with `scale` the spread of ret_k on the training rows (z-like units, so
the calibration fits its point size as it does a learner's).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from candlecast.timeframes import MAX_STEPS

NAIVE_LOOKBACKS = (1, 6, 24)
_PREFIX = "naive_ret_"
_CLIP = 6.0


def ranker_name(lookback: int) -> str:
    return f"{_PREFIX}{lookback}"


def is_ranker(name: str) -> bool:
    return name.startswith(_PREFIX)


def rule_name(lookback: int, sign: float) -> str:
    """How a person says the rule: 'reversal 6' ranks by minus the last 6 candles' return."""
    return f"{'reversal' if sign < 0 else 'momentum'} {lookback}"


def return_column(lookback: int) -> str:
    return f"ret_{lookback}"


def _column_index(columns: list[str], lookback: int) -> int:
    try:
        return columns.index(return_column(lookback))
    except ValueError:
        raise ValueError(
            f"naive ranker {ranker_name(lookback)}: no feature {return_column(lookback)!r}"
        ) from None


class NaiveRanker:
    """± the last `lookback` candles' log return, the sign fixed on training (kept per horizon
    1..30, the same at each, so a stored ranker says what it served at every step)."""

    input_rows = 1

    def __init__(self, lookback: int, signs: np.ndarray, scale: float, columns: list[str]):
        self.lookback, self.signs, self.scale = lookback, np.asarray(signs, dtype=float), scale
        self.name = ranker_name(lookback)
        self._column = _column_index(columns, lookback)

    @classmethod
    def fit(cls, features, columns, rows, horizon, relative_z, sigma, lookback: int) -> NaiveRanker:
        """The sign of the correlation between the past return (in units of the coin's
        volatility, so calm and wild coins weigh alike) and the later return relative to the
        other coins, over every training (row, horizon) pair; momentum where there is none."""
        past = features[rows, _column_index(columns, lookback)].astype("float64")
        scale = float(np.nanstd(past)) or 1.0
        standard = np.clip(np.nan_to_num(past / (sigma * np.sqrt(lookback))), -_CLIP, _CLIP)
        target = np.clip(np.nan_to_num(relative_z), -_CLIP, _CLIP)
        sign = 1.0
        if len(rows) > 2 and np.std(standard) > 0 and np.std(target) > 0:
            sign = -1.0 if np.corrcoef(standard, target)[0, 1] < 0 else 1.0
        return cls(lookback, np.full(MAX_STEPS, sign), scale, columns)

    def rule(self, horizon: int) -> str:
        return rule_name(self.lookback, self.signs[horizon - 1])

    def predict(self, features, series_start, rows, horizon, spacing: int = 1) -> np.ndarray:
        past = features[np.asarray(rows), self._column].astype("float64")
        return np.nan_to_num(self.signs[np.asarray(horizon) - 1] * past / self.scale)

    def importance(self) -> dict[str, float]:
        return {}

    def save(self, folder: Path) -> None:
        stored = {"lookback": self.lookback, "signs": self.signs.tolist(), "scale": self.scale}
        (folder / f"{self.name}.json").write_text(json.dumps(stored))

    @classmethod
    def load(cls, folder: Path, columns: list[str], name: str) -> NaiveRanker:
        stored = json.loads((folder / f"{name}.json").read_text())
        return cls(stored["lookback"], np.asarray(stored["signs"]), stored["scale"], columns)
