"""The dates of a replay: from --start to --end every --every, and what each may read (the
candles closed at it, no later one)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from candlecast.timeframes import Timeframe

MAX_DATES = 5000
_SPACING = re.compile(r"^\s*(\d+)\s*(h|d|w|M)\s*$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def naive_ms(values) -> np.ndarray:
    """UTC times (tz-aware or naive UTC) as naive datetime64[ms], as the candle arithmetic of
    `Timeframe` and the training code take them."""
    index = pd.DatetimeIndex(values)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.to_numpy(dtype="datetime64[ms]")


def iso(value) -> str:
    """A time as ISO text in UTC (naive values are UTC)."""
    stamp = pd.Timestamp(value)
    return (
        stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    ).isoformat()


def utc(value: str | pd.Timestamp, name: str) -> pd.Timestamp:
    """A time given on the command line or as a DAG param, as UTC (a naive time is UTC)."""
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as error:
        raise ValueError(f"--{name} {value!r} is not a date or time (e.g. 2021-06-01)") from error
    if stamp is pd.NaT:
        raise ValueError(f"--{name} is missing")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def spacing(every: str, timeframe: Timeframe) -> pd.DateOffset:
    """`24h`, `4h`, `1d`, `1w` or (for 1M) `1M`: a whole number of the timeframe's candles."""
    match = _SPACING.match(str(every))
    if match is None:
        raise ValueError(f"--every {every!r}: give a count and a unit, e.g. 24h, 1d, 1w or 1M")
    count, unit = int(match[1]), match[2]
    if count < 1:
        raise ValueError(f"--every {every!r}: the spacing must be at least one candle")
    if unit == "M":
        if timeframe.code != "1M":
            raise ValueError(f"--every {every!r}: months space only a 1M replay")
        return pd.DateOffset(months=count)
    if timeframe.length_ns is None:
        raise ValueError(f"--every {every!r}: a 1M replay is spaced in months, e.g. 1M")
    offset = pd.DateOffset(**{_UNITS[unit]: count})
    length = pd.Timedelta(timeframe.length_ns)
    if pd.Timedelta(**{_UNITS[unit]: count}) % length:
        raise ValueError(f"--every {every!r} is not a whole number of {timeframe.code} candles")
    return offset


def candles_per_step(every: pd.DateOffset, timeframe: Timeframe) -> int:
    """How many candles apart consecutive dates are (what an h-candle outcome overlaps)."""
    start = pd.Timestamp("2021-01-04", tz="UTC")  # a Monday, the 1st of no month: any works
    if timeframe.code == "1M":
        return (start + every).month - start.month + 12 * ((start + every).year - start.year)
    return int(((start + every) - start) / pd.Timedelta(timeframe.length_ns))


def replay_dates(
    timeframe: Timeframe, start: pd.Timestamp, end: pd.Timestamp, every: pd.DateOffset,
    now: pd.Timestamp,
) -> list[pd.Timestamp]:  # fmt: skip
    """Every date from `start` (rounded down to a candle boundary) to `end`, `every` apart: a
    date is a candle boundary, so the candles closed at it are the ones before it."""
    if end < start:
        raise ValueError(f"--end {end.isoformat()} is before --start {start.isoformat()}")
    if end > now:
        raise ValueError(f"--end {end.isoformat()} is in the future (now is {now.isoformat()})")
    dates, date = [], timeframe.floor(start)
    while date <= end:
        dates.append(date)
        if len(dates) > MAX_DATES:
            raise ValueError(f"more than {MAX_DATES} dates: space them further apart (--every)")
        date = timeframe.floor(date + every)
    return dates


def origin_index(timeframe: Timeframe, dates: list[pd.Timestamp]) -> np.ndarray:
    """The candle index (`Timeframe.candle_index`) of the last candle closed at each date: the
    one opening a candle before it."""
    return timeframe.candle_index(naive_ms([timeframe.next_open(d, -1) for d in dates]))
