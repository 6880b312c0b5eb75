"""The served universe at one candle (a timeframe's champion over the top coins by USD volume)
and what a forecast takes of it: each step's z relative to the universe, its percentile among
the universe's predictions and its calibrated `p_outperform`.

A coin of the universe takes its own numbers from the universe (the raw z the ranking computed),
so its forecast and its place in /rank are one computation; any other coin is measured against
the universe with its own raw z. Without a universe (a candle older than the universe's, or no
universe computable) the relative z is the raw z, the percentile null, and p_outperform is
computed on that raw z (0.5 where the horizon has no relative skill, as always).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from candlecast.modeling import ForecastModel, mid_percentile
from candlecast.timeframes import MAX_STEPS


@dataclass(frozen=True)
class Unranked:
    """A coin of the universe that could not be forecast at the candle, and why."""

    symbol: str
    reason: str  # too_little_history | no_fresh_candle | unknown_symbol | market_data_unavailable | unknown
    detail: str


@dataclass(frozen=True)
class Universe:
    model: str  # the version whose raw z these are
    timeframe: str
    candle: pd.Timestamp  # open time of the candle every member's forecast is based on
    computed_at: pd.Timestamp
    tickers: tuple[str, ...]
    closes: np.ndarray  # (n,) each member's close at the candle
    raw: np.ndarray  # (n, MAX_STEPS) each member's raw z at horizons 1..30
    apart: tuple[Unranked, ...] = ()

    @property
    def size(self) -> int:
        return len(self.tickers)

    @property
    def provisional(self) -> bool:
        """More of the universe is still without the candle than with it (computed while the
        provider publishes it): kept for seconds, not for the candle's life."""
        behind = sum(a.reason == "no_fresh_candle" for a in self.apart)
        return behind > self.size

    @cached_property
    def index(self) -> dict[str, int]:
        return {ticker: i for i, ticker in enumerate(self.tickers)}

    @cached_property
    def mean(self) -> np.ndarray:
        return self.raw.mean(axis=0) if self.size else np.zeros(MAX_STEPS)

    @cached_property
    def relative(self) -> np.ndarray:
        """(n, MAX_STEPS) the members' z relative to the universe's mean."""
        return self.raw - self.mean

    def percentiles(self, relative_z: np.ndarray) -> np.ndarray:
        """Each step's percentile (0-100) among the members' relative z at that horizon: the
        members below it, ties counted half (`mid_percentile`, all horizons in one pass)."""
        values = np.asarray(relative_z, dtype=float)
        if np.isnan(values).any() or not self.size:  # where counting and sorting differ
            return np.array(
                [mid_percentile(values[i], self.relative[:, i])[()] for i in range(len(values))]
            )
        columns = self.relative[:, : len(values)]
        below = (columns < values).sum(axis=0)
        not_above = (columns <= values).sum(axis=0)
        return 100.0 * (below + 0.5 * (not_above - below)) / self.size

    def to_bytes(self) -> bytes:
        """A JSON head line, then the closes and the raw z as little-endian float64 (exact, and
        decoded without parsing 15 000 numbers)."""
        head = {
            "model": self.model,
            "timeframe": self.timeframe,
            "candle": self.candle.isoformat(),
            "computed_at": self.computed_at.isoformat(),
            "tickers": list(self.tickers),
            "apart": [[a.symbol, a.reason, a.detail] for a in self.apart],
        }
        numbers = np.concatenate([self.closes, self.raw.ravel()]).astype("<f8")
        return json.dumps(head).encode() + b"\n" + numbers.tobytes()

    @classmethod
    def from_bytes(cls, payload: bytes) -> Universe:
        head_line, _, body = payload.partition(b"\n")
        head = json.loads(head_line)
        numbers = np.frombuffer(body, dtype="<f8")
        n = len(head["tickers"])
        return cls(
            head["model"],
            head["timeframe"],
            pd.Timestamp(head["candle"]),
            pd.Timestamp(head["computed_at"]),
            tuple(head["tickers"]),
            numbers[:n].astype(float),
            numbers[n:].astype(float).reshape(n, MAX_STEPS),
            tuple(Unranked(*a) for a in head["apart"]),
        )


@dataclass(frozen=True)
class RelativeSteps:
    relative_z: np.ndarray
    percentiles: np.ndarray | None  # None: no universe at hand
    p_outperform: np.ndarray
    skilled: np.ndarray
    universe_size: int | None

    def percentile(self, i: int) -> float | None:
        if self.percentiles is None or not self.skilled[i]:
            return None
        return float(self.percentiles[i])


def relative_steps(
    model: ForecastModel, tag: str, raw: np.ndarray, universe: Universe | None, ticker: str
) -> RelativeSteps:
    """The relative fields of a path's steps (raw z at horizons 1..len(raw))."""
    steps = len(raw)
    horizons = np.arange(1, steps + 1)
    skilled = np.asarray(model.calibration.relative_skill[:steps], dtype=bool)
    if universe is None or universe.size == 0 or universe.model != tag:
        relative = np.asarray(raw, dtype=float)
        return RelativeSteps(
            relative, None, model.calibration.p_outperform(relative, horizons), skilled, None
        )
    member = universe.index.get(ticker)
    relative = (
        universe.relative[member, :steps]
        if member is not None
        else np.asarray(raw, dtype=float) - universe.mean[:steps]
    )
    return RelativeSteps(
        relative,
        universe.percentiles(relative),
        model.calibration.p_outperform(relative, horizons),
        skilled,
        universe.size,
    )
