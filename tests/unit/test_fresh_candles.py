"""Fresh candles on a real Redis: freshness by content, single-flight, stale copies, no Redis.

The single-flight tests hold the provider's one call until every other caller is waiting for
it (counted), so the calls overlap by construction, not by a hoped-for latency."""

from __future__ import annotations

import threading
import uuid

import pandas as pd
import pytest
import redis

from candlecast.marketdata import SampleProvider
from candlecast.ohlcv import CandleStore
from candlecast.ops import GuardedRedis, serving_redis_client
from candlecast.serving import (
    CACHED_CANDLES,
    FreshCandles,
    MarketDataUnavailable,
    NoCandles,
    is_fresh,
)
from candlecast.settings import SAMPLE_DATA_DIR, Settings
from candlecast.timeframes import TIMEFRAMES
from tests.support.bento_server import eventually

H1, D1 = TIMEFRAMES["1h"], TIMEFRAMES["1d"]


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


HANG_SECONDS = 60  # a guard against a hang, not a threshold


class CountingProvider(SampleProvider):
    """The sample provider counting calls, breakable on demand, and with `gate` held: each call
    signals `entered` and waits until the test opens the gate."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        super().__init__(SAMPLE_DATA_DIR)
        self.gate, self.calls, self.broken = gate, 0, False
        self.entered = threading.Event()
        self.lock = threading.Lock()

    def fetch_candles(self, ticker, timeframe, start, end):
        with self.lock:
            self.calls += 1
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(HANG_SECONDS), "the test never opened the gate"
        if self.broken:
            raise ConnectionError("provider down")
        return super().fetch_candles(ticker, timeframe, start, end)


@pytest.fixture
def guarded(redis_url) -> GuardedRedis:
    client = serving_redis_client(Settings(redis_url=redis_url))
    client.flushdb()
    return GuardedRedis(client)


@pytest.mark.parametrize(
    ("timeframe", "last", "now", "fresh"),
    [
        (H1, "2025-01-01 09:00", "2025-01-01 10:30", True),  # the last closed candle
        (H1, "2025-01-01 08:00", "2025-01-01 10:30", False),  # one behind, past the grace
        (H1, "2025-01-01 08:00", "2025-01-01 10:01", True),  # one behind, within the grace
        (H1, "2025-01-01 07:00", "2025-01-01 10:01", False),  # two behind
        (D1, "2024-12-30", "2025-01-01 00:20", True),  # daily grace after midnight
        (D1, "2024-12-30", "2025-01-01 01:00", False),  # an hour old: must be refreshed
        (D1, "2024-12-31", "2025-01-01 23:59", True),
    ],
)
def test_freshness_is_judged_by_content(timeframe, last, now, fresh):
    assert is_fresh(timeframe, ts(last), ts(now)) is fresh


def test_a_recent_recheck_counts_as_fresh_for_a_while():
    last, now = ts("2025-01-01 08:00"), ts("2025-01-01 10:30")
    assert is_fresh(H1, last, now, fetched_at=ts("2025-01-01 10:10"), recheck_seconds=3600)
    assert not is_fresh(H1, last, now, fetched_at=ts("2025-01-01 10:10"), recheck_seconds=60)
    assert not is_fresh(H1, last, now, fetched_at=ts("2025-01-01 10:01"), recheck_seconds=3600)


def test_first_call_fetches_then_the_cache_serves(guarded):
    provider = CountingProvider()
    candles = FreshCandles(provider, guarded, 3600, 300)
    first = candles.get("X:BTCUSDT", H1)
    second = candles.get("X:BTCUSDT", H1)
    assert (first.source, second.source) == ("provider", "cache")
    assert provider.calls == 1
    assert len(first.frame) == CACHED_CANDLES
    pd.testing.assert_frame_equal(first.frame, second.frame)
    assert not first.stale and first.data_age_seconds < 3600
    assert first.last_candle_at == H1.next_open(H1.floor(provider.now()), -1)


def until(check, what: str) -> None:
    eventually(check, what, HANG_SECONDS)  # the check decides; the bound is a hang guard


class CountingRedis(GuardedRedis):
    """The real Redis, counting the lock takes it refused (a caller that found the series
    being fetched by another process)."""

    refused = 0

    def call(self, method: str, *args, fallback=None, **kwargs):
        answer = super().call(method, *args, fallback=fallback, **kwargs)
        if method == "set" and kwargs.get("nx") and answer is None:
            self.refused += 1
        return answer


def test_concurrent_requests_make_one_provider_call(guarded):
    gate = threading.Event()
    provider = CountingProvider(gate)
    candles = FreshCandles(provider, guarded, 3600, 300)
    results = []

    def one():
        results.append(candles.get("X:ETHUSDT", TIMEFRAMES["4h"]))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    until(provider.entered.is_set, "the provider is called")
    until(lambda: candles.flight.local.users() == 8, "all 8 callers wait for the one call")
    gate.set()
    for thread in threads:
        thread.join()
    assert provider.calls == 1
    assert len(results) == 8 and {len(r.frame) for r in results} == {CACHED_CANDLES}


def test_two_processes_worth_of_instances_share_one_call(guarded):
    """Two FreshCandles (as in two workers) share the Redis lock, not an in-process one."""
    gate = threading.Event()
    provider = CountingProvider(gate)
    shared = CountingRedis(guarded.client)
    instances = [FreshCandles(provider, shared, 3600, 300) for _ in range(2)]
    threads = [
        threading.Thread(target=instances[i % 2].get, args=("X:SOLUSDT", D1)) for i in range(6)
    ]
    for thread in threads:
        thread.start()
    until(provider.entered.is_set, "the provider is called")
    until(
        lambda: sum(c.flight.local.users() for c in instances) == 6 and shared.refused > 0,
        "all 6 callers wait, the other instance refused the Redis lock",
    )
    gate.set()
    for thread in threads:
        thread.join()
    assert provider.calls == 1


def test_provider_down_serves_the_cached_copy_as_stale(guarded):
    provider = CountingProvider()
    candles = FreshCandles(provider, guarded, 3600, 300)
    fresh = candles.get("X:BNBUSDT", H1)
    provider._now = provider.now() + pd.Timedelta(hours=2)  # two candles have closed since
    provider.broken = True
    stale = candles.get("X:BNBUSDT", H1)
    assert stale.stale and stale.source == "stale-cache"
    assert stale.last_candle_at == fresh.last_candle_at
    assert stale.data_age_seconds == pytest.approx(2 * 3600)
    assert candles.state.failed_at is not None
    with pytest.raises(MarketDataUnavailable, match="market data unavailable"):
        candles.get("X:XRPUSDT", H1)  # nothing cached


def test_unknown_series_is_no_candles(guarded):
    candles = FreshCandles(CountingProvider(), guarded, 3600, 300)
    with pytest.raises(NoCandles):
        candles.get("X:NOPEUSDT", H1)


def test_without_redis_candles_come_from_the_provider(tmp_path):
    dead = redis.Redis(unix_socket_path=str(tmp_path / f"{uuid.uuid4().hex}.sock"))
    guarded = GuardedRedis(dead, pause_seconds=0.2)
    provider = CountingProvider()
    candles = FreshCandles(provider, guarded, 3600, 300)
    first = candles.get("X:BTCUSDT", D1)
    second = candles.get("X:BTCUSDT", D1)
    assert first.source == second.source == "provider"
    assert provider.calls == 2
    assert not guarded.available and not guarded.ping()


def test_a_cached_payload_is_decoded_once_until_it_changes():
    from candlecast.serving import DecodedFrames, frame_bytes

    frame = pd.DataFrame({"timestamp": [ts("2025-01-01")], "close": [1.0]})
    decoded = DecodedFrames(size=1)
    first, meta = decoded.decode("k", frame_bytes(frame, {"fetched_at": "a"}))
    again, _ = decoded.decode("k", frame_bytes(frame, {"fetched_at": "a"}))  # equal bytes
    assert again is first and meta == {"fetched_at": "a"}
    changed, meta = decoded.decode("k", frame_bytes(frame, {"fetched_at": "b"}))
    assert changed is not first and meta == {"fetched_at": "b"}
    decoded.decode("other", frame_bytes(frame))  # evicts "k" (size 1)
    assert decoded.decode("k", frame_bytes(frame, {"fetched_at": "b"}))[0] is not changed


def test_a_worker_that_has_decoded_a_copy_reads_only_its_mark_until_a_new_copy(guarded):
    from candlecast.serving import candles_key

    provider = CountingProvider()
    FreshCandles(provider, guarded, 3600, 300).get("X:BTCUSDT", H1)  # one worker caches it
    other = FreshCandles(provider, guarded, 3600, 300)
    decoded = other.get("X:BTCUSDT", H1)  # another reads and decodes the copy
    copy = candles_key("X:BTCUSDT", "1h")
    guarded.client.set(copy, b"not a frame", keepttl=True)  # the copy's bytes, not its mark
    again = other.get("X:BTCUSDT", H1)
    assert (decoded.source, again.source) == ("cache", "cache") and provider.calls == 1
    assert again.frame is decoded.frame  # the bytes in Redis were not read
    guarded.client.delete(copy)
    provider.now()
    provider._now += pd.Timedelta(hours=1, minutes=10)  # past the next close: a new copy
    newer = FreshCandles(provider, guarded, 3600, 300).get("X:BTCUSDT", H1)
    assert newer.source == "provider" and provider.calls == 2
    assert other.get("X:BTCUSDT", H1).frame is not decoded.frame  # its new mark: read anew


def test_every_worker_sees_the_providers_last_failure_and_its_recovery(guarded):
    from candlecast.serving import ProviderState

    worker_a, worker_b = ProviderState(guarded), ProviderState(guarded)
    assert worker_a.last_failure() is None
    worker_a.failed(ConnectionError("provider down"))
    assert worker_b.last_failure() == "ConnectionError: provider down"
    assert worker_a.paused and not worker_b.paused  # the pause stays with the failing worker
    worker_b.succeeded()
    assert worker_a.last_failure() is None and worker_b.last_failure() is None


def test_without_redis_a_worker_reports_its_own_record():
    from candlecast.serving import ProviderState

    dead = GuardedRedis(redis.Redis(unix_socket_path="/nonexistent/redis.sock"))
    state = ProviderState(dead)
    state.failed(ConnectionError("provider down"))
    assert state.last_failure() == "ConnectionError: provider down"
    state.succeeded()
    assert state.last_failure() is None


class RecordingProvider(CountingProvider):
    """Also records the start of each request."""

    def __init__(self) -> None:
        super().__init__()
        self.starts: list[pd.Timestamp] = []

    def fetch_candles(self, ticker, timeframe, start, end):
        self.starts.append(start)
        return super().fetch_candles(ticker, timeframe, start, end)


def seeded_store(tmp_path, provider, behind: int) -> tuple[CandleStore, pd.DataFrame]:
    """X:BTCUSDT 1h in a store of its own, `behind` candles short of the provider's."""
    now = provider.now()
    full = SampleProvider(SAMPLE_DATA_DIR).fetch_candles(
        "X:BTCUSDT", H1, now - pd.Timedelta(hours=3000), now
    )
    full = full[full["timestamp"] < H1.floor(now)].reset_index(drop=True)  # closed candles
    store = CandleStore(tmp_path / "store")
    store.write("X:BTCUSDT", H1, full.iloc[: len(full) - behind])
    return store, full


