import numpy as np
import pandas as pd

from candlecast.ohlcv import clean_candles
from candlecast.timeframes import TIMEFRAMES

from .sample_frames import PROVIDER, sample_candles

HOUR = TIMEFRAMES["1h"]


def test_clean_sample_passes_untouched():
    frame = sample_candles(n=200)
    cleaned, report = clean_candles(frame, HOUR, PROVIDER.now())
    assert report.dropped == {}
    pd.testing.assert_frame_equal(cleaned, frame.reset_index(drop=True))


def test_every_kind_of_bad_row_is_dropped_and_counted():
    frame = sample_candles(n=100).reset_index(drop=True)
    now = PROVIDER.now()
    bad = frame.copy()
    bad.loc[3, "low"] = -1.0  # negative price
    bad.loc[5, "high"] = bad.loc[5, "low"] * 0.5  # high < low
    bad.loc[7, "close"] = np.nan
    bad.loc[9, "volume"] = -3.0
    future = bad.iloc[[-1]].assign(timestamp=now + pd.Timedelta(hours=2))
    duplicate = bad.iloc[[20]].assign(volume=bad.loc[20, "volume"] + 1.0)
    shuffled = pd.concat([bad.iloc[::-1], future, duplicate], ignore_index=True)
    cleaned, report = clean_candles(shuffled, HOUR, now)
    assert report.dropped == {
        "non_positive_price": 1,
        "inconsistent_ohlc": 1,
        "nan": 1,
        "negative_volume": 1,
        "not_closed": 1,
        "duplicate_timestamp": 1,
    }
    assert cleaned["timestamp"].is_monotonic_increasing and cleaned["timestamp"].is_unique
    assert len(cleaned) == len(frame) - 4
    # The later copy of a duplicated timestamp wins.
    row = cleaned[cleaned["timestamp"] == frame.loc[20, "timestamp"]]
    assert row["volume"].iloc[0] == duplicate["volume"].iloc[0]


def test_misaligned_timestamp_dropped():
    frame = sample_candles(n=10).reset_index(drop=True)
    frame.loc[2, "timestamp"] += pd.Timedelta(minutes=30)
    _, report = clean_candles(frame, HOUR, PROVIDER.now())
    assert report.dropped == {"misaligned_timestamp": 1}
