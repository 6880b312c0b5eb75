import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from candlecast.marketdata import fetch_sequentially
from candlecast.ohlcv import CandleStore, merge_candles
from candlecast.ohlcv.ingest import update_series
from candlecast.timeframes import TIMEFRAMES

from .sample_frames import PROVIDER, sample_candles

DAY = TIMEFRAMES["1d"]


class ShiftedNow:
    """The sample provider seen from an earlier 'now', to test incremental updates."""

    name = "sample-shifted"

    def __init__(self, now):
        self._now = now

    def now(self):
        return self._now

    def fetch_candles(self, ticker, timeframe, start, end):
        return PROVIDER.fetch_candles(ticker, timeframe, start, min(end, self._now))

    def fetch_many(self, requests):
        return fetch_sequentially(self, requests)


def test_incremental_update_appends_then_is_a_noop(tmp_path):
    store = CandleStore(tmp_path / "store")
    earlier = ShiftedNow(PROVIDER.now() - pd.Timedelta(days=30))
    first = update_series(store, earlier, "X:ETHUSDT", DAY, earlier.now(), tmp_path / "q")
    assert first.status == "written"
    before = store.read("X:ETHUSDT", DAY)
    second = update_series(store, PROVIDER, "X:ETHUSDT", DAY, PROVIDER.now(), tmp_path / "q")
    after = store.read("X:ETHUSDT", DAY)
    assert second.status == "written" and len(after) == len(before) + 30
    pd.testing.assert_frame_equal(after.iloc[: len(before)], before)
    third = update_series(store, PROVIDER, "X:ETHUSDT", DAY, PROVIDER.now(), tmp_path / "q")
    assert third.status == "unchanged"
    assert after["timestamp"].is_unique and after["timestamp"].is_monotonic_increasing


def test_retention_window_is_applied(tmp_path):
    store = CandleStore(tmp_path / "store")
    update_series(store, PROVIDER, "X:BTCUSDT", TIMEFRAMES["1h"], PROVIDER.now(), tmp_path / "q")
    stored = store.read("X:BTCUSDT", TIMEFRAMES["1h"])
    span = stored["timestamp"].iloc[-1] - stored["timestamp"].iloc[0]
    assert pd.Timedelta(days=364) <= span <= pd.Timedelta(days=365)


def test_only_the_bad_candle_is_held_and_the_rest_written(tmp_path):
    store = CandleStore(tmp_path / "store")
    earlier = ShiftedNow(PROVIDER.now() - pd.Timedelta(days=10))
    update_series(store, earlier, "X:SOLUSDT", DAY, earlier.now(), tmp_path / "q")
    before = store.read("X:SOLUSDT", DAY)

    class Corrupt(ShiftedNow):
        def fetch_candles(self, ticker, timeframe, start, end):
            frame = super().fetch_candles(ticker, timeframe, start, end)
            frame.loc[frame.index[-2], "low"] = -5.0
            return frame

    provider = Corrupt(PROVIDER.now())
    result = update_series(store, provider, "X:SOLUSDT", DAY, PROVIDER.now(), tmp_path / "q")
    assert (result.status, result.held) == ("written", 1)
    assert "low" in result.reason
    after = store.read("X:SOLUSDT", DAY)
    want = PROVIDER.fetch_candles("X:SOLUSDT", DAY, before["timestamp"].iloc[0], PROVIDER.now())
    want = want[DAY.close_times(want["timestamp"]) <= PROVIDER.now()]
    bad_day = want["timestamp"].iloc[-2]
    assert set(after["timestamp"]) == set(want["timestamp"]) - {bad_day}
    held = pd.read_parquet(result.quarantine_path)
    assert list(held["timestamp"]) == [bad_day] and held["low"].iloc[0] == -5.0
    assert Path(result.quarantine_path).with_suffix(".json").exists()


def test_a_bad_name_never_addresses_a_path_outside_the_store(tmp_path):
    store = CandleStore(tmp_path / "store")
    for name in ("X:../../etc", "../X_BTC", "X:BTC/USD", "btcusdt"):
        with pytest.raises(ValueError, match="outside the store"):
            store.path(name, DAY)


