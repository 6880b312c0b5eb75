"""A replay end to end: the universe's series one at a time (features once per series), every
date's forecast, its outcome from the store, the figures; then the table (Parquet), the
figures (JSON) and the report (HTML), each written atomically."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from candlecast.modeling import json_safe
from candlecast.modeling.training.dataset import stored_context
from candlecast.ohlcv import CandleStore
from candlecast.ops import atomic_write
from candlecast.replay.dates import origin_index
from candlecast.replay.forecasts import SeriesPlan, Version, series_forecasts
from candlecast.replay.scoring import DEFAULT_FEE, Baselines, attach_outcomes, score
from candlecast.timeframes import Timeframe

log = logging.getLogger(__name__)

TOP_COINS = 50


@dataclass
class Replay:
    """What a replay made: one row per (coin, date, step), its figures and a summary."""

    forecasts: pd.DataFrame
    scores: dict
    summary: dict
    notes: list[str] = field(default_factory=list)


def forecast_dates(
    store: CandleStore,
    timeframe: Timeframe,
    tickers: list[str],
    dates: list[pd.Timestamp],
    versions: list[Version],
) -> tuple[pd.DataFrame, Baselines, dict[str, int]]:
    """Every coin's forecast at every date it can have one, with its outcome where the store
    holds it; the naive rules' baselines from before the first date; the dates skipped."""
    if len(versions) != len(dates):
        raise ValueError(f"{len(dates)} dates but {len(versions)} versions: one per date")
    contexts = {}
    for version in versions:
        key = tuple(version.model.market.items())
        if key not in contexts:
            contexts[key] = stored_context(store, dict(version.model.market), timeframe)
    plan = SeriesPlan(dates, origin_index(timeframe, dates), versions)
    baselines, skipped, parts = Baselines(), {}, []
    for ticker in tickers:
        candles = store.read(ticker, timeframe)
        if candles.empty:
            skipped["no series in the store"] = skipped.get("no series in the store", 0) + 1
            continue
        frame = series_forecasts(ticker, candles, timeframe, plan, contexts, skipped)
        baselines.add(candles, timeframe, dates[0])
        if frame.empty:
            continue
        attach_outcomes(frame, candles, timeframe)
        parts.append(frame)
    if not parts:
        raise ValueError(
            f"no {timeframe.code} forecast at any date: {skipped or 'no series'} "
            "(is the range within the store's candles?)"
        )
    forecasts = pd.concat(parts, ignore_index=True)
    chosen = {pd.Timestamp(d): v.chosen for d, v in zip(dates, versions, strict=True)}
    forecasts["model_chosen"] = forecasts["as_of"].map(chosen)
    forecasts["in_sample"] = _in_sample(forecasts, versions)
    forecasts["ticker"] = forecasts["ticker"].astype(str)
    return forecasts, baselines, skipped


def _in_sample(forecasts: pd.DataFrame, versions: list[Version]) -> np.ndarray:
    """A step whose candle opened before its model's test window: the model was fitted or
    calibrated on that outcome, so it is no evidence of skill."""
    test_start = {v.tag: _utc(v.model.info.get("test_start")) for v in versions}
    return (forecasts["timestamp"] < forecasts["model"].map(test_start)).to_numpy()


def _utc(value) -> pd.Timestamp:
    stamp = pd.Timestamp(value or "1970-01-01")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def run_replay(
    store: CandleStore,
    timeframe: Timeframe,
    tickers: list[str],
    dates: list[pd.Timestamp],
    versions: list[Version],
    every_candles: int,
    fee: float = DEFAULT_FEE,
) -> Replay:
    began = time.perf_counter()
    forecasts, baselines, skipped = forecast_dates(store, timeframe, tickers, dates, versions)
    forecast_seconds = time.perf_counter() - began
    notes = []
    out_of_sample = forecasts[~forecasts["in_sample"]]
    scored = out_of_sample if out_of_sample["actual_close"].notna().any() else forecasts
    if scored is forecasts and forecasts["in_sample"].any():
        notes.append(
            "every scored step falls before its model's test window: the model was fitted or "
            "calibrated on these outcomes, so the figures below are no evidence of skill"
        )
    elif forecasts["in_sample"].any():
        notes.append(
            f"{int(forecasts['in_sample'].sum())} steps fall before their model's test window "
            "(in sample) and are left out of the figures"
        )
    fallbacks = sorted(
        {c for c in forecasts["model_chosen"].unique() if c != "champion at the date"}
    )
    notes += [f"forecast with the {c}" for c in fallbacks]
    top = set(tickers[:TOP_COINS])
    scores = score(scored, baselines, top, every_candles, fee)
    summary = {
        "timeframe": timeframe.code,
        "start": str(dates[0]),
        "end": str(dates[-1]),
        "dates": len(dates),
        "every_candles": every_candles,
        "coins_asked": len(tickers),
        "coins_forecast": int(forecasts["ticker"].nunique()),
        "forecasts": int(len(forecasts) // 30),
        "steps_scored": int(scored["actual_close"].notna().sum()),
        "steps_in_sample": int(forecasts["in_sample"].sum()),
        "models": {tag: int(n) for tag, n in forecasts.groupby("model")["as_of"].nunique().items()},
        "skipped": skipped,
        "fee_a_side": fee,
        "forecast_seconds": round(forecast_seconds, 1),
        "seconds": round(time.perf_counter() - began, 1),
    }
    log.info("replay %s: %s", timeframe.code, summary)
    return Replay(forecasts, scores, summary, notes)


def write_replay(replay: Replay, folder: Path, title: str) -> dict[str, str]:
    """The table, the figures and the report in `folder`, each replaced atomically."""
    from candlecast.replay.html_report import render

    folder = Path(folder)
    table = folder / "replay.parquet"
    atomic_write(table, lambda handle: replay.forecasts.to_parquet(handle, index=False))
    figures = json.dumps(json_safe({"summary": replay.summary, **replay.scores}), default=str)
    scores = atomic_write(folder / "scores.json", lambda handle: handle.write(figures.encode()))
    page = render(replay, title).encode("utf-8")
    report = atomic_write(folder / "report.html", lambda handle: handle.write(page))
    return {"table": str(table), "scores": str(scores), "report": str(report)}
