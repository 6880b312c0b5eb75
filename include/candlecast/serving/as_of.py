"""Forecasts as of a past time (`as_of` on /predict and /rank): what the service would have said
then, and what followed.

- **Only candles closed at `as_of`**, read from the Parquet store (`AsOfCandles`): never the
  provider, never the live Redis candle cache, never a later candle (the window is cut before
  the candle containing `as_of`; the later candles are read only for the steps' outcomes).
- **The version of that time**: the timeframe's champion at `as_of` from the release history
  (`modeling.champions.champion_at`) when the model store still holds it, else the current
  champion; `model_chosen` says which and why. A past version is loaded once per worker and kept
  beside the served ones (a few, least recently used dropped).
- **The same forecaster**: `make_forecast` and `series_inputs`, the code of every live forecast;
  the serving inputs cached by the candles' content (a store rewritten before `as_of` is read
  again, never answered from an older copy).
- **Never served as a forecast of now**: nothing is stored, cached, shadowed or scored; the
  answer's `prediction_id` is a name of the question (the same question, the same id).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from datetime import datetime

import numpy as np
import pandas as pd

from candlecast.api import Forecast, ForecastStep, Unprocessable
from candlecast.modeling import load_version
from candlecast.modeling.champions import champion_at
from candlecast.ohlcv import CandleStore
from candlecast.ops import DatabaseUnavailable
from candlecast.serving.forecast import (
    InputCache,
    InsufficientHistory,
    MarketContextBehind,
    make_forecast,
)
from candlecast.serving.forecaster import Forecaster
from candlecast.serving.fresh_candles import (
    CACHED_CANDLES,
    CandleWindow,
    NoCandles,
    feature_window,
    last_closed_open,
)
from candlecast.serving.loaded_model import LoadedModel
from candlecast.serving.lru import LruCache
from candlecast.serving.request_checks import steps_until, unknown_symbol
from candlecast.timeframes import MAX_STEPS, Timeframe

log = logging.getLogger(__name__)

AT_AS_OF = "champion at as_of"
PAST_VERSIONS = 2  # past versions a worker keeps loaded beside the served ones
SERIES_KEPT = 256  # stored series a worker keeps decoded (a 1h year: ~0.5 MB)
RETRY_MISSING_SECONDS = 60.0  # a version not in the model store is looked for again after this
QUESTIONS = uuid.UUID("5f0c8a52-7d1e-4c1b-9b8e-2a4f6d0e1c3b")  # namespace of as-of answer ids


def utc(value: datetime | pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def as_of_time(timeframe: Timeframe, as_of: datetime, now: pd.Timestamp) -> pd.Timestamp:
    """`as_of` in UTC, once it is a past time within the store's retention of the timeframe: a
    valid request that cannot be answered otherwise (422, naming the field)."""
    at = utc(as_of)
    if at > now:
        raise Unprocessable(
            f"as_of {at.isoformat()} is in the future (now is {now.isoformat()})", field="as_of"
        )
    start = timeframe.retention_start(now)
    if at < start:
        raise Unprocessable(
            f"as_of {at.isoformat()} is before the store's retention of {timeframe.code} candles "
            f"({timeframe.retention_days} days: from {start.isoformat()})",
            field="as_of",
        )
    return at


def fingerprint(frame: pd.DataFrame) -> str:
    """A digest of a candle frame's content (every column, in order; times as integers)."""
    digest = hashlib.blake2b(digest_size=16)
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype) or column.dtype.kind == "M":
            values = column.array.asi8
        else:
            values = column.to_numpy(dtype="float64")
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()


