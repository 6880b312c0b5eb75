"""POST /rank: the coins of a timeframe ordered by their predicted return relative to the served
universe at one horizon, from the universe's predictions at the newest closed candle (computed
once, shared with /predict), each with its percentile and p_outperform; coins that cannot be
forecast at that candle listed apart. The universe's ranking is stored once per model version,
horizon and candle, so live monitoring scores it when its target candle closes."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pandas as pd

from candlecast.api import RankedCoin, Ranking, Unavailable, UnrankedCoin
from candlecast.modeling import mid_percentile, model_row_id
from candlecast.ops import DatabaseUnavailable
from candlecast.serving.forecaster import Forecaster
from candlecast.serving.fresh_candles import (
    MarketDataUnavailable,
    NoCandles,
    data_age_seconds,
    is_fresh,
)
from candlecast.serving.loaded_model import LoadedModel
from candlecast.serving.relative_steps import Universe, Unranked
from candlecast.serving.universe import member_raw, universe_key
from candlecast.timeframes import TIMEFRAMES, Timeframe

STORE_RANKING = """
    WITH inserted AS (
        INSERT INTO rankings (id, model_id, timeframe, horizon, candle_at, target_at,
                              relative_skill, universe_size, entries)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)
        ON CONFLICT (model_id, horizon, candle_at) DO NOTHING
        RETURNING id
    )
    SELECT id::text FROM inserted
    UNION ALL
    SELECT id::text FROM rankings WHERE model_id = %s AND horizon = %s AND candle_at = %s
    LIMIT 1
