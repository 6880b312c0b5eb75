"""A real ForecastModel serving one naive ranker (sign -1: reversal of the last candle, +1:
momentum), with relative and direction skill claimed at every horizon so each step names a side:
a model whose forecasts follow from the candles alone, saved and served like a trained one."""

from __future__ import annotations

import numpy as np

from candlecast.modeling import FEATURE_SET_VERSION, Calibration, ForecastModel
from candlecast.modeling.naive_rankers import NaiveRanker


def naive_ranker_model(
    sign: float = -1.0, timeframe_code: str = "1h", market: dict[str, str] | None = None
) -> ForecastModel:
    ranker = NaiveRanker(1, np.full(30, sign), 0.01, ["ret_1"])
    calibration = Calibration(
        slope=[0.5] * 30,
        skill=[True] * 30,
        confidence_scale=1.0,
        residual_q10=[-1.28] * 30,
        residual_q90=[1.28] * 30,
        evidence=[{"n": 100, "skill": True, "relative_skill": True}] * 30,
        relative_skill=[True] * 30,
        outperform_scale=[1.5] * 30,
    )
    return ForecastModel(
        {ranker.name: ranker},
        {ranker.name: [1.0] * 30},
        timeframe_code,
        ["ret_1"],
        FEATURE_SET_VERSION,
        calibration,
        market=market or {},
    )