def test_merge_prefers_fresh_candles():
    stored = sample_candles("1d", n=5).reset_index(drop=True)
    fresh = stored.iloc[[-1]].assign(close=stored["close"].iloc[-1] * 1.01)
    merged = merge_candles(stored, fresh)
    assert len(merged) == 5 and merged["close"].iloc[-1] == fresh["close"].iloc[0]


def test_killed_writer_leaves_previous_file_readable(tmp_path):
    store = CandleStore(tmp_path / "store")
    frame = sample_candles("1h", n=2000).reset_index(drop=True)
    store.write("X:BTCUSDT", TIMEFRAMES["1h"], frame.iloc[:1000])
    # A child process starts a large write and is killed mid-way with SIGKILL.
    code = f"""
import os, signal, sys
sys.path.insert(0, {str(os.path.dirname(__file__))!r})
import pyarrow.parquet as pq
from candlecast.ohlcv.parquet_store import CandleStore
from candlecast.timeframes import TIMEFRAMES
from sample_frames import sample_candles
real = pq.write_table
def dying_write(table, where, **kw):
    where.write(b"PAR1 partial bytes")
    os.kill(os.getpid(), signal.SIGKILL)
pq.write_table = dying_write
CandleStore({str(tmp_path / "store")!r}).write("X:BTCUSDT", TIMEFRAMES["1h"], sample_candles("1h", n=2000))
"""
    result = subprocess.run([sys.executable, "-c", code])
    assert result.returncode == -9
    survivor = store.read("X:BTCUSDT", TIMEFRAMES["1h"])
    pd.testing.assert_frame_equal(survivor, frame.iloc[:1000].reset_index(drop=True))


def test_empty_store_reads_as_empty_frame(tmp_path):
    store = CandleStore(tmp_path)
    assert store.read("X:NOPE", DAY).empty
    assert store.last_timestamp("X:NOPE", DAY) is None


@pytest.mark.parametrize("code", ["1h", "4h", "1d", "1w", "1M"])
def test_round_trip_preserves_schema(tmp_path, code):
    store = CandleStore(tmp_path)
    frame = sample_candles(code, n=40).reset_index(drop=True)
    store.write("X:BNBUSDT", TIMEFRAMES[code], frame)
    pd.testing.assert_frame_equal(store.read("X:BNBUSDT", TIMEFRAMES[code]), frame)


def test_a_failed_fetch_writes_nothing_and_is_reported(tmp_path):
    from candlecast.marketdata import ProviderTransientError
    from candlecast.ohlcv.ingest import update_many

    class HalfBroken(ShiftedNow):
        def fetch_many(self, requests):
            good = fetch_sequentially(self, requests[:1])
            return good + [ProviderTransientError("provider answered 502: bad gateway")]

    store = CandleStore(tmp_path / "store")
    provider = HalfBroken(PROVIDER.now())
    results = update_many(
        store, provider, [("X:BTCUSDT", DAY), ("X:ETHUSDT", DAY)], PROVIDER.now(), tmp_path / "q"
    )
    assert [r.status for r in results] == ["failed", "written"]
    assert "502" in results[0].reason
    assert not store.path("X:ETHUSDT", DAY).exists()
    assert store.path("X:BTCUSDT", DAY).exists()


_WRITER = """
import sys
import pandas as pd
from candlecast.ohlcv import CandleStore
from candlecast.timeframes import TIMEFRAMES
store, offset = CandleStore(sys.argv[1]), int(sys.argv[2])
frame = pd.read_parquet(sys.argv[3])
for i in range(offset, len(frame), 2):  # every other candle, one merge each
    store.merge_write("X:BTCUSDT", TIMEFRAMES["1h"], frame.iloc[[i]])
"""


def test_two_concurrent_writers_on_one_series_lose_nothing(tmp_path):
    frame = sample_candles("1h", n=60).reset_index(drop=True)
    frame.to_parquet(tmp_path / "candles.parquet", index=False)
    root = tmp_path / "store"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(root), str(k), str(tmp_path / "candles.parquet")]
        )
        for k in (0, 1)
    ]
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    stored = CandleStore(root).read("X:BTCUSDT", TIMEFRAMES["1h"])
    pd.testing.assert_frame_equal(stored, frame)
