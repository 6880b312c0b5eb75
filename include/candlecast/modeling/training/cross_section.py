"""Spearman correlation across coins at each timestamp, in numpy: training measures thousands of
(candidate, horizon, window) slices, and a pandas groupby per slice dominated its time."""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_COINS_FOR_IC = 3


def _ranks(codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties averaged) of `values` within each group of `codes`."""
    order = np.lexsort((values, codes))
    group, value = codes[order], values[order]
    n = len(value)
    index = np.arange(n)
    new_group = np.r_[True, group[1:] != group[:-1]]
    starts = np.maximum.accumulate(np.where(new_group, index, 0))
    ordinal = (index - starts + 1).astype(float)
    run = np.cumsum(new_group | np.r_[True, value[1:] != value[:-1]]) - 1
    average = np.bincount(run, weights=ordinal) / np.bincount(run)
    ranks = np.empty(n)
    ranks[order] = average[run]
    return ranks


def _ic_with_missing(frame: pd.DataFrame) -> pd.Series:
    """The pandas path, for inputs with missing values (ranked among the present ones)."""
    ranks = frame.groupby("t")[["p", "a"]].rank()
    centred = ranks - ranks.groupby(frame["t"]).transform("mean")
    sums = (
        pd.DataFrame(
            {
                "cov": centred["p"] * centred["a"],
                "vp": centred["p"] ** 2,
                "va": centred["a"] ** 2,
                "t": frame["t"],
            }
        )
        .groupby("t")
        .sum()
    )
    return sums["cov"] / np.sqrt(sums["vp"] * sums["va"])


def ic_by_timestamp(
    timestamp: np.ndarray, predicted: np.ndarray, actual: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Spearman correlation across coins at each timestamp with at least MIN_COINS_FOR_IC coins
    (and some spread in both): the timestamps (ascending) and their ICs."""
    predicted = np.asarray(predicted, dtype=float)
    actual = np.asarray(actual, dtype=float)
    codes, stamps = pd.factorize(np.asarray(timestamp), sort=True)
    sizes = np.bincount(codes, minlength=len(stamps))
    keep = sizes[codes] >= MIN_COINS_FOR_IC
    if not keep.any():
        return np.empty(0, dtype=np.asarray(timestamp).dtype), np.empty(0)
    codes, predicted, actual = codes[keep], predicted[keep], actual[keep]
    if np.isnan(predicted).any() or np.isnan(actual).any():
        frame = pd.DataFrame({"t": codes, "p": predicted, "a": actual})
        ic = _ic_with_missing(frame)
        groups, values = ic.index.to_numpy(), ic.to_numpy(dtype=float)
    else:
        count = np.bincount(codes, minlength=len(stamps)).astype(float)
        middle = ((count + 1) / 2)[codes]
        rank_p = _ranks(codes, predicted) - middle
        rank_a = _ranks(codes, actual) - middle
        with np.errstate(divide="ignore", invalid="ignore"):
            cov = np.bincount(codes, weights=rank_p * rank_a, minlength=len(stamps))
            vp = np.bincount(codes, weights=rank_p**2, minlength=len(stamps))
            va = np.bincount(codes, weights=rank_a**2, minlength=len(stamps))
            values = cov / np.sqrt(vp * va)
        groups = np.arange(len(stamps))
        present = count > 0
        groups, values = groups[present], values[present]
    finite = np.isfinite(values)
    return np.asarray(stamps)[groups[finite]], values[finite]
