"""Fresh candles for serving: Redis when its copy is fresh, else the provider (single-flight),
cleaned by the shared cleaner and cached; the cached copy when the provider is down (stale).

Freshness is judged by content: a copy is fresh when its newest candle is the timeframe's last
closed candle as of the provider's now (the candle before it is accepted for a short grace after
each close, while the provider publishes), or when the provider was asked after that close and
simply has nothing newer (checked again after `recheck_seconds`).

Beside each cached copy a small mark (`mark_key`: its last candle, when the provider was asked
and the copy's id) is written in the same transaction: a worker that has decoded that copy reads
only the mark, and a cached answer is judged by the same rules (`FreshCandles.judge_mark`)
without the candles.

A series the Parquet store holds starts from the store's tail: only the candles after it are
asked of the provider (none when the tail is already fresh by the same rule), so a symbol's
first request costs one small request, not ~1000 candles.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from candlecast.marketdata import MarketDataProvider
from candlecast.ohlcv import CandleStore, clean_candles
from candlecast.ops import GuardedRedis
from candlecast.serving.codec import (
    DecodedFrames,
    candles_key,
    frame_bytes,
    mark_bytes,
    mark_key,
    parse_mark,
)
from candlecast.serving.singleflight import SingleFlight
from candlecast.timeframes import Timeframe

log = logging.getLogger(__name__)

SERVING_CANDLES = 500  # the window the features see: recursive indicators match training
CACHED_CANDLES = 1000  # the window kept in Redis (also the most POST /candles returns)
GRACE = {
    "1h": pd.Timedelta(minutes=2),
    "4h": pd.Timedelta(minutes=5),
    "1d": pd.Timedelta(minutes=30),
    "1w": pd.Timedelta(minutes=30),
    "1M": pd.Timedelta(minutes=30),
}
PROVIDER_FAILURE_KEY = "candlecast:provider:last_failure"
PROVIDER_FAILURE_MEMORY = 3600  # seconds a failure is reported without a later success
PROVIDER_PAUSE_SECONDS = 10.0  # after a failure, stale copies are served without asking again


class MarketDataUnavailable(RuntimeError):
    def __init__(self, ticker: str, timeframe: Timeframe) -> None:
        super().__init__(
            f"market data unavailable: the provider cannot be reached and no {timeframe.code} "
            f"candles of {ticker} are cached"
        )


class NoCandles(LookupError):
    """The provider has no candles at all for this series (an unknown symbol, usually)."""


@dataclass(frozen=True)
class CandleWindow:
    ticker: str
    timeframe: Timeframe
    frame: pd.DataFrame
    now: pd.Timestamp
    stale: bool
    source: str  # cache | store | provider | stale-cache | stale-store

    @cached_property
    def last_candle_at(self) -> pd.Timestamp:
        return self.frame["timestamp"].iloc[-1]

    @property
    def data_age_seconds(self) -> float:
        return data_age_seconds(self.timeframe, self.last_candle_at, self.now)


@dataclass(frozen=True)
class FreshMark:
    """How a cached copy would be served (fresh or stale, its age), judged from its mark."""

    last_candle_at: pd.Timestamp
    now: pd.Timestamp
    stale: bool
    data_age_seconds: float


def data_age_seconds(timeframe: Timeframe, last_candle_at: pd.Timestamp, now) -> float:
    """Seconds since the newest candle closed."""
    closed = timeframe.next_open(last_candle_at)
    return max(0.0, (now - closed).total_seconds())


def feature_window(timeframe: Timeframe) -> int:
    """Candles the features see at serving: SERVING_CANDLES, or the most the store keeps where
    retention holds fewer (1w, 1M), so serving computes them over no more history than training
    ever had."""
    return min(SERVING_CANDLES, timeframe.retention_candles)


def last_closed_open(timeframe: Timeframe, now: pd.Timestamp) -> pd.Timestamp:
    """Open time of the newest candle that has closed by `now`."""
    return timeframe.next_open(timeframe.floor(now), -1)


def is_fresh(
    timeframe: Timeframe,
    last_candle: pd.Timestamp,
    now: pd.Timestamp,
    fetched_at: pd.Timestamp | None = None,
    recheck_seconds: float = 0.0,
) -> bool:
    expected = last_closed_open(timeframe, now)
    if last_candle >= expected:
        return True
    within_grace = now - timeframe.floor(now) <= GRACE[timeframe.code]
    if within_grace and last_candle >= timeframe.next_open(expected, -1):
        return True
    # The provider was asked after the last close (plus grace) and had nothing newer.
    asked_after_close = fetched_at is not None and fetched_at >= (
        timeframe.floor(now) + GRACE[timeframe.code]
    )
    return asked_after_close and (now - fetched_at).total_seconds() < recheck_seconds


class ProviderState:
    """The provider's recent record: health reads it, stale serving avoids hammering it.

    The last failure is shared through Redis (while it is up), so every worker's health says
    the same and one worker's success clears it for all; the pause after a failure stays
    per process."""

    def __init__(self, cache: GuardedRedis | None = None) -> None:
        self.cache = cache
        self.failed_at: float | None = None
        self.error = ""

    def failed(self, error: Exception) -> None:
        self.failed_at, self.error = time.monotonic(), f"{type(error).__name__}: {error}"
        if self.cache is not None:
            self.cache.call("set", PROVIDER_FAILURE_KEY, self.error, ex=PROVIDER_FAILURE_MEMORY)

    def succeeded(self) -> None:
        self.failed_at, self.error = None, ""
        if self.cache is not None:  # another worker's failure, too
            self.cache.call("delete", PROVIDER_FAILURE_KEY)

    def last_failure(self) -> str | None:
        """The error of the provider's last call if it failed (in any worker), else None."""
        if self.cache is not None:
            shared = self.cache.call("get", PROVIDER_FAILURE_KEY, fallback=False)
            if shared is not False:
                return shared.decode() if shared is not None else None
        return self.error if self.failed_at is not None else None

    @property
    def paused(self) -> bool:
        return self.failed_at is not None and time.monotonic() - self.failed_at < (
            PROVIDER_PAUSE_SECONDS
        )