"""


def _outsider(forecaster, served, timeframe, ticker, universe) -> tuple | Unranked:
    """(raw z at every horizon, last close) of a coin outside the universe, at its candle."""
    try:
        window = forecaster.candles.get(ticker, timeframe)
        markets = forecaster.market_windows(served, timeframe)
        raw = member_raw(served, window, universe.candle, forecaster.inputs, markets)
    except NoCandles as error:
        return Unranked(ticker, "unknown_symbol", str(error))
    except (MarketDataUnavailable, Unavailable) as error:
        return Unranked(ticker, "market_data_unavailable", str(error))
    if isinstance(raw, Unranked):
        return raw
    return raw, float(window.frame["close"].iloc[-1])


def chosen_coins(forecaster, served, timeframe, universe: Universe, symbols, horizon: int):
    """(tickers, relative z at the horizon, last closes, members?) and the coins kept apart."""
    if symbols is None:
        return (
            list(universe.tickers),
            universe.relative[:, horizon - 1],
            universe.closes,
            [True] * universe.size,
        ), list(universe.apart)
    apart_of = {a.symbol: a for a in universe.apart}
    tickers, relative, closes, member, apart = [], [], [], [], []
    for ticker in dict.fromkeys(symbols):
        i = universe.index.get(ticker)
        if i is not None:
            found = (universe.relative[i, horizon - 1], universe.closes[i], True)
        elif ticker in apart_of:
            apart.append(apart_of[ticker])
            continue
        else:
            got = _outsider(forecaster, served, timeframe, ticker, universe)
            if isinstance(got, Unranked):
                apart.append(got)
                continue
            found = (got[0][horizon - 1] - universe.mean[horizon - 1], got[1], False)
        tickers.append(ticker)
        relative.append(found[0])
        closes.append(found[1])
        member.append(found[2])
    return (tickers, np.asarray(relative, dtype=float), np.asarray(closes), member), apart


def ranked_coins(served: LoadedModel, universe: Universe, chosen, horizon: int) -> list[RankedCoin]:
    """The chosen coins by relative z, best first, with their percentile and p_outperform."""
    tickers, relative, closes, member = chosen
    skilled = bool(served.model.calibration.relative_skill[horizon - 1]) and universe.size > 0
    percentile = mid_percentile(relative, universe.relative[:, horizon - 1])
    p = served.model.calibration.p_outperform(relative, np.full(len(relative), horizon))
    order = sorted(range(len(tickers)), key=lambda i: (-relative[i], tickers[i]))
    return [
        RankedCoin(
            rank=place if skilled else None,
            symbol=tickers[i],
            relative_z=float(relative[i]),
            percentile=float(percentile[i]) if skilled else None,
            p_outperform=float(p[i]),
            last_close=float(closes[i]),
            in_universe=bool(member[i]),
        )
        for place, i in enumerate(order, start=1)
    ]


def rank(
    forecaster: Forecaster, timeframe: Timeframe, horizon: int, symbols: list[str] | None = None
) -> Ranking:
    served = forecaster.served(timeframe)
    universes = forecaster.universes
    candle = universes.current_candle(timeframe)
    cached = universes.lookup(universe_key(served.tag, timeframe.code, candle)) is not None
    universe = universes.at(
        served, timeframe, candle, lambda: forecaster.market_windows(served, timeframe)
    )
    if universe is None:
        raise Unavailable("database unavailable: the served universe cannot be named")
    chosen, apart = chosen_coins(forecaster, served, timeframe, universe, symbols, horizon)
    now = forecaster.candles.provider.now()
    return ranking_answer(
        served,
        timeframe,
        horizon,
        universe,
        ranked_coins(served, universe, chosen, horizon),
        apart,
        data_age_seconds=data_age_seconds(timeframe, universe.candle, now),
        stale=not is_fresh(timeframe, universe.candle, now),
        ranking_id=store_ranking(forecaster, served, universe, horizon),
        cached=cached,
    )


def ranking_answer(
    served: LoadedModel,
    timeframe: Timeframe,
    horizon: int,
    universe: Universe,
    coins: list,
    apart: list,
    **answer,
) -> Ranking:
    """The /rank answer of `served` at `horizon` over `universe`: its coins in order, those
    apart with their reasons, the horizon's evidence; `answer` holds what live and as-of
    rankings set differently (age, staleness, the stored id, caching, as_of)."""
    name, _, version = served.tag.partition(":")
    evidence = served.evidence[horizon - 1]
    return Ranking(
        timeframe=timeframe.code,
        horizon=horizon,
        model=served.tag,
        model_name=name,
        model_version=version,
        generated_at=universe.computed_at,
        last_candle_at=universe.candle,
        target_at=timeframe.next_open(universe.candle, horizon),
        universe_size=universe.size,
        relative_skill=evidence.relative_skill,
        evidence=evidence,
        coins=coins,
        unranked=[UnrankedCoin(symbol=a.symbol, reason=a.reason, detail=a.detail) for a in apart],
        **answer,
    )


def store_ranking(
    forecaster: Forecaster, served: LoadedModel, universe: Universe, horizon: int
) -> str | None:
    """The universe's ranking at this horizon, stored once (a repeat finds the stored id; a
    worker remembers it); None when PostgreSQL cannot store it or the universe is empty."""
    key = (universe_key(served.tag, universe.timeframe, universe.candle), horizon)
    known = forecaster.universes.stored.get(key)
    if known is not None or universe.size == 0:
        return known
    entries = ranked_coins(
        served,
        universe,
        (list(universe.tickers), universe.relative[:, horizon - 1], universe.closes,
         [True] * universe.size),
        horizon,
    )  # fmt: skip
    candle = pd.Timestamp(universe.candle)
    target = TIMEFRAMES[universe.timeframe].next_open(candle, horizon)
    try:
        with forecaster.pool.connection() as conn:
            model_id = model_row_id(conn, served.tag)
            if model_id is None:
                return None
            row = conn.execute(
                STORE_RANKING,
                (
                    str(uuid.uuid4()), model_id, universe.timeframe, horizon, candle, target,
                    bool(served.model.calibration.relative_skill[horizon - 1]), universe.size,
                    json.dumps([c.model_dump(include=ENTRY_FIELDS) for c in entries]),
                    model_id, horizon, candle,
                ),
            ).fetchone()  # fmt: skip
            conn.commit()
    except DatabaseUnavailable:
        return None
    forecaster.universes.stored.put(key, row["id"])
    return row["id"]


ENTRY_FIELDS = {"symbol", "relative_z", "percentile", "p_outperform", "last_close"}


def table(ranking: Ranking, top: int | None = None) -> str:
    """The ranking as a text table (the CLI's face)."""
    head = (
        f"{ranking.model} {ranking.timeframe} h{ranking.horizon} at {ranking.last_candle_at:%Y-%m-%d %H:%M} "
        f"UTC (target {ranking.target_at:%Y-%m-%d %H:%M}), universe {ranking.universe_size}, "
        f"relative skill {ranking.relative_skill}" + (" (stale candles)" if ranking.stale else "")
    )
    lines = [head, f"{'rank':>4}  {'symbol':<16} {'rel z':>7} {'pctile':>6} {'p_out':>5}"]
    for coin in ranking.coins[:top]:
        pct = "-" if coin.percentile is None else f"{coin.percentile:6.1f}"
        place = "-" if coin.rank is None else str(coin.rank)
        lines.append(
            f"{place:>4}  {coin.symbol:<16} {coin.relative_z:7.3f} {pct:>6} {coin.p_outperform:5.3f}"
        )
    if ranking.unranked:
        lines.append(f"not ranked ({len(ranking.unranked)}):")
        lines += [f"  {u.symbol:<16} {u.reason}: {u.detail}" for u in ranking.unranked]
    return "\n".join(lines)
