"""Walk-forward folds: consecutive test windows at the data's end, each after its own
validation window, and the time helpers every fold step shares."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from candlecast.modeling.training.dataset import Panel

TEST_FRACTION, VALIDATION_FRACTION = 0.2, 0.12
MIN_TRAIN_FRACTION = 0.4
MAX_TEST_DAYS = 365
N_FOLDS = 2


@dataclass
class Fold:
    name: str
    validation_start: np.datetime64
    test_start: np.datetime64
    test_end: np.datetime64


def walk_forward_folds(panel: Panel) -> list[Fold]:
    """Up to N_FOLDS consecutive test windows ending at the data's end (a year each where the
    history allows, else a fifth of it), each after its own validation window."""
    start, end = panel.timestamp.min(), panel.timestamp.max() + np.timedelta64(1, "ms")
    span = end - start
    test_length = min(np.timedelta64(MAX_TEST_DAYS, "D").astype("timedelta64[ms]"), span // 5)
    validation_length = (span * int(VALIDATION_FRACTION * 100)) // 100
    folds = []
    for k in range(N_FOLDS):
        test_end = end - k * test_length
        test_start = test_end - test_length
        validation_start = test_start - validation_length
        if k and validation_start - start < span * int(MIN_TRAIN_FRACTION * 100) // 100:
            break
        folds.append(Fold(f"test {k + 1}", validation_start, test_start, test_end))
    return folds[::-1]  # oldest first


def rows_between(panel: Panel, start, end) -> np.ndarray:
    return np.flatnonzero((panel.timestamp >= start) & (panel.timestamp < end))


def halves_of(timestamps: np.ndarray) -> np.ndarray:
    """0 for the earlier half of a window's timestamps, 1 for the later half."""
    return (timestamps >= np.sort(timestamps)[len(timestamps) // 2]).astype(int)
