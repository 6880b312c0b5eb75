"""What a forecast request is checked against before a forecast is made: a symbol that is
known (else 404, with the closest matches), and the steps `predict_until` asks for (422 when
they cannot be served now)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from candlecast.api import NotFound, Unprocessable
from candlecast.timeframes import MAX_STEPS, Timeframe


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