class StoreFrames:
    """Series read from a local store, kept per worker while their file is unchanged (its inode,
    size and modification time: every write replaces the file, so a rewrite is read again); an
    object store's are read each time."""

    def __init__(self, store: CandleStore, size: int = SERIES_KEPT) -> None:
        self.store = store
        self.local = type(store) is CandleStore
        self.frames: LruCache[tuple, pd.DataFrame] = LruCache(size)

    def read(self, ticker: str, timeframe: Timeframe) -> pd.DataFrame:
        if not self.local:
            return self.store.read(ticker, timeframe)
        try:
            stat = os.stat(self.store.path(ticker, timeframe))
        except FileNotFoundError:
            return self.store.read(ticker, timeframe)  # none: an empty frame
        key = (ticker, timeframe.code, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        frame = self.frames.get(key)
        if frame is None:
            frame = self.store.read(ticker, timeframe)
            self.frames.put(key, frame)
        return frame  # shared: never written to


class AsOfCandles:
    """The candles of a past time, from the store only. `get` answers as `FreshCandles.get`
    does (a window, or NoCandles), so the universe's code reads it unchanged; `realised` gives
    the closes of the candles after `at` that have closed by `now`, for the outcomes."""

    def __init__(
        self, store: CandleStore | StoreFrames, at: pd.Timestamp, now: pd.Timestamp
    ) -> None:
        self.store, self.at, self.now = store, at, now
        self._series: dict[tuple[str, str], tuple[pd.DataFrame, pd.DataFrame]] = {}

    def _split(self, ticker: str, timeframe: Timeframe) -> tuple[pd.DataFrame, pd.DataFrame]:
        key = (ticker, timeframe.code)
        if key not in self._series:
            try:
                frame = self.store.read(ticker, timeframe)
            except (OSError, ValueError) as error:  # unreadable: as if not stored
                log.warning("store of %s %s unreadable: %s", ticker, timeframe.code, error)
                frame = pd.DataFrame({"timestamp": pd.to_datetime([], utc=True)})
            # The store's series are sorted by open time: the candle containing `at` had not
            # closed, so the window ends before it; the outcomes are the candles closed by now
            # among the MAX_STEPS from it.
            stamps = frame["timestamp"]
            cut = int(stamps.searchsorted(timeframe.floor(self.at)))
            closed = int(stamps.searchsorted(timeframe.floor(self.now)))
            before = frame.iloc[max(0, cut - CACHED_CANDLES) : cut].reset_index(drop=True)
            after = frame.iloc[cut : max(cut, min(closed, cut + MAX_STEPS))]
            self._series[key] = (before, after.reset_index(drop=True))
        return self._series[key]

    def get(self, ticker: str, timeframe: Timeframe) -> CandleWindow:
        before, _ = self._split(ticker, timeframe)
        if before.empty:
            raise NoCandles(
                f"the store holds no {timeframe.code} candle of {ticker} closed at "
                f"{self.at.isoformat()}"
            )
        last = before["timestamp"].iloc[-1]
        stale = last < last_closed_open(timeframe, self.at)
        return CandleWindow(ticker, timeframe, before, self.at, bool(stale), "store-as-of")

    def listed(self, ticker: str, timeframe: Timeframe) -> bool:
        """The store holds a candle of the series closed at `at` (it was listed then)."""
        return not self._split(ticker, timeframe)[0].empty

    def realised(self, ticker: str, timeframe: Timeframe) -> dict[pd.Timestamp, float]:
        _, after = self._split(ticker, timeframe)
        return dict(zip(after["timestamp"], after["close"].astype(float), strict=True))


class ContentKeyedInputs:
    """An InputCache seen through one request's candles: each key carries their digest."""

    def __init__(self, cache: InputCache, digest: str) -> None:
        self.cache, self.digest = cache, digest

    def get(self, key: tuple, build):
        return self.cache.get((*key, self.digest), build)


def with_outcomes(forecast: Forecast, realised: dict[pd.Timestamp, float]) -> list[ForecastStep]:
    """Each step with its realised close where its candle has closed, scored as live outcomes
    are (`monitoring.outcomes.score`): no hit or miss where the price did not move or the step
    names no side."""
    last = forecast.last_close
    steps = []
    for step in forecast.steps:
        actual = realised.get(pd.Timestamp(step.timestamp))
        if actual is None:
            steps.append(step)
            continue
        no_call = actual == last or step.confidence <= 0.5
        steps.append(
            step.model_copy(
                update={
                    "actual": actual,
                    "hit": None if no_call else (step.direction == "up") == (actual > last),
                    "inside_80": step.close_low_80 <= actual <= step.close_high_80,
                }
            )
        )
    return steps


class AsOfForecasts:
    """One worker's as-of answers over its forecaster's store, models and PostgreSQL."""

    def __init__(self, forecaster: Forecaster, versions: int = PAST_VERSIONS) -> None:
        self.forecaster = forecaster
        self.past: LruCache[str, LoadedModel] = LruCache(versions)
        self.inputs = InputCache()
        self.frames: StoreFrames | None = None
        self._missing: dict[str, float] = {}  # tag -> when the model store lacked it

    @property
    def store(self) -> CandleStore:
        store = self.forecaster.candles.store
        if store is None:
            raise Unprocessable("as_of needs the candle store, and this server has none", "as_of")
        return store

    def candles(self, timeframe: Timeframe, as_of: datetime) -> AsOfCandles:
        now = self.forecaster.candles.provider.now()
        at = as_of_time(timeframe, as_of, now)
        if self.frames is None or self.frames.store is not self.store:
            self.frames = StoreFrames(self.store)
        return AsOfCandles(self.frames, at, now)

    def version_at(self, timeframe: Timeframe, at: pd.Timestamp) -> tuple[LoadedModel, str]:
        """The timeframe's champion at `at` when the model store holds it, else the current
        champion; with why it was chosen."""
        served = self.forecaster.served(timeframe)
        try:
            with self.forecaster.pool.connection() as conn:
                tag = champion_at(conn, timeframe.code, at)
        except DatabaseUnavailable:
            return served, "current champion: PostgreSQL could not say which version was champion"
        if tag is None:
            return served, f"current champion: no {timeframe.code} version was champion at as_of"
        if tag == served.tag:
            return served, AT_AS_OF
        loaded = self.past.get(tag)
        if loaded is not None:
            return loaded, AT_AS_OF
        missing = f"current champion: {tag}, champion at as_of, is no longer in the model store"
        if time.monotonic() - self._missing.get(tag, -1e9) < RETRY_MISSING_SECONDS:
            return served, missing
        try:
            loaded = LoadedModel(tag, load_version(tag), self.forecaster.rank_fee)
        except Exception as error:  # pruned, or unreadable: the current champion answers
            log.warning("%s (champion at %s) not loaded: %s", tag, at.isoformat(), error)
            self._missing[tag] = time.monotonic()
            return served, missing
        self.past.put(tag, loaded)
        return loaded, AT_AS_OF

    def market_windows(
        self, served: LoadedModel, candles: AsOfCandles, timeframe: Timeframe
    ) -> dict[str, CandleWindow]:
        windows = {}
        for base, ticker in served.model.market.items():
            try:
                windows[base] = candles.get(ticker, timeframe)
            except NoCandles as error:
                raise Unprocessable(f"the market context is missing: {error}", "as_of") from error
        return windows

    def predict(
        self,
        ticker: str,
        timeframe: Timeframe,
        steps: int | None,
        predict_until: datetime | None,
        as_of: datetime,
    ) -> Forecast:
        """The forecast the service would have given at `as_of`, with each step's outcome."""
        forecaster = self.forecaster
        symbol_id = forecaster.symbol_id(ticker)  # unknown → 404, as a live forecast
        candles = self.candles(timeframe, as_of)
        try:
            window = candles.get(ticker, timeframe)
        except NoCandles as error:
            if symbol_id is None and not candles.listed(ticker, timeframe):
                raise unknown_symbol(ticker, []) from error
            raise Unprocessable(str(error), field="as_of", needed=0, have=0) from error
        if predict_until is not None:
            steps = steps_until(timeframe, window.last_candle_at, predict_until, candles.at)
        steps = MAX_STEPS if steps is None else steps
        served, chosen = self.version_at(timeframe, candles.at)
        markets = self.market_windows(served, candles, timeframe)
        rows = window.frame.iloc[-feature_window(timeframe) :]
        digest = "|".join([fingerprint(rows), *(fingerprint(m.frame) for m in markets.values())])
        try:
            forecast = make_forecast(
                served.model, served.tag, window, steps,
                ContentKeyedInputs(self.inputs, digest), served.evidence, markets,
            )  # fmt: skip
        except InsufficientHistory as error:
            raise Unprocessable(
                f"{error} at as_of", field="as_of", needed=error.needed, have=error.have
            ) from error
        except MarketContextBehind as error:
            raise Unprocessable(f"the market context is behind: {error}", "as_of") from error
        question = f"{ticker}|{timeframe.code}|{steps}|{served.tag}|{candles.at.isoformat()}"
        return forecast.model_copy(
            update={
                "prediction_id": str(uuid.uuid5(QUESTIONS, question)),
                "persisted": False,
                "as_of": candles.at.to_pydatetime(),
                "model_chosen": chosen,
                "steps": with_outcomes(forecast, candles.realised(ticker, timeframe)),
            }
        )
