"""`candlecast replay` and the `replay` DAG: one function, from the settings and the question
(timeframe, range, spacing, universe) to the written table, figures and report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from candlecast.marketdata import get_provider
from candlecast.ohlcv import open_store
from candlecast.ohlcv.symbols import top_symbols, trainable
from candlecast.ops import db
from candlecast.replay.dates import candles_per_step, replay_dates, spacing, utc
from candlecast.replay.run import run_replay, write_replay
from candlecast.replay.scoring import DEFAULT_FEE
from candlecast.replay.versions import versions_for
from candlecast.settings import Settings
from candlecast.timeframes import parse_timeframe


def universe(settings: Settings, store, timeframe, top: int | None, symbols: list[str] | None):
    """`symbols` as given (each must have a stored series), or the `top` coins by USD volume
    that have one (today's ranking), or every stored forecastable series."""
    stored = set(store.tickers(timeframe))
    if symbols:
        missing = [s for s in symbols if s not in stored]
        if missing:
            raise ValueError(f"no {timeframe.code} series in the store for {', '.join(missing)}")
        return list(symbols)
    if top is not None and top < 1:
        raise ValueError(f"--top {top}: ask for at least one coin")
    with db.connect(settings) as conn:
        ranked = [t for t in top_symbols(conn, top or 10**6) if t in stored]
    if top is not None and not ranked:
        raise ValueError("no ranked symbols with a stored series: run `candlecast sync-symbols`")
    tickers = ranked or sorted(stored)
    return trainable(tickers)[: top or None]


def replay_timeframe(
    settings: Settings,
    timeframe_code: str,
    start: str,
    end: str,
    every: str = "24h",
    top: int | None = None,
    symbols: list[str] | None = None,
    output: str | Path | None = None,
    fee: float = DEFAULT_FEE,
) -> dict:
    """Replay one timeframe over [start, end] every `every`; returns the summary, the headline
    figures and the paths of what it wrote (under CANDLECAST_HOME/replays/ by default)."""
    if not 0 <= fee < 0.05:
        raise ValueError(f"--fee {fee}: a fee a side between 0 and 0.05 (0.001 is 0.1 %)")
    timeframe = parse_timeframe(timeframe_code)
    step = spacing(every, timeframe)
    now = get_provider(settings).now()
    dates = replay_dates(timeframe, utc(start, "start"), utc(end, "end"), step, now)
    store = open_store(settings.store_location)
    tickers = universe(settings, store, timeframe, top, symbols)
    if not tickers:
        raise ValueError(f"no {timeframe.code} series in the store to replay")
    with db.connect(settings) as conn:
        versions = versions_for(settings, conn, timeframe, dates)
    replay = run_replay(
        store, timeframe, tickers, dates, versions, candles_per_step(step, timeframe), fee
    )
    name = f"{timeframe.slug}_{_day(dates[0])}_{_day(dates[-1])}_{every}".replace(" ", "")
    folder = Path(output) if output else settings.home / "replays" / name
    paths = write_replay(replay, folder, f"Replay {timeframe.code} {dates[0]} → {dates[-1]}")
    table = replay.scores["by_horizon"]
    return {
        **replay.summary,
        "notes": replay.notes,
        "rank_ic_by_horizon": {
            h: {"model": ic, "best_naive": naive}
            for h, ic, naive in zip(
                table["horizon"], table["rank_ic"], table["best_naive_ranker_ic"], strict=True
            )
            if h in (1, 6, 12, 24, 30)
        },
        **paths,
    }


def _day(stamp: pd.Timestamp) -> str:
    return stamp.strftime("%Y%m%dT%H")
