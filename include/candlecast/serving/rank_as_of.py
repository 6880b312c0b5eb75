"""POST /rank as of a past time: the universe's predictions at the last candle closed at `as_of`,
each coin's from the store's candles closed then (`AsOfCandles`), by the version champion then
(`AsOfForecasts.version_at`), through the code of the live ranking (`compute_universe`,
`chosen_coins`, `ranked_coins`): the percentile is over the universe's as-of predictions. The
universe is the one the symbol sync recorded last before `as_of` (else today's, said so); a coin
the store holds no candle of at `as_of` was not listed then and is left out. Nothing is stored
or cached: no ranking row (so live monitoring never scores it), no universe in Redis. Each coin
carries its realised return over the horizon where the target candle has closed."""

from __future__ import annotations

from datetime import datetime

from candlecast.api import Ranking, Unavailable, universe_at
from candlecast.ops import DatabaseUnavailable
from candlecast.serving.as_of import AsOfCandles, AsOfForecasts
from candlecast.serving.forecast import InputCache
from candlecast.serving.fresh_candles import CandleWindow, last_closed_open
from candlecast.serving.loaded_model import LoadedModel
from candlecast.serving.ranking import chosen_coins, ranked_coins, ranking_answer
from candlecast.serving.universe import compute_universe
from candlecast.timeframes import Timeframe


class AsOfView:
    """What the live ranking's code reads of a forecaster (`candles`, `inputs`,
    `market_windows`), answered from the store as of a past time."""

    def __init__(self, candles: AsOfCandles, markets: dict[str, CandleWindow]) -> None:
        self.candles, self.markets = candles, markets
        self.inputs = InputCache()  # one ranking's: nothing kept across requests

    def market_windows(self, served: LoadedModel, timeframe: Timeframe) -> dict:
        return self.markets


def rank_as_of(
    past: AsOfForecasts,
    timeframe: Timeframe,
    horizon: int,
    symbols: list[str] | None,
    as_of: datetime,
) -> Ranking:
    forecaster = past.forecaster
    candles = past.candles(timeframe, as_of)
    served, chosen = past.version_at(timeframe, candles.at)
    try:
        with forecaster.pool.connection() as conn:
            tickers, universe_chosen = universe_at(conn, forecaster.universes.size, candles.at)
    except DatabaseUnavailable as error:
        raise Unavailable("database unavailable: the universe cannot be named") from error
    listed = [t for t in tickers if candles.listed(t, timeframe)]
    view = AsOfView(candles, past.market_windows(served, candles, timeframe))
    candle = last_closed_open(timeframe, candles.at)
    universe = compute_universe(
        served, candles, view.inputs, view.markets, timeframe, candle, listed
    )
    picked, apart = chosen_coins(view, served, timeframe, universe, symbols, horizon)
    target = timeframe.next_open(candle, horizon)
    coins = []
    for coin in ranked_coins(served, universe, picked, horizon):
        close = candles.realised(coin.symbol, timeframe).get(target)
        realised = None if close is None else close / coin.last_close - 1.0
        coins.append(coin.model_copy(update={"realised_return": realised}))
    return ranking_answer(
        served,
        timeframe,
        horizon,
        universe,
        coins,
        apart,
        data_age_seconds=(candles.at - timeframe.next_open(candle)).total_seconds(),
        stale=False,  # the last candle closed at as_of, by construction
        ranking_id=None,
        cached=False,
        as_of=candles.at,
        model_chosen=chosen,
        universe_chosen=universe_chosen,
    )
