"""Replay live monitoring on a home with a store and trained models (after `make up`, `make
universe`, or `candlecast sync-symbols && candlecast update && candlecast train`): forecasts are
made through the serving code as of past candles (every `--every` candles over the last `--days`
before the data ends) and stored as served, then one `score_outcomes` pass runs as of the end
and the daily and weekly reports are printed. Prints how long scoring took per outcome.

    CANDLECAST_HOME=.candlecast .venv/bin/python bench/replay_live.py --timeframe 1h --days 7
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from candlecast.modeling import ForecastModel, model_row_id
from candlecast.ohlcv import CandleStore
from candlecast.ops import db
from candlecast.pipeline import report_period_end, run_report, run_score_outcomes
from candlecast.serving import SERVING_CANDLES, CandleWindow, make_forecast, persist_forecast
from candlecast.settings import Settings
from candlecast.timeframes import MAX_STEPS, parse_timeframe


def newest_model(settings: Settings, slug: str) -> tuple[ForecastModel, str]:
    folder = settings.bentoml_home / "models" / f"candlecast-{slug}"
    versions = sorted(p for p in folder.iterdir() if p.is_dir())
    if not versions:
        raise SystemExit(f"no trained candlecast-{slug} under {folder}")
    return ForecastModel.load(versions[-1]), f"candlecast-{slug}:{versions[-1].name}"


def past_window(ticker, timeframe, history, past, now) -> CandleWindow:
    """A benchmark's candles as the forecast at `past`'s last candle would have seen them."""
    seen = history[history["timestamp"] <= past["timestamp"].iloc[-1]].iloc[-SERVING_CANDLES:]
    return CandleWindow(ticker, timeframe, seen.reset_index(drop=True), now, False, "replay")


def replay(settings: Settings, code: str, days: int, every: int) -> int:
    timeframe = parse_timeframe(code)
    model, tag = newest_model(settings, timeframe.slug)
    store = CandleStore(settings.store_dir)
    served = 0
    with db.connect(settings) as conn:
        model_id = model_row_id(conn, tag)
        symbols = {
            r["ticker"]: r["id"] for r in conn.execute("SELECT id, ticker FROM symbols").fetchall()
        }
        benchmarks = {base: store.read(t, timeframe) for base, t in model.market.items()}
        for ticker in store.tickers(timeframe):
            history = store.read(ticker, timeframe)
            end = history["timestamp"].iloc[-1]
            start = end - pd.Timedelta(days=days)
            origins = history.index[history["timestamp"] >= start][:-MAX_STEPS:every]
            for origin in origins:
                past = history.iloc[max(0, origin + 1 - SERVING_CANDLES) : origin + 1]
                now = timeframe.next_open(past["timestamp"].iloc[-1])
                window = CandleWindow(
                    ticker, timeframe, past.reset_index(drop=True), now, False, "replay"
                )
                market = {
                    base: past_window(model.market[base], timeframe, frame, past, now)
                    for base, frame in benchmarks.items()
                }
                forecast = make_forecast(model, tag, window, MAX_STEPS, market_windows=market)
                forecast = forecast.model_copy(update={"generated_at": now.to_pydatetime()})
                persist_forecast(conn, forecast, symbols[ticker], model_id)
                served += 1
    return served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeframe", default="1h")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--every", type=int, default=6, help="candles between forecast rounds")
    args = parser.parse_args()
    settings = Settings()
    served = replay(settings, args.timeframe, args.days, args.every)
    print(f"served {served} forecasts as of past candles")
    start = time.perf_counter()
    result = run_score_outcomes(settings)
    elapsed = time.perf_counter() - start
    print(
        f"score_outcomes: {result['scored']} outcomes, {result['rolling_rows']} rolling rows in "
        f"{elapsed:.1f} s ({1e3 * elapsed / max(result['scored'], 1):.2f} ms per outcome); "
        f"drift: {result['drift']}; paper: {result['paper']}"
    )
    start = time.perf_counter()
    again = run_score_outcomes(settings)
    print(f"a re-run: {again['scored']} written in {time.perf_counter() - start:.1f} s")
    end = report_period_end(settings)
    for kind in ("daily", "weekly"):
        report = run_report(settings, kind, end)
        print(f"\n{report['report']}\n(plot: {report['plot']})")


if __name__ == "__main__":
    main()
