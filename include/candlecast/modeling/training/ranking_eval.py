"""What the ranking did on the test window, per horizon: the served signal's top-minus-bottom-fifth
spread per period beside the best naive ranker's (gross; the API shows it net of a fee too), and
the expected calibration error of the served `p_outperform`. Recorded with the horizon's
evidence, so /models and the report show it beside the IC."""

from __future__ import annotations

import numpy as np

from candlecast.modeling import ForecastModel
from candlecast.modeling.training.evaluation import fifth_spread
from candlecast.modeling.training.outperform import outperform_ece
from candlecast.timeframes import MAX_STEPS


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
