"""What a trained model is measured by: the naive rules' knowledge of the training window
(`TrainingBaselines`), what a model serves for panel pairs (`served_on`), its test-window figures
beside the baselines (`measure`), and the claims those figures confirm or contradict."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from candlecast.modeling.confidence import sides
from candlecast.modeling.predictor import ForecastModel
from candlecast.modeling.training.dataset import Pairs, Panel
from candlecast.modeling.training.evaluation import evaluate
from candlecast.modeling.training.ranking_eval import ranking_figures
from candlecast.timeframes import MAX_STEPS


@dataclass(frozen=True)
class TrainingBaselines:
    """What the naive rules know from the training window: the majority direction (+1/-1), the
    mean log return per horizon 1..30 (drift) and the naive rankers (their signs)."""

    majority: float
    drift: np.ndarray
    rankers: dict = field(default_factory=dict)

    def ranker_scores(self, panel: Panel, test: Pairs) -> dict[str, np.ndarray]:
        """Each naive ranker's score of the pairs, by the return it reads ('ret_6')."""
        return {
            ranker.name.removeprefix("naive_"): ranker.predict(
                panel.features, panel.series_start, test.row, test.horizon
            )
            for ranker in self.rankers.values()
        }

    @classmethod
    def of(cls, panel: Panel, train: Pairs, rankers: dict | None = None) -> TrainingBaselines:
        returns = panel.returns(train.row, train.horizon)
        drift = [
            np.mean(returns[train.horizon == h]) if (train.horizon == h).any() else 0.0
            for h in range(1, MAX_STEPS + 1)
        ]
        majority = 1.0 if len(returns) == 0 or np.mean(returns > 0) >= 0.5 else -1.0
        return cls(majority, np.nan_to_num(np.asarray(drift, dtype=float)), dict(rankers or {}))


def measure(
    model: ForecastModel, panel: Panel, test: Pairs, baselines: TrainingBaselines, top: set
) -> tuple:
    """Test-window figures of a model as served and of the baselines; returns (metrics, raw z)."""
    served = served_on(model, panel, test)
    rankers = baselines.ranker_scores(panel, test)
    metrics = evaluate(
        panel.timestamp[test.row],
        test.horizon,
        panel.ticker[test.row],
        panel.returns(test.row, test.horizon),
        served.point,
        served.confidence,
        panel.last_return[test.row],
        served.low,
        served.high,
        baselines.drift[test.horizon - 1],
        baselines.majority,
        top,
        direction=served.direction,
        score=served.raw,
        skill=np.asarray(model.calibration.skill)[test.horizon - 1],
        rankers=rankers,
    )
    table = metrics["by_horizon"]
    metrics["ranking"] = ranking_figures(
        model,
        panel.timestamp[test.row],
        test.horizon,
        served.raw,
        panel.returns(test.row, test.horizon),
        rankers,
        dict(zip(table["horizon"], table["best_naive_ranker"], strict=True)),
    )
    return metrics, served.raw


@dataclass(frozen=True)
class PairForecasts:
    """What a model serves for (row, horizon) pairs: log-return point, 80 % band, side
    (+1/-1), its confidence, and the raw z that ranks the coins."""

    raw: np.ndarray
    point: np.ndarray
    low: np.ndarray
    high: np.ndarray
    direction: np.ndarray
    confidence: np.ndarray


def served_on(model: ForecastModel, panel: Panel, test: Pairs) -> PairForecasts:
    raw = model.raw_z(panel.features, panel.series_start, test.row, test.horizon, panel.stride)
    point = model.calibration.point(raw, test.horizon)
    direction, confidence = sides(model.calibration.probability_up(raw, test.horizon))
    scale = panel.sigma[test.row] * np.sqrt(test.horizon)
    q10 = np.asarray(model.calibration.residual_q10)[test.horizon - 1]
    q90 = np.asarray(model.calibration.residual_q90)[test.horizon - 1]
    return PairForecasts(
        raw,
        point * scale,
        (point + q10) * scale,
        (point + q90) * scale,
        np.where(direction == "up", 1.0, -1.0),
        confidence,
    )


def record_test_ic(model: ForecastModel, metrics: dict) -> None:
    """Each horizon's test-window IC (and the best naive ranker's) beside its validation
    evidence, so a claim that failed out of sample shows where the claim is read."""
    table = metrics.get("by_horizon", {})
    for h, ic, naive in zip(
        table.get("horizon", []),
        table.get("rank_ic", []),
        table.get("best_naive_ranker_ic", []),
        strict=True,
    ):
        model.calibration.evidence[h - 1] |= {
            "test_rank_ic": ic,
            "test_best_naive_ranker_ic": naive,
        }


def claims_of(model: ForecastModel) -> dict:
    """A fold's claims, and those its own test window contradicted (IC below 0)."""
    table = model.calibration.skill_table()
    return {
        "relative_skill_horizons": [
            r["horizon"] for r in table if r["relative_skill"] == "validated"
        ],
        "direction_skill_horizons": [r["horizon"] for r in table if r["skill"] == "validated"],
        "claimed_below_zero": [r["horizon"] for r in table if r["test_below_zero"]],
    }
