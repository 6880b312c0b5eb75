"""One forecast request end to end, independent of BentoML: symbol → fresh candles → cached or
computed forecast → rows. Runs on without Redis (provider), without the provider (cached candles,
stale) and without PostgreSQL (the forecast is returned unpersisted). For a sample of computed
forecasts the timeframe's challenger (`shadows`) forecasts the same candles in the background;
that forecast is stored as the champion's shadow and never returned or cached."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from candlecast.api import BadInput, Unavailable, Unprocessable, close_matches, find_symbol
from candlecast.modeling import DEFAULT_RANK_FEE, model_row_id
from candlecast.ops import ConnectionPool, DatabaseUnavailable, GuardedRedis
from candlecast.serving.codec import candles_key, mark_key
from candlecast.serving.forecast import (
    Forecast,
    InputCache,
    InsufficientHistory,
    MarketContextBehind,
    make_forecast,
)
from candlecast.serving.forecast_writer import ForecastWriter
from candlecast.serving.fresh_candles import (
    CandleWindow,
    FreshCandles,
    MarketDataUnavailable,
    NoCandles,
)
from candlecast.serving.loaded_model import LoadedModel
from candlecast.serving.prediction_cache import (
    PredictionCache,
    answer_json,
    answer_key,
    candle_stamp,
    prediction_key,
    stored_body,
)
from candlecast.serving.request_checks import steps_until, unknown_symbol
from candlecast.serving.shadow import ShadowQueue, in_sample
from candlecast.serving.universe import UniverseSource
from candlecast.timeframes import MAX_STEPS, Timeframe

log = logging.getLogger(__name__)

SYMBOL_MEMORY_SECONDS = 60.0
# What keeps a challenger from forecasting a request the champion answered: logged, not raised.
NO_SHADOW = (InsufficientHistory, MarketContextBehind, NoCandles, MarketDataUnavailable)


class Forecaster:
    def __init__(
        self,
        models: dict[str, LoadedModel],
        candles: FreshCandles,
        pool: ConnectionPool,
        predictions: PredictionCache,
        inputs: InputCache | None = None,
        shadow_fraction: float = 0.0,
        pinned_bento: str | None = None,
        writer: ForecastWriter | None = None,
        universe_size: int = 500,
        rank_fee: float = DEFAULT_RANK_FEE,
    ) -> None:
        self.models = models
        self.pinned_bento = pinned_bento  # the Bento whose versions it serves, never swapped
        # Each timeframe's newest challenger (kept by the ChampionWatcher), swapped like models.
        self.shadows: dict[str, LoadedModel] = {}
        self.shadow_fraction = shadow_fraction
        self.shadow_queue = ShadowQueue()
        self.candles = candles
        self.pool = pool
        self.predictions = predictions
        self.inputs = inputs or InputCache()
        self.writer = writer or ForecastWriter(pool)
        self.rank_fee = rank_fee
        # the universe's predictions at a candle, shared by /predict and /rank
        self.universes = UniverseSource(candles, self.inputs, pool, universe_size)
        self._symbols: dict[str, tuple[float, int]] = {}
        self._model_ids: dict[str, int] = {}
        self._lock = threading.Lock()

    def symbol_id(self, ticker: str) -> int | None:
        """The symbol's row id; None when PostgreSQL cannot tell. Unknown → 404."""
        remembered = self._remembered_id(ticker)
        if remembered is not None:
            return remembered
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

    def served(self, timeframe: Timeframe) -> LoadedModel:
        """The timeframe's served model; 503 naming why when no version was ever trained."""
        served = self.models.get(timeframe.code)
        if served is None:
            raise Unavailable(
                f"no {timeframe.code} model is served: no {timeframe.code} version has been "
                f"trained (a store without enough {timeframe.code} history trains none; "
                f"served: {', '.join(sorted(self.models))})"
            )
        return served

    def market_windows(self, served: LoadedModel, timeframe: Timeframe) -> dict[str, CandleWindow]:
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

    def predict_json(
        self,
        ticker: str,
        timeframe: Timeframe,
        steps: int | None = None,
        predict_until: datetime | None = None,
    ) -> bytes:
        """`predict`'s answer as the JSON body to send: a repeat within the prediction cache
        straight from Redis (`cached_answer`), anything else computed."""
        answer = self.cached_answer(ticker, timeframe, steps, predict_until)
        if answer is not None:
            return answer
        return self.predict(ticker, timeframe, steps, predict_until).model_dump_json().encode()

    def _remembered_id(self, ticker: str) -> int | None:
        """The row id of a symbol found active within SYMBOL_MEMORY_SECONDS, else None."""
        with self._lock:
            remembered = self._symbols.get(ticker)
        if remembered and time.monotonic() - remembered[0] < SYMBOL_MEMORY_SECONDS:
            return remembered[1]
        return None

    def remembers(self, ticker: str) -> bool:
        """The symbol was found active within SYMBOL_MEMORY_SECONDS: `symbol_id` asks no one."""
        return self._remembered_id(ticker) is not None

    def cached_answer(
        self,
        ticker: str,
        timeframe: Timeframe,
        steps: int | None = None,
        predict_until: datetime | None = None,
        on_loop: GuardedRedis | None = None,
    ) -> bytes | None:
        """A repeat within the prediction cache, without the model, PostgreSQL (beyond the
        symbol check `predict` makes too, remembered) or the candles: the series' mark and the
        answer read in one Redis round trip (two for predict_until, whose steps depend on the
        last candle), judged as `FreshCandles.get` would judge the candles. None: `predict`.

        `on_loop`: asked on the server's event loop (`serving.loop_answers`), with this Redis
        (short timeouts) instead of the cache's own, and only for a symbol `remembers`, so
        nothing but that round trip can hold the loop up; None is then "ask the endpoint"."""
        served = self.models.get(timeframe.code)
        if not self.predictions.enabled or served is None:
            return None
        if steps is not None and predict_until is not None:
            return None  # predict says why
        if on_loop is None:
            self.symbol_id(ticker)  # unknown → 404, as predict
        elif not self.remembers(ticker):
            return None
        cache = self.predictions.cache if on_loop is None else on_loop
        mark_name = mark_key(candles_key(ticker, timeframe.code))
        if predict_until is None:
            steps = MAX_STEPS if steps is None else steps
            question = answer_key(ticker, timeframe.code, steps, served.tag)
            reply = cache.call("mget", [mark_name, question])
            mark, entry = reply if reply else (None, None)
            fresh = self.candles.judge_mark(timeframe, mark)
        else:
            fresh = self.candles.judge_mark(timeframe, cache.call("get", mark_name))
            if fresh is None:
                return None
            steps = steps_until(timeframe, fresh.last_candle_at, predict_until, fresh.now)
            question = answer_key(ticker, timeframe.code, steps, served.tag)
            entry = cache.call("get", question)
        if fresh is None:
            return None
        body = stored_body(entry, candle_stamp(fresh.last_candle_at))
        if body is None:
            return None
        return answer_json(body, True, fresh.stale, fresh.data_age_seconds)

    def predict(
        self,
        ticker: str,
        timeframe: Timeframe,
        steps: int | None = None,
        predict_until: datetime | None = None,
    ) -> Forecast:
        if steps is not None and predict_until is not None:
            raise BadInput("give either steps or predict_until, not both", field="steps")
        served = self.served(timeframe)
        symbol_id = self.symbol_id(ticker)
        window = self.window(ticker, timeframe, symbol_id is not None)
        if predict_until is not None:
            steps = steps_until(timeframe, window.last_candle_at, predict_until, window.now)
        steps = MAX_STEPS if steps is None else steps
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
            universe = self.universes.at(served, timeframe, window.last_candle_at, lambda: markets)
            forecast = make_forecast(
                served.model, served.tag, window, steps, self.inputs, served.evidence, markets,
                universe,
            )  # fmt: skip
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
        challenger: LoadedModel,
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
        """True once the forecast's rows are committed (group commit: `writer`)."""
        try:
            ids = self.row_ids(forecast.symbol, symbol_id, tag, key)
        except DatabaseUnavailable as error:
            log.error("forecast %s not stored: %s", forecast.prediction_id, error)
            return False
        return ids is not None and self.writer.write(forecast, *ids, key, shadow_of)

    def row_ids(
        self, ticker: str, symbol_id: int | None, tag: str, key: str
    ) -> tuple[int, int] | None:
        """(symbol id, model id) of a forecast's rows; PostgreSQL asked only for what is not
        known yet. None when either has no row."""
        model_id = self._model_ids.get(tag)
        if symbol_id is not None and model_id is not None:
            return symbol_id, model_id
        with self.pool.connection() as conn:
            if symbol_id is None:
                row = find_symbol(conn, ticker)
                if row is None:
                    log.warning("forecast %s not stored: %s is not in symbols", key, ticker)
                    return None
                symbol_id = row["id"]
            model_id = model_id or model_row_id(conn, tag)
            if model_id is None:
                log.error("forecast not stored: model %s has no row in models", tag)
                return None
        self._model_ids[tag] = model_id
        return symbol_id, model_id
