"""What the ranking did on the test window, per horizon: the served signal's top-minus-bottom-fifth
spread per period beside the best naive ranker's (gross; the API shows it net of a fee too), and
the expected calibration error of the served `p_outperform`. Recorded with the horizon's
evidence, so /models and the report show it beside the IC."""

from __future__ import annotations

import numpy as np
import pandas as pd

from candlecast.modeling import ForecastModel
from candlecast.modeling.training.outperform import outperform_ece
from candlecast.timeframes import MAX_STEPS

FIFTH_MIN_COINS = 5


def fifth_spread(timestamp: np.ndarray, score: np.ndarray, actual_log_return: np.ndarray) -> dict:
    """Top-minus-bottom-fifth spread per period: at each timestamp with at least 5 coins, the
    mean simple return of the fifth of the coins the score ranks highest minus the fifth it ranks
    lowest (gross: before fees); its mean over the timestamps and how many there were."""
    frame = pd.DataFrame({"t": timestamp, "s": score, "r": np.expm1(actual_log_return)})
    size = frame.groupby("t")["s"].transform("size")
    frame = frame[size >= FIFTH_MIN_COINS]
    if frame.empty:
        return {"spread": None, "spread_periods": 0}
    order = frame.groupby("t")["s"].rank(method="first")
    n = frame.groupby("t")["s"].transform("size")
    fifth = n // 5
    top = frame["r"].where(order > n - fifth).groupby(frame["t"]).mean()
    bottom = frame["r"].where(order <= fifth).groupby(frame["t"]).mean()
    spread = (top - bottom).dropna()
    return {"spread": float(spread.mean()), "spread_periods": int(len(spread))}


def ranking_figures(
    model: ForecastModel,
    stamps: np.ndarray,
    horizon: np.ndarray,
    raw: np.ndarray,
    actual: np.ndarray,
    rankers: dict[str, np.ndarray],
    best_naive: dict[int, str | None],
) -> dict:
    """Per horizon the spreads of the served raw z and of `best_naive[h]` (a key of `rankers`),
    and p_outperform's calibration error."""
    by_horizon: dict[str, list] = {
        "horizon": [],
        "spread": [],
        "spread_periods": [],
        "best_naive_ranker": [],
        "best_naive_ranker_spread": [],
    }
    for h in range(1, MAX_STEPS + 1):
        at = horizon == h
        if not at.any():
            continue
        model_spread = fifth_spread(stamps[at], raw[at], actual[at])
        naive = best_naive.get(h)
        naive_spread = (
            fifth_spread(stamps[at], rankers[naive][at], actual[at])["spread"]
            if naive in rankers
            else None
        )
        by_horizon["horizon"].append(h)
        by_horizon["spread"].append(model_spread["spread"])
        by_horizon["spread_periods"].append(model_spread["spread_periods"])
        by_horizon["best_naive_ranker"].append(naive)
        by_horizon["best_naive_ranker_spread"].append(naive_spread)
    return {"by_horizon": by_horizon} | outperform_ece(
        model.calibration, stamps, horizon, raw, actual
    )


def record_ranking(model: ForecastModel, metrics: dict) -> None:
    """Each horizon's test spreads and p_outperform ECE beside its validation evidence."""
    ranking = metrics.get("ranking") or {}
    table = ranking.get("by_horizon", {})
    ece = ranking.get("p_outperform_ece_by_horizon", {})
    for h, spread, naive in zip(
        table.get("horizon", []),
        table.get("spread", []),
        table.get("best_naive_ranker_spread", []),
        strict=True,
    ):
        model.calibration.evidence[h - 1] |= {
            "test_spread": spread,
            "test_best_naive_ranker_spread": naive,
            "test_p_outperform_ece": ece.get(h),
        }
