"""Out-of-sample figures for a model beside naive baselines, per horizon."""

from __future__ import annotations

import numpy as np

REPORT_HORIZONS = (1, 6, 30)
MIN_BOOTSTRAP_TIMESTAMPS = 10


def direction_of(predicted: np.ndarray) -> np.ndarray:
    """+1 up, -1 down; no predicted change counts as up, as the service reports it."""
    return np.where(np.asarray(predicted) >= 0, 1.0, -1.0)


def _accuracy(predicted: np.ndarray, actual: np.ndarray) -> float:
    moved = actual != 0
    if not moved.any():
        return float("nan")
    return float(np.mean(direction_of(predicted[moved]) == np.sign(actual[moved])))


def block_bootstrap_ci(
    timestamps: np.ndarray,
    numerator: np.ndarray,
    denominator: np.ndarray,
    draws: int = 300,
    seed: int = 7,
) -> tuple[float, float]:
    """95 % interval of sum(numerator)/sum(denominator) under a moving-block bootstrap over
    time: whole blocks of consecutive timestamps are resampled, so coins that move together
    and overlapping horizons stay together (a naive binomial interval is far too narrow)."""
    stamps, inverse = np.unique(timestamps, return_inverse=True)
    n = len(stamps)
    if n < MIN_BOOTSTRAP_TIMESTAMPS:  # too short a window to say anything: no interval
        return (float("nan"), float("nan"))
    num = np.bincount(inverse, weights=numerator, minlength=n)
    den = np.bincount(inverse, weights=denominator, minlength=n)
    block = max(2, int(round(n ** (1 / 3))) * 2)
    block = min(block, n)
    cum_num = np.concatenate([[0.0], np.cumsum(num)])
    cum_den = np.concatenate([[0.0], np.cumsum(den)])
    block_num = cum_num[block:] - cum_num[:-block]
    block_den = cum_den[block:] - cum_den[:-block]
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(block_num), size=(draws, -(-n // block)))
    ratios = block_num[picks].sum(axis=1) / np.maximum(block_den[picks].sum(axis=1), 1e-12)
    low, high = np.quantile(ratios, [0.025, 0.975])
    return float(low), float(high)


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 10
) -> float:
    if len(confidence) == 0:
        return float("nan")
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges) - 1, 0, bins - 1)
    error = 0.0
    for b in range(bins):
        in_bin = index == b
        if in_bin.any():
            error += in_bin.mean() * abs(confidence[in_bin].mean() - correct[in_bin].mean())
    return float(error)


def evaluate(
    timestamp: np.ndarray,
    horizon: np.ndarray,
    actual_log_return: np.ndarray,
    predicted_log_return: np.ndarray,
    confidence: np.ndarray,
    last_return: np.ndarray,
    interval_low: np.ndarray,
    interval_high: np.ndarray,
) -> dict:
    """Model vs random walk (no change), momentum, reversal and always-up, per horizon group."""
    report: dict[str, dict] = {}
    groups = {f"h{h}": horizon == h for h in REPORT_HORIZONS} | {"all": np.ones_like(horizon, bool)}
    for name, mask in groups.items():
        n = int(mask.sum())
        if n == 0:
            report[name] = {"n": 0}
            continue
        actual = actual_log_return[mask]
        predicted = predicted_log_return[mask]
        correct = (direction_of(predicted) == np.sign(actual)).astype(float)
        mae_model = float(np.mean(np.abs(actual - predicted)))
        mae_random_walk = float(np.mean(np.abs(actual)))
        accuracy = _accuracy(predicted, actual)
        moved = (actual != 0).astype(float)
        stamps = timestamp[mask]
        report[name] = {
            "n": n,
            "direction_accuracy": accuracy,
            "direction_accuracy_ci95": block_bootstrap_ci(stamps, correct * moved, moved),
            "mae_ratio_ci95": block_bootstrap_ci(
                stamps, np.abs(actual - predicted), np.abs(actual)
            ),
            # Naive binomial half-width: too narrow for overlapping horizons (see issue 5).
            "direction_accuracy_ci95_naive": 1.96 * float(np.sqrt(accuracy * (1 - accuracy) / n)),
            "mae_log_return": mae_model,
            "mae_random_walk": mae_random_walk,
            "mae_ratio_to_random_walk": mae_model / mae_random_walk if mae_random_walk else None,
            "ece": expected_calibration_error(confidence[mask], correct),
            "mean_confidence": float(np.mean(confidence[mask])),
            "interval80_coverage": float(
                np.mean((actual >= interval_low[mask]) & (actual <= interval_high[mask]))
            ),
            "baselines": {
                "always_up_accuracy": _accuracy(np.ones(n), actual),
                "momentum_accuracy": _accuracy(last_return[mask], actual),
                "reversal_accuracy": _accuracy(-last_return[mask], actual),
            },
        }
    return report