def closed_by(frame: pd.DataFrame, timeframe: Timeframe, now: pd.Timestamp) -> pd.DataFrame:
    """The candles of `frame` closed by `now`: a copy cached or stored under a later clock (a
    replay beside a live stack) holds more, which a forecast as of `now` must not see."""
    if frame.empty or frame["timestamp"].iloc[-1] < timeframe.floor(now):
        return frame
    return frame[frame["timestamp"] < timeframe.floor(now)].reset_index(drop=True)


class FreshCandles:
    def __init__(
        self,
        provider: MarketDataProvider,
        cache: GuardedRedis,
        keep_seconds: int,
        recheck_seconds: float,
        store: CandleStore | None = None,
    ) -> None:
        self.provider = provider
        self.store = store
        self.cache = cache
        self.keep_seconds = keep_seconds
        self.recheck_seconds = recheck_seconds
        self.flight = SingleFlight(cache)
        self.decoded = DecodedFrames()
        self.state = ProviderState(cache)
        self.provider_calls = 0
        self._calls_lock = threading.Lock()

    def _read(self, key: str) -> tuple[pd.DataFrame, pd.Timestamp | None] | None:
        """The cached copy; read from Redis only when its mark names a copy this worker has
        not decoded (the mark is ~60 bytes, the copy ~50 KB)."""
        mark = parse_mark(self.cache.call("get", mark_key(key)))
        known = self.decoded.known(key, mark[2]) if mark else None
        if known is not None:
            frame, metadata = known
        else:
            payload = self.cache.call("get", key)
            if payload is None:
                return None
            frame, metadata = self.decoded.decode(key, payload)
        if frame.empty:
            return None
        fetched = metadata.get("fetched_at")
        return frame, pd.Timestamp(fetched) if fetched else None

    def _fresh(self, ticker, timeframe, now, key) -> CandleWindow | None:
        cached = self._read(key)
        if cached is None:
            return None
        frame, fetched_at = cached
        last = frame["timestamp"].iloc[-1]
        if last >= timeframe.floor(now):  # cut to the candles closed by now
            frame = closed_by(frame, timeframe, now)
            if frame.empty:
                return None
            last = frame["timestamp"].iloc[-1]
        if is_fresh(timeframe, last, now, fetched_at, self.recheck_seconds):
            stale = not is_fresh(timeframe, last, now)  # rechecked recently, still behind
            return CandleWindow(ticker, timeframe, frame, now, stale, "cache")
        return None

    def judge_mark(self, timeframe: Timeframe, mark: bytes | None) -> FreshMark | None:
        """The freshness `get` would serve the cached copy with, by `_fresh`'s rules, from the
        copy's mark alone; None when `get` must look at the candles (no mark, the copy not
        fresh, or holding candles after the provider's clock)."""
        parsed = parse_mark(mark)
        if parsed is None:
            return None
        last, fetched_at, _ = parsed
        now = self.provider.now()
        if last >= timeframe.floor(now):  # a later clock's copy: `get` cuts it first
            return None
        if not is_fresh(timeframe, last, now, fetched_at, self.recheck_seconds):
            return None
        stale = not is_fresh(timeframe, last, now)
        return FreshMark(last, now, stale, data_age_seconds(timeframe, last, now))

    def get(self, ticker: str, timeframe: Timeframe) -> CandleWindow:
        """The newest closed candles (up to CACHED_CANDLES), oldest first."""
        now = self.provider.now()
        key = candles_key(ticker, timeframe.code)
        window = self._fresh(ticker, timeframe, now, key)
        if window is not None:
            return window
        if self.state.paused:
            stale = self._stale(ticker, timeframe, now, key)
            if stale is not None:
                return stale
        return self.flight.run(
            key,
            lambda: self._fresh(ticker, timeframe, now, key),
            lambda: self._fetch(ticker, timeframe, now, key),
        )

    def _stale(self, ticker, timeframe, now, key) -> CandleWindow | None:
        cached = self._read(key)
        if cached is None:
            return None
        return CandleWindow(ticker, timeframe, cached[0], now, True, "stale-cache")

    def _stored(self, ticker: str, timeframe: Timeframe, now) -> pd.DataFrame | None:
        """The store's newest candles of the series closed by `now`, or None (not stored,
        unreadable). A store written later than the provider's clock (a replay) holds more."""
        if self.store is None:
            return None
        try:
            tail = self.store.tail(ticker, timeframe, CACHED_CANDLES)
        except (OSError, ValueError) as error:  # a damaged file: the provider path still works
            log.warning("store tail of %s %s unreadable: %s", ticker, timeframe.code, error)
            return None
        tail = closed_by(tail, timeframe, now)
        return None if tail.empty else tail

    def _cache(self, key: str, frame: pd.DataFrame, metadata: dict[str, str]) -> None:
        """The copy and its mark in one MULTI: a mark never describes another copy."""
        fetched, copy_id = metadata.get("fetched_at"), uuid.uuid4().hex
        fetched_at = pd.Timestamp(fetched) if fetched else None
        mark = mark_bytes(frame["timestamp"].iloc[-1], fetched_at, copy_id)
        payload = frame_bytes(frame, {**metadata, "copy_id": copy_id})

        def write(client) -> None:
            pipe = client.pipeline(transaction=True)
            pipe.set(key, payload, ex=self.keep_seconds)
            pipe.set(mark_key(key), mark, ex=self.keep_seconds)
            pipe.execute()

        self.cache.run(write)

    def _fetch(self, ticker: str, timeframe: Timeframe, now, key: str) -> CandleWindow:
        start = timeframe.next_open(timeframe.floor(now), -CACHED_CANDLES)
        stored = self._stored(ticker, timeframe, now)
        if stored is not None:
            if is_fresh(timeframe, stored["timestamp"].iloc[-1], now):  # nothing newer closed
                self._cache(key, stored, {"source": "store"})
                return CandleWindow(ticker, timeframe, stored, now, False, "store")
            after = timeframe.next_open(stored["timestamp"].iloc[-1])
            # further behind than the window: the whole window is asked, as for no store
            start, stored = (after, stored) if after > start else (start, None)
        with self._calls_lock:
            self.provider_calls += 1
        try:
            raw = self.provider.fetch_candles(ticker, timeframe, start, now)
        except LookupError as error:
            if stored is None:
                raise NoCandles(str(error)) from error
            raw = stored.iloc[:0]  # nothing after the stored tail
        except Exception as error:  # any provider failure: serve what is cached, if anything
            log.warning("provider failed for %s %s: %s", ticker, timeframe.code, error)
            self.state.failed(error)
            stale = self._stale(ticker, timeframe, now, key)
            if stale is not None:
                return stale
            if stored is not None:
                return CandleWindow(ticker, timeframe, stored, now, True, "stale-store")
            raise MarketDataUnavailable(ticker, timeframe) from error
        self.state.succeeded()
        frame, _ = clean_candles(raw, timeframe, now, label=ticker)
        if stored is not None:
            frame = pd.concat([stored, frame], ignore_index=True).drop_duplicates(
                "timestamp", keep="last"
            )
        if frame.empty:
            raise NoCandles(f"the provider has no {timeframe.code} candles for {ticker}")
        frame = frame.iloc[-CACHED_CANDLES:].reset_index(drop=True)
        self._cache(key, frame, {"fetched_at": now.isoformat()})
        fresh = is_fresh(timeframe, frame["timestamp"].iloc[-1], now)
        return CandleWindow(ticker, timeframe, frame, now, not fresh, "provider")
