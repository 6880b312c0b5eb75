"""Numeric helpers of the feature families, on numpy arrays: log ratios, shifts and windows,
rolling sums, means, extremes and moments, pandas' rolling kurtosis and exponential mean."""

from __future__ import annotations

import numpy as np
import pandas as pd
import talib
from scipy.signal import lfilter

EPS = 1e-12


def log_ratio(a, b) -> np.ndarray:
    return np.log(np.asarray(a, dtype="float64") / np.asarray(b, dtype="float64"))


def shifted(values: np.ndarray, k: int) -> np.ndarray:
    """values[t - k] at row t; NaN before it exists."""
    out = np.full_like(values, np.nan)
    out[k:] = values[:-k]
    return out


def rolling_windows(values: np.ndarray, window: int) -> np.ndarray:
    """Row t holds values[t - window + 1 .. t]; rows before the first full window hold NaN,
    so every rolling statistic below is NaN wherever pandas' rolling(window) would be."""
    padded = np.concatenate([np.full(window - 1, np.nan), values])
    step = padded.strides[0]  # sliding_window_view's layout, without its per-call checks
    return np.ndarray((len(values), window), padded.dtype, padded, strides=(step, step))


def rolling_sum(values: np.ndarray, window: int) -> np.ndarray:
    return rolling_windows(values, window).sum(axis=1)


def rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    return rolling_windows(values, window).mean(axis=1)


def rolling_max(values: np.ndarray, window: int) -> np.ndarray:
    return talib.MAX(values, window)  # exact, and NaN until a full window (inputs: NaN-led)


def rolling_min(values: np.ndarray, window: int) -> np.ndarray:
    return talib.MIN(values, window)


class Moments:
    """Central moments of each trailing window, with pandas' conventions: sample (ddof=1)
    statistics, and a window of identical values has std 0 and no skew, kurtosis or
    correlation (a two-pass mean may miss such a value by one ulp, hence the flat mask)."""

    def __init__(self, values: np.ndarray, window: int) -> None:
        windows = rolling_windows(values, window)
        self.window = window
        self.deviations = windows - windows.mean(axis=1, keepdims=True)
        self.squares = self.deviations * self.deviations
        self.flat = rolling_max(values, window) == rolling_min(values, window)
        self.m2 = np.where(self.flat, 0.0, self.squares.sum(axis=1))

    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / (self.window - 1))

    def skew(self) -> np.ndarray:
        n = self.window
        m3 = (self.squares * self.deviations).sum(axis=1)
        return unless_flat(
            self.flat, m3 / (self.m2 * np.sqrt(self.m2)) * n * np.sqrt(n - 1) / (n - 2)
        )

    def corr(self, other: Moments) -> np.ndarray:
        cross = (self.deviations * other.deviations).sum(axis=1)
        return unless_flat(self.flat | other.flat, cross / np.sqrt(self.m2 * other.m2))


def unless_flat(flat: np.ndarray, values: np.ndarray) -> np.ndarray:
    return np.where(flat, np.nan, values)


def pandas_rolling_kurt(values: np.ndarray, window: int) -> np.ndarray:
    # Kept on pandas' online algorithm on purpose: on long histories its rounding reaches 4e-8
    # of the exact kurtosis, and those are the values of this FEATURE_SET_VERSION.
    return pd.Series(values).rolling(window).kurt().to_numpy()


def ewm_mean(values: np.ndarray, span: int) -> np.ndarray:
    """pandas' ewm(span, adjust=False).mean(): y[0] = x[0], y[t] = a x[t] + (1 - a) y[t-1]."""
    alpha = 2 / (span + 1)
    smoothed, _ = lfilter([alpha], [1, alpha - 1], values, zi=[(1 - alpha) * values[0]])
    return smoothed
