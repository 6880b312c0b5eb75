import pandas as pd

from candlecast.timeframes import TIMEFRAMES
from candlecast.validation import validate_candles

from .sample_frames import PROVIDER, sample_candles

HOUR = TIMEFRAMES["1h"]


def test_real_candles_pass_the_suite():
    outcome = validate_candles(sample_candles(n=300), HOUR, PROVIDER.now())
    assert outcome.success, outcome.summary()


def test_each_defect_is_named():
    frame = sample_candles(n=50).reset_index(drop=True)
    now = PROVIDER.now()
    cases = {
        "low": frame.assign(low=frame["low"].where(frame.index != 3, -1.0)),
        "high": frame.assign(high=frame["high"].where(frame.index != 4, frame["low"] * 0.5)),
        "series,timestamp": pd.concat([frame, frame.iloc[[5]]], ignore_index=True),
        "increasing": pd.concat(
            [frame.iloc[:10], frame.iloc[[3]], frame.iloc[10:]], ignore_index=True
        ),
        "aligned_to_timeframe": frame.assign(
            timestamp=frame["timestamp"].where(
                frame.index != 6, frame["timestamp"] + pd.Timedelta(minutes=7)
            )
        ),
        "volume": frame.assign(volume=frame["volume"].where(frame.index != 7, -1.0)),
        "close": frame.assign(close=frame["close"].where(frame.index != 8, None)),
    }
    for column, bad in cases.items():
        outcome = validate_candles(bad, HOUR, now)
        assert not outcome.success
        assert column in {f["column"] for f in outcome.failures}, (column, outcome.summary())
    future = frame.assign(timestamp=frame["timestamp"] + pd.Timedelta(days=3650))
    assert not validate_candles(future, HOUR, now).success
