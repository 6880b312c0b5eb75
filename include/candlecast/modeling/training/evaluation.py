"""Out-of-sample figures for a model beside naive baselines, per horizon, with honest intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from candlecast.timeframes import MAX_STEPS

REPORT_HORIZONS = (1, 6, 30)
MIN_BOOTSTRAP_TIMESTAMPS = 10
MIN_BOOTSTRAP_BLOCKS = 3
MIN_COINS_FOR_IC = 3
TOP_COINS = 50


def direction_of(predicted: np.ndarray) -> np.ndarray:
    """+1 up, -1 down; no predicted change counts as up, as the service reports it."""
    return np.where(np.asarray(predicted) >= 0, 1.0, -1.0)


def hit_rate(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Share of the moves (actual != 0) whose side the forecast's sign called."""
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
    level: float = 0.95,
    min_block: int = 2,
) -> tuple[float, float]:
    """`level` interval of sum(numerator)/sum(denominator) under a moving-block bootstrap over
    time: whole blocks of consecutive timestamps are resampled, so coins that move together
    and overlapping horizons stay together (a naive binomial interval is far too narrow).
    `min_block`: the fewest timestamps a block spans — the horizon, for figures of h-candle
    returns, whose outcomes overlap for h candles."""
    stamps, inverse = np.unique(timestamps, return_inverse=True)
    n = len(stamps)
    if n < MIN_BOOTSTRAP_TIMESTAMPS:  # too short a window to say anything: no interval
        return (float("nan"), float("nan"))
    num = np.bincount(inverse, weights=numerator, minlength=n)
    den = np.bincount(inverse, weights=denominator, minlength=n)
    block = max(min_block, 2, int(round(n ** (1 / 3))) * 2)
    if n < MIN_BOOTSTRAP_BLOCKS * block:  # too few independent stretches to resample: no interval
        return (float("nan"), float("nan"))
    cum_num = np.concatenate([[0.0], np.cumsum(num)])
    cum_den = np.concatenate([[0.0], np.cumsum(den)])
    block_num = cum_num[block:] - cum_num[:-block]
    block_den = cum_den[block:] - cum_den[:-block]
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(block_num), size=(draws, -(-n // block)))
    ratios = block_num[picks].sum(axis=1) / np.maximum(block_den[picks].sum(axis=1), 1e-12)
    low, high = np.quantile(ratios, [(1 - level) / 2, (1 + level) / 2])
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


def ic_by_timestamp(
    timestamp: np.ndarray, predicted: np.ndarray, actual: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Spearman correlation across coins at each timestamp with at least MIN_COINS_FOR_IC coins
    (and some spread in both): the timestamps and their ICs."""
    frame = pd.DataFrame({"t": timestamp, "p": predicted, "a": actual})
    frame = frame[frame.groupby("t")["p"].transform("size") >= MIN_COINS_FOR_IC]
    if frame.empty:
        return np.empty(0, dtype=np.asarray(timestamp).dtype), np.empty(0)
    ranks = frame.groupby("t")[["p", "a"]].rank()
    centred = ranks - ranks.groupby(frame["t"]).transform("mean")
    grouped = pd.DataFrame(
        {
            "cov": centred["p"] * centred["a"],
            "vp": centred["p"] ** 2,
            "va": centred["a"] ** 2,
            "t": frame["t"],
        }
    ).groupby("t")
    sums = grouped.sum()
    ic = (sums["cov"] / np.sqrt(sums["vp"] * sums["va"])).replace([np.inf, -np.inf], np.nan)
    ic = ic.dropna()
    return ic.index.to_numpy(), ic.to_numpy(dtype=float)


def mean_ic(timestamp: np.ndarray, predicted: np.ndarray, actual: np.ndarray) -> float | None:
    _, ic = ic_by_timestamp(timestamp, predicted, actual)
    return float(np.mean(ic)) if len(ic) else None


def best_ranker_ic(
    stamps: np.ndarray, actual: np.ndarray, scores: dict[str, np.ndarray]
) -> tuple[str | None, float | None, dict[str, float]]:
    """The naive ranker of the highest mean IC among `scores` (name -> score of each pair), that
    IC, and every ranker's that could be measured."""
    ics = {name: mean_ic(stamps, score, actual) for name, score in scores.items()}
    ics = {name: ic for name, ic in ics.items() if ic is not None}
    best = max(ics, key=ics.get, default=None)
    return best, (ics[best] if best else None), ics


def rank_ic(
    timestamp: np.ndarray, predicted: np.ndarray, actual: np.ndarray, overlap: int = 1
) -> dict:
    """Spearman correlation across coins at each timestamp; its mean (IC) with a moving-block
    95 % interval over time (blocks of at least `overlap` timestamps), and mean/std (ICIR)."""
    stamps, ic = ic_by_timestamp(timestamp, predicted, actual)
    if len(ic) < 2:
        return {"rank_ic": None, "rank_ic_ci95": None, "icir": None, "ic_periods": int(len(ic))}
    spread = float(ic.std(ddof=1))
    return {
        "rank_ic": float(ic.mean()),
        "rank_ic_ci95": list(block_bootstrap_ci(stamps, ic, np.ones(len(ic)), min_block=overlap)),
        "icir": float(ic.mean() / spread) if spread > 0 else None,
        "ic_periods": int(len(ic)),
    }


def _direction_figures(stamps, predicted, actual, overlap: int = 1) -> dict:
    """`predicted`: a forecast whose sign is the call (+1/-1 directions pass as they are)."""
    moved = (actual != 0).astype(float)
    correct = (direction_of(predicted) == np.sign(actual)).astype(float)
    return {
        "direction_accuracy": hit_rate(predicted, actual),
        "direction_accuracy_ci95": block_bootstrap_ci(
            stamps, correct * moved, moved, min_block=overlap
        ),
    }


def _error_figures(stamps, predicted, actual, overlap: int = 1) -> dict:
    mae = float(np.mean(np.abs(actual - predicted)))
    random_walk = float(np.mean(np.abs(actual)))
    error, base = np.abs(actual - predicted), np.abs(actual)
    return {
        "mae_log_return": mae,
        "mae_ratio_to_random_walk": mae / random_walk if random_walk else None,
        "mae_ratio_ci95": block_bootstrap_ci(stamps, error, base, min_block=overlap),
    }


def _ece_of_calls(confidence: np.ndarray, correct: np.ndarray) -> float:
    """The calibration error of the calls: a step at confidence 0.5 names no side (its 'up' is
    a convention), so it is no call to be calibrated; NaN where there are none."""
    calls = confidence > 0.5
    return expected_calibration_error(confidence[calls], correct[calls])


def _group(columns: dict, mask: np.ndarray, overlap: int = MAX_STEPS) -> dict:
    """The figures of the pairs `mask`, their intervals in blocks of at least `overlap`
    timestamps (the longest horizon among them: its outcomes overlap for that many candles)."""
    stamps = columns["timestamp"][mask]
    actual = columns["actual"][mask]
    predicted = columns["predicted"][mask]
    direction = columns["direction"][mask]
    n = int(mask.sum())
    if n == 0:
        return {"n": 0}
    correct = (direction == np.sign(actual)).astype(float)
    inside = (
        (actual >= columns["interval_low"][mask]) & (actual <= columns["interval_high"][mask])
    ).astype(float)
    model = {
        "n": n,
        "skilled_share": float(np.mean(columns["skill"][mask])),
        **_direction_figures(stamps, direction, actual, overlap),
        **_error_figures(stamps, predicted, actual, overlap),
        **rank_ic(stamps, columns["score"][mask], actual, overlap),
        "ece": _ece_of_calls(columns["confidence"][mask], correct),
        "calls": int(np.sum(columns["confidence"][mask] > 0.5)),
        "mean_confidence": float(np.mean(columns["confidence"][mask])),
        "interval80_coverage": float(inside.mean()),
        "interval80_coverage_ci95": block_bootstrap_ci(
            stamps, inside, np.ones(n), min_block=overlap
        ),
    }
    last = columns["last_return"][mask]
    drift = columns["drift"][mask]
    model["baselines"] = {
        "random_walk": {"mae_ratio_to_random_walk": 1.0, "rank_ic": None},
        "drift": {
            **_direction_figures(stamps, drift, actual, overlap),
            **_error_figures(stamps, drift, actual, overlap),
        },
        "momentum": {
            **_direction_figures(stamps, last, actual, overlap),
            **rank_ic(stamps, last, actual, overlap),
        },
        "reversal": _direction_figures(stamps, -last, actual, overlap),
        "majority": _direction_figures(stamps, np.full(n, columns["majority"]), actual, overlap),
    }
    rankers = {
        name: rank_ic(stamps, score[mask], actual, overlap)
        for name, score in columns["rankers"].items()
    }
    model["naive_rankers"] = rankers
    best = max(
        (name for name in rankers if rankers[name]["rank_ic"] is not None),
        key=lambda name: rankers[name]["rank_ic"],
        default=None,
    )
    model["best_naive_ranker"] = best
    model["best_naive_ranker_ic"] = rankers[best]["rank_ic"] if best else None
    return model


def evaluate(
    timestamp: np.ndarray,
    horizon: np.ndarray,
    ticker: np.ndarray,
    actual_log_return: np.ndarray,
    predicted_log_return: np.ndarray,
    confidence: np.ndarray,
    last_return: np.ndarray,
    interval_low: np.ndarray,
    interval_high: np.ndarray,
    drift: np.ndarray,
    majority: float,
    top_tickers: set[str],
    direction: np.ndarray | None = None,
    score: np.ndarray | None = None,
    skill: np.ndarray | None = None,
    rankers: dict[str, np.ndarray] | None = None,
) -> dict:
    """Model vs random walk, drift, momentum, reversal and the training majority, and its rank IC
    beside the naive rankers': per horizon group (h1, h6, h30, all), the top coins against the
    rest, and accuracy and IC at every horizon. `direction` (+1/-1): the side served (default:
    the point's sign); `score`: what ranks the coins for the IC (default: the point); `skill`:
    whether each pair's horizon has skill; `rankers`: each naive ranker's score, by name."""
    columns = {
        "timestamp": timestamp,
        "actual": actual_log_return,
        "predicted": predicted_log_return,
        "direction": direction_of(predicted_log_return) if direction is None else direction,
        "score": predicted_log_return if score is None else score,
        "skill": np.ones(len(timestamp), dtype=bool) if skill is None else skill,
        "confidence": confidence,
        "last_return": last_return,
        "interval_low": interval_low,
        "interval_high": interval_high,
        "drift": drift,
        "majority": majority,
        "rankers": rankers or {},
    }
    report = {f"h{h}": _group(columns, horizon == h, h) for h in REPORT_HORIZONS}
    report["all"] = _group(columns, np.ones_like(horizon, dtype=bool))
    top = np.isin(ticker, list(top_tickers))
    report["top50"] = _group(columns, top)
    report["rest"] = _group(columns, ~top)
    report["by_horizon"] = accuracy_by_horizon(columns, horizon)
    return report


def accuracy_by_horizon(columns: dict, horizon: np.ndarray) -> dict:
    actual = columns["actual"]
    table: dict[str, list] = {
        "horizon": [],
        "model": [],
        "momentum": [],
        "reversal": [],
        "majority": [],
        "drift": [],
        "rank_ic": [],
        "best_naive_ranker": [],
        "best_naive_ranker_ic": [],
    }
    for h in range(1, MAX_STEPS + 1):
        at = horizon == h
        if not at.any():
            continue
        last = columns["last_return"][at]
        table["horizon"].append(h)
        stamps = columns["timestamp"][at]
        table["rank_ic"].append(mean_ic(stamps, columns["score"][at], actual[at]))
        at_horizon = {name: score[at] for name, score in columns["rankers"].items()}
        best, best_ic, _ = best_ranker_ic(stamps, actual[at], at_horizon)
        table["best_naive_ranker"].append(best)
        table["best_naive_ranker_ic"].append(best_ic)
        table["model"].append(hit_rate(columns["direction"][at], actual[at]))
        table["momentum"].append(hit_rate(last, actual[at]))
        table["reversal"].append(hit_rate(-last, actual[at]))
        table["majority"].append(hit_rate(np.full(at.sum(), columns["majority"]), actual[at]))
        table["drift"].append(hit_rate(columns["drift"][at], actual[at]))
    return table


def calibration_curve(
    confidence: Sequence[float] | np.ndarray, correct: Sequence[bool] | np.ndarray, bins: int = 10
) -> dict:
    """Reliability diagram data over equal-width confidence bins (empty bins left out) and the
    expected calibration error: the count-weighted mean |confidence − observed| of the bins."""
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    if confidence.shape != correct.shape or confidence.ndim != 1:
        raise ValueError(
            f"calibration_curve: confidence {confidence.shape} and correct {correct.shape} "
            "must be 1-d and of one length"
        )
    if not ((confidence >= 0) & (confidence <= 1)).all():
        raise ValueError("calibration_curve: confidence must be probabilities in [0, 1]")
    if bins < 1:
        raise ValueError(f"calibration_curve: bins={bins} must be >= 1")
    index = np.clip(np.digitize(confidence, np.linspace(0, 1, bins + 1)) - 1, 0, bins - 1)
    count = np.bincount(index, minlength=bins)
    used = count > 0
    mean_confidence = np.bincount(index, confidence, bins)[used] / count[used]
    observed = np.bincount(index, correct, bins)[used] / count[used]
    weights = count[used] / max(len(confidence), 1)
    ece = float(np.sum(weights * np.abs(mean_confidence - observed))) if used.any() else math.nan
    return {
        "confidence": mean_confidence.tolist(),
        "observed": observed.tolist(),
        "count": count[used].tolist(),
        "ece": ece,
    }
