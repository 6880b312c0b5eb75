import numpy as np
import pandas as pd
import pytest

from candlecast.timeframes import TIMEFRAME_CODES, TIMEFRAMES, TimeframeError, parse_timeframe


def test_five_timeframes_with_their_retention():
    assert TIMEFRAME_CODES == ("1h", "4h", "1d", "1w", "1M")
    years = {code: round(TIMEFRAMES[code].retention_days / 365) for code in TIMEFRAME_CODES}
    assert years == {"1h": 1, "4h": 3, "1d": 5, "1w": 5, "1M": 5}


def test_month_alias_accepted_and_minute_refused():
    assert parse_timeframe("1mo").code == "1M"
    assert parse_timeframe("1M").code == "1M"
    with pytest.raises(TimeframeError, match="ambiguous.*minute.*'1M' or '1mo'"):
        parse_timeframe("1m")
    with pytest.raises(TimeframeError, match="unknown timeframe '5x'"):
        parse_timeframe("5x")


def test_month_candles_step_by_calendar_month():
    month = TIMEFRAMES["1M"]
    start = pd.Timestamp("2025-01-01", tz="UTC")
    assert month.next_open(start, 1) == pd.Timestamp("2025-02-01", tz="UTC")
    assert month.next_open(start, 2) == pd.Timestamp("2025-03-01", tz="UTC")
    assert month.floor(pd.Timestamp("2025-02-17 13:00", tz="UTC")) == pd.Timestamp(
        "2025-02-01", tz="UTC"
    )


def test_alignment_is_vectorised_and_exact():
    stamps = pd.Series(
        pd.to_datetime(["2025-09-01 00:00", "2025-09-02 00:00", "2025-09-01 04:00"], utc=True)
    )
    assert TIMEFRAMES["1w"].aligned(stamps).tolist() == [True, False, False]  # 09-01 is a Monday
    assert TIMEFRAMES["4h"].aligned(stamps).tolist() == [True, True, True]
    assert TIMEFRAMES["1M"].aligned(stamps).tolist() == [True, False, False]


@pytest.mark.parametrize("code", TIMEFRAME_CODES)
def test_next_opens_are_the_next_open_of_each_step(code):
    timeframe = TIMEFRAMES[code]
    start = timeframe.floor(pd.Timestamp("2024-01-29 13:00", tz="UTC"))  # a leap-year month end
    opens = timeframe.next_opens(start, 30)
    assert opens == [timeframe.next_open(start, k) for k in range(1, 31)]
    assert all(timeframe.is_aligned(ts) for ts in opens)


@pytest.mark.parametrize("code", ["1h", "4h", "1d", "1w"])
def test_fixed_length_arithmetic_is_the_calendars(code):
    """floor and next_open in integer nanoseconds give what pandas' calendar arithmetic gives
    (weeks open on Mondays), in the timestamp's own unit, before and after the epoch."""
    tf = TIMEFRAMES[code]
    rng = np.random.default_rng(3)
    stamps = pd.to_datetime(rng.integers(-(10**18), 2 * 10**18, 500), utc=True)
    for ts in [*stamps, pd.Timestamp("2024-02-29 23:59:59.999", tz="UTC").as_unit("ms")]:
        if code == "1w":
            day = ts.normalize()
            expected = day - pd.Timedelta(days=day.weekday())
        else:
            expected = ts.floor(tf.fixed_freq)
        floored = tf.floor(ts)
        assert floored == expected and floored.unit == ts.unit and str(floored.tz) == "UTC"
        for n in (1, 7, -3):
            assert tf.next_open(floored, n) == floored + n * tf.offset


@pytest.mark.parametrize("code", TIMEFRAME_CODES)
def test_candle_open_inverts_the_candle_index_and_bounds_the_purge(code):
    timeframe = TIMEFRAMES[code]
    first = timeframe.floor(pd.Timestamp("2023-12-20 17:00", tz="UTC"))
    opens = [first, *timeframe.next_opens(first, 40)]
    stamps = np.array([t.tz_localize(None).to_datetime64() for t in opens], "datetime64[ms]")
    index = timeframe.candle_index(stamps)
    np.testing.assert_array_equal(timeframe.candle_open(index), stamps)
    np.testing.assert_array_equal(np.diff(index), 1)
    # The first candle opening at or after a boundary: the boundary's own candle when it is an
    # open time, else the next one.
    assert timeframe.first_candle_from(stamps[7]) == index[7]
    assert timeframe.first_candle_from(stamps[7] + np.timedelta64(1, "ms")) == index[8]
    assert timeframe.first_candle_from(stamps[8] - np.timedelta64(1, "ms")) == index[8]
