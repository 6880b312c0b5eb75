"""The version a replay forecasts each date with: the timeframe's champion at that date (the
release history), or, when none was champion yet or that version is no longer in the model
store, the current champion, the reason stated with every forecast it makes."""

from __future__ import annotations

import logging

import pandas as pd
import psycopg

from candlecast.modeling import load_model, load_version, serving_reference, use_model_store
from candlecast.modeling.champions import champions_over
from candlecast.replay.forecasts import Version
from candlecast.settings import Settings
from candlecast.timeframes import Timeframe

log = logging.getLogger(__name__)

AT_DATE = "champion at the date"


def versions_for(
    settings: Settings, conn: psycopg.Connection, timeframe: Timeframe, dates: list[pd.Timestamp]
) -> list[Version]:
    """One `Version` per date (each version loaded once)."""
    from bentoml.exceptions import NotFound

    use_model_store(settings)
    tags = champions_over(conn, timeframe.code, dates)
    loaded: dict[str, Version] = {}
    current: Version | None = None

    def fallback(why: str) -> Version:
        nonlocal current
        if current is None:
            reference = serving_reference(settings, timeframe, conn)
            current = Version(str(reference.tag), load_model(reference), "")
        return Version(current.tag, current.model, f"current champion: {why}")

    chosen = []
    for date in dates:
        tag = tags[date]
        if tag is None:
            chosen.append(fallback(f"no {timeframe.code} version was champion at the date"))
            continue
        if tag not in loaded:
            try:
                loaded[tag] = Version(tag, load_version(tag), AT_DATE)
            except NotFound:
                log.warning("%s, champion at %s, is no longer in the model store", tag, date)
                loaded[tag] = fallback(f"{tag}, champion at the date, is no longer in the store")
        chosen.append(loaded[tag])
    return chosen