def test_a_cold_series_in_the_store_asks_only_for_the_candles_after_its_tail(guarded, tmp_path):
    provider = RecordingProvider()
    store, full = seeded_store(tmp_path, provider, behind=5)
    candles = FreshCandles(provider, guarded, 3600, 300, store)
    window = candles.get("X:BTCUSDT", H1)
    assert provider.starts == [full["timestamp"].iloc[-5]]  # the first candle the store lacks
    assert window.source == "provider" and not window.stale
    expected = full.iloc[-CACHED_CANDLES:].reset_index(drop=True)
    pd.testing.assert_frame_equal(window.frame[expected.columns], expected, check_dtype=False)
    assert candles.get("X:BTCUSDT", H1).source == "cache" and provider.calls == 1


def test_a_fresh_store_tail_needs_no_provider_call(guarded, tmp_path):
    provider = RecordingProvider()
    store, full = seeded_store(tmp_path, provider, behind=0)
    window = FreshCandles(provider, guarded, 3600, 300, store).get("X:BTCUSDT", H1)
    assert provider.calls == 0 and window.source == "store" and not window.stale
    assert window.last_candle_at == full["timestamp"].iloc[-1] and len(window.frame) == 1000


def test_provider_down_serves_the_store_tail_as_stale(guarded, tmp_path):
    provider = RecordingProvider()
    provider.broken = True
    store, full = seeded_store(tmp_path, provider, behind=3)
    window = FreshCandles(provider, guarded, 3600, 300, store).get("X:BTCUSDT", H1)
    assert window.stale and window.source == "stale-store"
    assert window.last_candle_at == full["timestamp"].iloc[-4]


def test_a_store_further_behind_than_the_window_asks_for_the_whole_window(guarded, tmp_path):
    provider = RecordingProvider()
    store, full = seeded_store(tmp_path, provider, behind=CACHED_CANDLES + 10)
    window = FreshCandles(provider, guarded, 3600, 300, store).get("X:BTCUSDT", H1)
    assert provider.starts == [H1.next_open(H1.floor(provider.now()), -CACHED_CANDLES)]
    assert window.last_candle_at == full["timestamp"].iloc[-1] and len(window.frame) == 1000
