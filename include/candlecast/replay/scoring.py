"""A replay scored against what followed, by training's own scoring code (`evaluate`: rank IC,
direction against the naive rules, MAE against the random walk, band coverage, ECE; `rank_ic`'s
moving-block intervals; `calibration_curve`), plus the top-minus-bottom-fifth spread of the
ranking, gross and net of a fee on each side of each trade."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from candlecast.modeling.naive_rankers import NAIVE_LOOKBACKS, rule_name
from candlecast.modeling.training.evaluation import (
    calibration_curve,
    evaluate,
    ic_by_timestamp,
    rank_ic,
)
from candlecast.replay.dates import iso, naive_ms
from candlecast.timeframes import MAX_STEPS, Timeframe

DEFAULT_FEE = 0.001  # a side: a long-short pair pays it four times (two legs, in and out)
FIFTH = 0.2
MIN_COINS_FOR_SPREAD = 5


def attach_outcomes(forecasts: pd.DataFrame, candles: pd.DataFrame, timeframe: Timeframe) -> None:
    """`actual_close` of each step's candle where it has closed and is stored (by the calendar:
    no later candle stands in across a gap), NaN otherwise; in place."""
    stamps = naive_ms(candles["timestamp"])
    index = timeframe.candle_index(stamps)
    wanted = timeframe.candle_index(naive_ms(forecasts["timestamp"]))
    if len(index) == 0:
        forecasts["actual_close"] = np.nan
        return
    at = np.minimum(np.searchsorted(index, wanted), len(index) - 1)
    close = candles["close"].to_numpy(dtype="float64")
    forecasts["actual_close"] = np.where(index[at] == wanted, close[at], np.nan)


class Baselines:
    """The naive rules' knowledge before the first date (as training takes it from its training
    window): the mean h-candle log return (drift) and the majority direction, summed a series
    at a time over the outcomes that ended before the first date."""

    def __init__(self) -> None:
        self.total = np.zeros(MAX_STEPS)
        self.count = np.zeros(MAX_STEPS)
        self.up = 0.0

    def add(self, candles: pd.DataFrame, timeframe: Timeframe, first_date: pd.Timestamp) -> None:
        stamps = naive_ms(candles["timestamp"])
        index = timeframe.candle_index(stamps)
        last = int(timeframe.candle_index(naive_ms([first_date]))[0]) - 1
        keep = index <= last
        index, log_close = index[keep], np.log(candles["close"].to_numpy("float64")[keep])
        for h in range(1, MAX_STEPS + 1):
            at = np.searchsorted(index, index + h)
            ok = at < len(index)
            ok[ok] = index[at[ok]] == index[ok] + h
            moves = log_close[at[ok]] - log_close[ok]
            self.total[h - 1] += moves.sum()
            self.count[h - 1] += len(moves)
            self.up += float((moves > 0).sum())

    @property
    def drift(self) -> np.ndarray:
        return np.where(self.count > 0, self.total / np.maximum(self.count, 1), 0.0)

    @property
    def majority(self) -> float:
        return 1.0 if self.count.sum() == 0 or self.up / self.count.sum() >= 0.5 else -1.0


def ranker_scores(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each naive rule's score: ± the return over the last 1, 6 and 24 candles. Both signs are
    shown (training fixes one on its window; a replay has none), so the best of them, chosen on
    the replay itself, is a high bar."""
    return {
        rule_name(k, sign): sign * frame[f"ret_{k}"].to_numpy(dtype="float64")
        for k in NAIVE_LOOKBACKS
        for sign in (1.0, -1.0)
    }


