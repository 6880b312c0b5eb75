"""A prediction against the other coins' at the same candle: the served universe's (or, in
training, the panel's) predictions for one candle and horizon are a cross-section, and a coin's
relative z is its raw prediction minus that cross-section's mean, its percentile its mid-rank
among them (0-100: the share of the universe predicted below it, ties counted half).

One definition for training (fitting and measuring `p_outperform`) and serving (/predict, /rank).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_CROSS_SECTION = 5  # coins a candle needs before its mean and median say anything


def group_codes(*keys: np.ndarray) -> np.ndarray:
    """One integer per distinct combination of the keys (a candle, or a candle and horizon)."""
    return pd.MultiIndex.from_arrays([np.asarray(k) for k in keys]).factorize()[0]


def centred(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each value minus its group's mean."""
    values = np.asarray(values, dtype=float)
    return values - pd.Series(values).groupby(np.asarray(groups)).transform("mean").to_numpy()


def above_median(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """1 where a value lies above its group's median (the coin beat the universe's median), 0
    below, 0.5 at it (the middle coin of an odd cross-section), so every group's mean is 0.5."""
    values = np.asarray(values, dtype=float)
    median = pd.Series(values).groupby(np.asarray(groups)).transform("median").to_numpy()
    return np.where(values > median, 1.0, np.where(values < median, 0.0, 0.5))


def group_sizes(groups: np.ndarray) -> np.ndarray:
    groups = np.asarray(groups)
    return pd.Series(groups).groupby(groups).transform("size").to_numpy()


def mid_percentile(values: np.ndarray, universe: np.ndarray) -> np.ndarray:
    """Percentile (0-100) of each value among `universe`: the share below it, ties counted half."""
    ordered = np.sort(np.asarray(universe, dtype=float))
    values = np.asarray(values, dtype=float)
    below = np.searchsorted(ordered, values, side="left")
    not_above = np.searchsorted(ordered, values, side="right")
    return 100.0 * (below + 0.5 * (not_above - below)) / max(len(ordered), 1)
