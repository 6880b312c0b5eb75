"""One forecast request end to end, independent of BentoML: symbol → fresh candles → cached or
computed forecast → rows. Runs on without Redis (provider), without the provider (cached candles,
stale) and without PostgreSQL (the forecast is returned unpersisted). For a sample of computed
forecasts the timeframe's challenger (`shadows`) forecasts the same candles in the background;
that forecast is stored as the champion's shadow and never returned or cached."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from candlecast.api import (
    BadInput,
    HorizonEvidence,
    NotFound,
    Unavailable,
    Unprocessable,
    close_matches,
    find_symbol,
)
from candlecast.modeling import ForecastModel, model_row_id
from candlecast.ops import ConnectionPool, DatabaseUnavailable
from candlecast.serving.candles import CandleWindow, FreshCandles, MarketDataUnavailable, NoCandles
from candlecast.serving.forecast import (
    Forecast,
    InputCache,
    InsufficientHistory,
    MarketContextBehind,
    make_forecast,
    model_evidence,
    persist_forecast,
)
from candlecast.serving.prediction_cache import PredictionCache, prediction_key
from candlecast.serving.shadow import ShadowQueue, in_sample
from candlecast.timeframes import MAX_STEPS, Timeframe

log = logging.getLogger(__name__)

SYMBOL_MEMORY_SECONDS = 60.0
# What keeps a challenger from forecasting a request the champion answered: logged, not raised.
NO_SHADOW = (InsufficientHistory, MarketContextBehind, NoCandles, MarketDataUnavailable)


def unknown_symbol(ticker: str, matches: list[str]) -> NotFound:
    hint = f"; did you mean {', '.join(matches)}?" if matches else ""
    return NotFound(f"unknown symbol {ticker!r}{hint}", field="symbol", matches=matches)


def steps_until(
    timeframe: Timeframe, last_candle_at: pd.Timestamp, until: datetime, now: pd.Timestamp
) -> int:
    """Steps after the last candle up to the candle that contains `until`. A time in the past or
    too far ahead is a valid request that cannot be served now: 422, not 400."""
    until = pd.Timestamp(until)
    until = until.tz_localize("UTC") if until.tzinfo is None else until.tz_convert("UTC")
    if until <= now:
        raise Unprocessable(
            f"predict_until {until.isoformat()} is in the past (now is {now.isoformat()})",
            field="predict_until",
        )
    target, stamp, steps = timeframe.floor(until), pd.Timestamp(last_candle_at), 0
    while stamp < target:
        stamp, steps = timeframe.next_open(stamp), steps + 1
        if steps > MAX_STEPS:
            raise Unprocessable(
                f"predict_until {until.isoformat()} is more than {MAX_STEPS} {timeframe.code} "
                f"candles after the last closed candle ({pd.Timestamp(last_candle_at).isoformat()})",
                field="predict_until",
            )
    return max(steps, 1)


@dataclass(frozen=True)
class ServedModel:
    tag: str
    model: ForecastModel
    evidence: tuple[HorizonEvidence, ...] = field(init=False)

    def __post_init__(self) -> None:
        # Per model version, not per forecast: every answer of this version carries it.
        object.__setattr__(self, "evidence", model_evidence(self.model))


class Forecaster:
    def __init__(
        self,
        models: dict[str, ServedModel],
        candles: FreshCandles,
        pool: ConnectionPool,
        predictions: PredictionCache,
        inputs: InputCache | None = None,
        shadow_fraction: float = 0.0,
        pinned_bento: str | None = None,
    ) -> None:
        self.models = models
        self.pinned_bento = pinned_bento  # the Bento whose versions it serves, never swapped
        # Each timeframe's newest challenger (kept by the ChampionWatcher), swapped like models.
        self.shadows: dict[str, ServedModel] = {}
        self.shadow_fraction = shadow_fraction
        self.shadow_queue = ShadowQueue()
        self.candles = candles
        self.pool = pool
        self.predictions = predictions
        self.inputs = inputs or InputCache()
        self._symbols: dict[str, tuple[float, int]] = {}
        self._model_ids: dict[str, int] = {}
        self._lock = threading.Lock()

    def symbol_id(self, ticker: str) -> int | None:
        """The symbol's row id; None when PostgreSQL cannot tell. Unknown → 404."""
        with self._lock:
            remembered = self._symbols.get(ticker)
        if remembered and time.monotonic() - remembered[0] < SYMBOL_MEMORY_SECONDS:
            return remembered[1]
        try:
            with self.pool.connection() as conn:
                row = find_symbol(conn, ticker)
                if row is None or not row["active"]:
                    raise unknown_symbol(ticker, close_matches(conn, ticker))
        except DatabaseUnavailable as error:
            log.warning("symbol check of %s skipped: %s", ticker, error)
            return None
        with self._lock:
            self._symbols[ticker] = (time.monotonic(), row["id"])
        return row["id"]

    def window(self, ticker: str, timeframe: Timeframe, symbol_known: bool) -> CandleWindow:
        try:
            return self.candles.get(ticker, timeframe)
        except NoCandles as error:
            if symbol_known:
                raise Unprocessable(
                    f"{ticker} has no closed {timeframe.code} candles at the provider",
                    field="symbol",
                    needed=0,
                    have=0,
                ) from error
            raise unknown_symbol(ticker, []) from error
        except MarketDataUnavailable as error:
            raise Unavailable(str(error)) from error

    def market_windows(self, served: ServedModel, timeframe: Timeframe) -> dict[str, CandleWindow]:
        """The fresh candles of the model's benchmarks: the same cache entries (and the same
        single provider fetch) serve every request of the timeframe."""
        windows = {}
        for base, ticker in served.model.market.items():
            try:
                windows[base] = self.candles.get(ticker, timeframe)
            except (NoCandles, MarketDataUnavailable) as error:
                raise Unavailable(
                    f"the market context ({ticker} {timeframe.code}) is unavailable: {error}"
                ) from error
        return windows

    def predict(
        self,
        ticker: str,
        timeframe: Timeframe,
        steps: int | None = None,
        predict_until: datetime | None = None,
    ) -> Forecast:
        if steps is not None and predict_until is not None:
            raise BadInput("give either steps or predict_until, not both", field="steps")
        symbol_id = self.symbol_id(ticker)
        window = self.window(ticker, timeframe, symbol_id is not None)
        if predict_until is not None:
            steps = steps_until(timeframe, window.last_candle_at, predict_until, window.now)
        steps = MAX_STEPS if steps is None else steps
        served = self.models[timeframe.code]
        key = prediction_key(ticker, timeframe.code, steps, served.tag, window.last_candle_at)
        cached = self.predictions.get(key)
        if cached is not None:
            return cached.model_copy(
                update={
                    "cached": True,
                    "stale": window.stale,
                    "data_age_seconds": window.data_age_seconds,
                }
            )
        try:
            markets = self.market_windows(served, timeframe)
            forecast = make_forecast(
                served.model, served.tag, window, steps, self.inputs, served.evidence, markets
            )
        except InsufficientHistory as error:
            raise Unprocessable(
                str(error), field="symbol", needed=error.needed, have=error.have
            ) from error
        except MarketContextBehind as error:
            raise Unavailable(f"the market context is behind: {error}") from error
        forecast.persisted = self.persist(forecast, symbol_id, served.tag, key)
        if forecast.persisted:  # an id that is not stored is never handed out twice
            self.predictions.put(key, forecast)
            self.shadow(timeframe, window, markets, steps, key, forecast, symbol_id)
        return forecast

    def shadow(
        self,
        timeframe: Timeframe,
        window: CandleWindow,
        markets: dict[str, CandleWindow],
        steps: int,
        key: str,
        champion: Forecast,
        symbol_id: int | None,
    ) -> bool:
        """Queue the challenger's forecast of this request when the request is sampled; True
        when queued. Only a stored champion forecast is shadowed (the pair is what is compared)."""
        challenger = self.shadows.get(timeframe.code)
        if challenger is None or challenger.tag == champion.model:
            return False
        if not in_sample(key, self.shadow_fraction):
            return False

        def job() -> None:
            self.shadow_forecast(challenger, window, markets, steps, champion, symbol_id)

        return self.shadow_queue.submit(job)

    def shadow_forecast(
        self,
        challenger: ServedModel,
        window: CandleWindow,
        markets: dict[str, CandleWindow],
        steps: int,
        champion: Forecast,
        symbol_id: int | None,
    ) -> bool:
        """The challenger's forecast on the champion's candle window and market windows (a
        benchmark only the challenger reads is fetched now), stored as its shadow."""
        timeframe = window.timeframe
        try:
            windows = {
                base: markets[base]
                if base in markets and markets[base].ticker == ticker
                else self.candles.get(ticker, timeframe)
                for base, ticker in challenger.model.market.items()
            }
            forecast = make_forecast(
                challenger.model, challenger.tag, window, steps, self.inputs, challenger.evidence,
                windows,
            )  # fmt: skip
        except NO_SHADOW as error:
            log.warning("no shadow of %s by %s: %s", champion.prediction_id, challenger.tag, error)
            return False
        key = prediction_key(
            window.ticker, timeframe.code, steps, challenger.tag, window.last_candle_at
        )
        return self.persist(forecast, symbol_id, challenger.tag, key, champion.prediction_id)

    def persist(
        self,
        forecast: Forecast,
        symbol_id: int | None,
        tag: str,
        key: str,
        shadow_of: str | None = None,
    ) -> bool:
        try:
            with self.pool.connection() as conn:
                if symbol_id is None:
                    row = find_symbol(conn, forecast.symbol)
                    if row is None:
                        log.warning("forecast %s not stored: %s is not in symbols", key, tag)
                        return False
                    symbol_id = row["id"]
                model_id = self._model_ids.get(tag) or model_row_id(conn, tag)
                if model_id is None:
                    log.error("forecast not stored: model %s has no row in models", tag)
                    return False
                self._model_ids[tag] = model_id
                persist_forecast(conn, forecast, symbol_id, model_id, key, shadow_of)
        except DatabaseUnavailable as error:
            log.error("forecast %s not stored: %s", forecast.prediction_id, error)
            return False
        return True