def score(
    frame: pd.DataFrame, baselines: Baselines, top: set[str], every_candles: int,
    fee: float = DEFAULT_FEE,
) -> dict:  # fmt: skip
    """The replay's figures over the forecasts whose step has closed: `evaluate`'s groups and
    its table by horizon, each horizon's IC with a moving-block interval (blocks spanning the
    dates an h-candle outcome overlaps), IC over time, the spread and the calibration curve."""
    scored = frame[frame["actual_close"].notna()]
    if scored.empty:
        raise ValueError("no forecast of the replay has an outcome in the store yet")
    stamps = naive_ms(scored["as_of"])
    horizon = scored["step"].to_numpy("int64")
    last = scored["last_close"].to_numpy("float64")
    actual = np.log(scored["actual_close"].to_numpy("float64") / last)
    up = scored["direction"].to_numpy() == "up"
    rankers = ranker_scores(scored)
    figures = evaluate(
        stamps, horizon, scored["ticker"].to_numpy(), actual,
        np.log(scored["close"].to_numpy("float64") / last),
        scored["confidence"].to_numpy("float64"),
        scored["ret_1"].to_numpy("float64"),
        np.log(scored["close_low_80"].to_numpy("float64") / last),
        np.log(scored["close_high_80"].to_numpy("float64") / last),
        baselines.drift[horizon - 1], baselines.majority, top,
        direction=np.where(up, 1.0, -1.0),
        score=scored["raw_z"].to_numpy("float64"),
        skill=scored["skill"].to_numpy(bool),
        rankers=rankers,
    )  # fmt: skip
    correct = np.where(up, 1.0, -1.0) == np.sign(actual)
    confidence = scored["confidence"].to_numpy("float64")
    calls = confidence > 0.5
    return {
        "groups": {k: v for k, v in figures.items() if k != "by_horizon"},
        "by_horizon": _by_horizon(
            figures["by_horizon"], stamps, horizon, scored, actual, every_candles
        ),
        "ic_over_time": _ic_over_time(stamps, horizon, scored, actual, every_candles),
        "spread": spread(scored, actual, every_candles, fee),
        "calibration": calibration_curve(confidence[calls], correct[calls]) if calls.any() else {},
        "majority": baselines.majority,
    }


def _overlap(h: int, every_candles: int) -> int:
    """Dates an h-candle outcome spans: consecutive dates' outcomes overlap below it."""
    return max(1, math.ceil(h / max(every_candles, 1)))


def _by_horizon(table: dict, stamps, horizon, scored, actual, every_candles: int) -> dict:
    table = dict(table)
    table["rank_ic_ci95"], table["dates"] = [], []
    raw = scored["raw_z"].to_numpy("float64")
    for h in table["horizon"]:
        at = horizon == h
        figures = rank_ic(stamps[at], raw[at], actual[at], _overlap(h, every_candles))
        table["rank_ic_ci95"].append(figures["rank_ic_ci95"])
        table["dates"].append(figures["ic_periods"])
    return table


def spread_horizon(every_candles: int) -> int:
    """The horizon the curves follow: one date to the next (held until the next date), at most
    the 30th step."""
    return min(max(every_candles, 1), MAX_STEPS)


def _ic_over_time(stamps, horizon, scored, actual, every_candles: int) -> dict:
    h = spread_horizon(every_candles)
    at = horizon == h
    when, ic = ic_by_timestamp(stamps[at], scored["raw_z"].to_numpy("float64")[at], actual[at])
    return {"horizon": h, "as_of": [iso(t) for t in when], "ic": ic.tolist()}


def spread(scored: pd.DataFrame, actual: np.ndarray, every_candles: int, fee: float) -> dict:
    """Per date and horizon: the mean simple return of the coins the model ranks in its top
    fifth less that of its bottom fifth (at least MIN_COINS_FOR_SPREAD coins), gross and net of
    `fee` a side (the long and the short leg each pay it in and out: 4 × fee); the mean per
    horizon and, at the curve's horizon, the cumulative sum over the dates."""
    frame = pd.DataFrame(
        {"t": naive_ms(scored["as_of"]), "h": scored["step"].to_numpy(),
         "score": scored["raw_z"].to_numpy("float64"), "ret": np.expm1(actual)}
    )  # fmt: skip
    size = frame.groupby(["t", "h"])["score"].transform("size")
    frame = frame[size >= MIN_COINS_FOR_SPREAD]
    if frame.empty:
        return {"fee_a_side": fee, "by_horizon": {}, "curve": {}}
    pct = frame.groupby(["t", "h"])["score"].rank(pct=True, method="first")
    top = frame[pct > 1 - FIFTH].groupby(["t", "h"])["ret"].mean()
    bottom = frame[pct <= FIFTH].groupby(["t", "h"])["ret"].mean()
    gross = (top - bottom).dropna().rename("gross").reset_index()
    gross["net"] = gross["gross"] - 4 * fee
    by_h = gross.groupby("h")[["gross", "net"]].mean()
    h = spread_horizon(every_candles)
    curve = gross[gross["h"] == h].sort_values("t")
    return {
        "fee_a_side": fee,
        "by_horizon": {
            "horizon": by_h.index.tolist(),
            "gross": by_h["gross"].tolist(),
            "net": by_h["net"].tolist(),
        },
        "curve": {
            "horizon": h,
            "as_of": [iso(t) for t in curve["t"]],
            "gross": curve["gross"].cumsum().tolist(),
            "net": curve["net"].cumsum().tolist(),
        },
    }
