"""The served universe's predictions at a candle, computed once and shared: by every /predict and
/rank of the timeframe until the next candle closes, across the API's workers (Redis, under the
single-flight lock candles use), and within a worker (an in-memory copy by key).

One pass over the universe (the top CANDLECAST_TOP_N coins by USD volume in PostgreSQL): each
coin's fresh candles and serving inputs through the same code and caches as /predict, its raw z
at every horizon. A coin whose newest candle is not the universe's candle, whose history is too
short, or that cannot be fetched is kept apart with the reason, never ranked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from candlecast.api import universe_tickers
from candlecast.ops import ConnectionPool, DatabaseUnavailable, GuardedRedis
from candlecast.serving.forecast import (
    InputCache,
    InsufficientHistory,
    MarketContextBehind,
    series_inputs,
)
from candlecast.serving.fresh_candles import (
    CandleWindow,
    FreshCandles,
    MarketDataUnavailable,
    NoCandles,
    last_closed_open,
)
from candlecast.serving.lru import LruCache
from candlecast.serving.prediction_cache import candle_stamp
from candlecast.serving.relative_steps import Universe, Unranked
from candlecast.serving.singleflight import SingleFlight
from candlecast.timeframes import MAX_STEPS, Timeframe

log = logging.getLogger(__name__)

UNIVERSE_LOCK_MS = 300_000  # a cold universe of 500 coins on a busy machine takes a while
PROVISIONAL_SECONDS = 30


def universe_key(tag: str, timeframe_code: str, candle: pd.Timestamp) -> str:
    return f"candlecast:universe:{timeframe_code}:{tag}:{candle_stamp(candle)}"


def member_raw(served, window: CandleWindow, candle, inputs, markets) -> np.ndarray | Unranked:
    """A coin's raw z at horizons 1..30, or why it has none at this candle."""
    ticker = window.ticker
    if window.last_candle_at != candle:
        return Unranked(
            ticker,
            "no_fresh_candle",
            f"newest {window.timeframe.code} candle {window.last_candle_at.isoformat()}, "
            f"not {candle.isoformat()}",
        )
    try:
        model_inputs = series_inputs(served.model, served.tag, window, inputs, markets)
    except InsufficientHistory as error:
        return Unranked(ticker, "too_little_history", str(error))
    except MarketContextBehind as error:
        return Unranked(ticker, "no_fresh_candle", f"market context behind: {error}")
    return served.model.path_raw_z(model_inputs.model_inputs, MAX_STEPS)


def compute_universe(
    served,
    candles: FreshCandles,
    inputs: InputCache,
    markets: Mapping[str, CandleWindow],
    timeframe: Timeframe,
    candle: pd.Timestamp,
    tickers: list[str],
) -> Universe:
    """Every coin's raw z at the candle (`served`: a LoadedModel), in the universe's order."""
    members, closes, raws, apart = [], [], [], []
    for ticker in tickers:
        try:
            window = candles.get(ticker, timeframe)
            found = member_raw(served, window, candle, inputs, markets)
        except NoCandles as error:
            found = Unranked(ticker, "unknown_symbol", str(error))
        except MarketDataUnavailable as error:
            found = Unranked(ticker, "market_data_unavailable", str(error))
        except Exception as error:  # one coin's trouble must not stop the universe
            log.exception("universe %s %s: %s failed", served.tag, candle, ticker)
            found = Unranked(ticker, "unknown", f"{type(error).__name__}: {error}")
        if isinstance(found, Unranked):
            apart.append(found)
            continue
        members.append(ticker)
        closes.append(float(window.frame["close"].iloc[-1]))
        raws.append(found)
    return Universe(
        served.tag,
        timeframe.code,
        pd.Timestamp(candle),
        pd.Timestamp.now(tz="UTC"),
        tuple(members),
        np.asarray(closes, dtype=float),
        np.asarray(raws, dtype=float).reshape(-1, MAX_STEPS),
        tuple(apart),
    )


class UniverseSource:
    """The universes of one worker: in memory, else Redis, else computed by one caller."""

    def __init__(
        self, candles: FreshCandles | None, inputs: InputCache, pool: ConnectionPool, size: int
    ) -> None:
        self.candles, self.inputs, self.pool = candles, inputs, pool
        self.cache: GuardedRedis | None = candles.cache if candles is not None else None
        self.size = size
        self.flight = SingleFlight(self.cache, UNIVERSE_LOCK_MS)
        self.local: LruCache[str, Universe] = LruCache(16)
        self.stored: LruCache[tuple, str] = LruCache(256)  # (universe key, horizon) -> ranking id
        self.computed = 0  # universes this worker computed (the others were read)

    def current_candle(self, timeframe: Timeframe) -> pd.Timestamp:
        return last_closed_open(timeframe, self.candles.provider.now())

    def lookup(self, key: str) -> Universe | None:
        found = self.local.get(key)
        if found is None:
            payload = self.cache.call("get", key)
            if payload is None:
                return None
            found = Universe.from_bytes(payload)
            if not found.provisional:
                self.local.put(key, found)
        return found

    def tickers(self) -> list[str]:
        with self.pool.connection() as conn:
            return universe_tickers(conn, self.size)

    def at(
        self,
        served,
        timeframe: Timeframe,
        candle: pd.Timestamp,
        markets: Callable[[], Mapping[str, CandleWindow]],
    ) -> Universe | None:
        """The universe at `candle`: computed (once) when it is the timeframe's newest closed
        candle, only looked up for an older one; None when PostgreSQL cannot name the universe."""
        key = universe_key(served.tag, timeframe.code, candle)
        if candle != self.current_candle(timeframe):
            return self.lookup(key)
        try:
            return self.flight.run(
                key,
                lambda: self.lookup(key),
                lambda: self._produce(key, served, timeframe, candle, markets),
            )
        except DatabaseUnavailable as error:
            log.warning("no universe for %s at %s: %s", served.tag, candle, error)
            return None

    def _produce(self, key, served, timeframe, candle, markets) -> Universe:
        universe = compute_universe(
            served, self.candles, self.inputs, markets(), timeframe, candle, self.tickers()
        )
        self.computed += 1
        if universe.provisional:  # the provider still publishing the candle: ask again soon
            self.cache.call("set", key, universe.to_bytes(), ex=PROVISIONAL_SECONDS)
            return universe
        # kept while a fresh forecast can be based on the candle (the next one's close, and a
        # period more for the grace of the candle after), at least a minute
        life = timeframe.next_open(candle, 3) - self.candles.provider.now()
        self.cache.call("set", key, universe.to_bytes(), ex=max(60, int(life.total_seconds())))
        self.local.put(key, universe)
        return universe
