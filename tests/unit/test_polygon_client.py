"""The real client against the loopback fake provider: pagination, auth, faults, limits."""

from __future__ import annotations

import asyncio

import httpx
import pandas as pd
import pytest

from candlecast.marketdata import (
    FetchRequest,
    PolygonClient,
    PolygonProvider,
    ProviderAuthError,
    ProviderTransientError,
    SlidingWindowLimiter,
    resample_daily,
)
from candlecast.ohlcv import drop_unclosed
from candlecast.settings import SAMPLE_DATA_DIR
from candlecast.timeframes import TIMEFRAMES
from tests.support.clock import ManualClock
from tests.support.fake_provider import FakeProvider, Fault

from .sample_frames import PROVIDER as SAMPLE

NOW = SAMPLE.now()


@pytest.fixture
def fake():
    with FakeProvider(SAMPLE_DATA_DIR) as server:
        yield server


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def fake_on_clock(clock):
    """The fake provider on the clock the client's retries wait on: a storm of N seconds lasts
    N seconds of the retries' waits, however slow the machine."""
    with FakeProvider(SAMPLE_DATA_DIR, clock=clock) as server:
        yield server


def provider_for(fake, key="test-key", **kwargs) -> PolygonProvider:
    kwargs.setdefault("backoff_seconds", 0.01)
    kwargs.setdefault("timeout", 2.0)
    return PolygonProvider(PolygonClient(key, fake.base_url, **kwargs), now=NOW)


def expected(code: str, ticker: str, start, end) -> pd.DataFrame:
    return SAMPLE.fetch_candles(ticker, TIMEFRAMES[code], start, end)


def test_tickers_follow_every_page_and_never_send_a_leaked_key(fake):
    fake.faults.script = []
    client = PolygonClient("test-key", fake.base_url, backoff_seconds=0.01)

    async def run():
        async with client._client() as http:
            url = client.url("/v3/reference/tickers", {"market": "crypto", "limit": 2})
            return await client.paginate(http, url)

    rows = asyncio.run(run())
    assert [r["ticker"] for r in rows] == [f"X:{p}" for p in fake.pairs()]
    paths = [p for _, p, _ in fake.requests("tickers")]
    assert len(paths) == 3 and all("LEAKED_KEY" not in p for p in paths)
    assert all("cursor=" in p for p in paths[1:])


@pytest.mark.parametrize("code", ["1h", "4h", "1d"])
def test_aggregates_paginate_to_exactly_the_providers_candles(fake, code):
    fake.faults.page_limit_cap = 700
    start = NOW - pd.Timedelta(days=120)
    got = provider_for(fake).fetch_candles("X:BTCUSDT", TIMEFRAMES[code], start, NOW)
    want = expected(code, "X:BTCUSDT", start, NOW)
    assert len(fake.requests("aggs")) > 1 or len(want) <= 700
    cols = ["timestamp", "open", "high", "low", "close", "volume", "vwap"]
    pd.testing.assert_frame_equal(
        got[cols].reset_index(drop=True), want[cols].reset_index(drop=True)
    )


@pytest.mark.parametrize("code", ["1w", "1M"])
def test_weeks_and_months_built_from_daily_bars_match_the_reference(fake, code):
    start = pd.Timestamp("2023-01-02", tz="UTC")
    got = provider_for(fake).fetch_candles("X:ETHUSDT", TIMEFRAMES[code], start, NOW)
    got = drop_unclosed(got, TIMEFRAMES[code], NOW).reset_index(drop=True)  # the open period
    want = expected(code, "X:ETHUSDT", start, NOW)
    cols = ["timestamp", "open", "high", "low", "close"]
    pd.testing.assert_frame_equal(got[cols], want[cols].reset_index(drop=True))
    assert got["volume"].to_numpy() == pytest.approx(want["volume"].to_numpy(), rel=1e-9)
    assert all("/range/1/day/" in p for _, p, _ in fake.requests("aggs"))


def test_resample_builds_only_whole_periods():
    daily = SAMPLE.fetch_candles("X:BTCUSDT", TIMEFRAMES["1d"], NOW - pd.Timedelta(days=40), NOW)
    weekly = resample_daily(daily, TIMEFRAMES["1w"])
    assert weekly["timestamp"].dt.day_of_week.eq(0).all()
    whole = daily[
        (daily["timestamp"] >= weekly["timestamp"].iloc[0])
        & (daily["timestamp"] < weekly["timestamp"].iloc[-1] + pd.Timedelta(days=7))
    ]
    assert weekly["high"].max() == whole["high"].max()
    assert weekly["volume"].sum() == pytest.approx(whole["volume"].sum())
    # A day missing inside the history: that week is not a week, and it is named.
    missing = weekly["timestamp"].iloc[1] + pd.Timedelta(days=3)
    holed = resample_daily(daily[daily["timestamp"] != missing], TIMEFRAMES["1w"])
    assert weekly["timestamp"].iloc[1] not in set(holed["timestamp"])
    assert len(holed) == len(weekly) - 1
    assert holed.attrs["incomplete_periods"] == [weekly["timestamp"].iloc[1].date().isoformat()]
    monthly = resample_daily(daily[daily["timestamp"] != missing], TIMEFRAMES["1M"])
    assert all(m.day == 1 for m in monthly["timestamp"])


@pytest.mark.parametrize("kind", ["empty", "null"])
def test_empty_results_are_an_empty_series(fake, kind):
    fake.faults.script = [Fault("aggs", kind)]
    got = provider_for(fake).fetch_candles(
        "X:BTCUSDT", TIMEFRAMES["1d"], NOW - pd.Timedelta(days=5), NOW
    )
    assert got.empty and list(got.columns)[:5] == ["timestamp", "open", "high", "low", "close"]


def test_bad_key_fails_at_once_naming_the_fix(fake):
    with pytest.raises(ProviderAuthError, match="POLYGON_API_KEY"):
        provider_for(fake, key="wrong").fetch_candles(
            "X:BTCUSDT", TIMEFRAMES["1d"], NOW - pd.Timedelta(days=5), NOW
        )
    assert len(fake.requests()) == 1


def test_plan_refusal_fails_at_once_naming_the_plan(fake):
    fake.faults.forbidden_timespans = {"hour"}
    with pytest.raises(ProviderAuthError, match="plan"):
        provider_for(fake).fetch_candles(
            "X:BTCUSDT", TIMEFRAMES["1h"], NOW - pd.Timedelta(days=5), NOW
        )
    assert len(fake.requests()) == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault("aggs", "status", times=3, status=500),
        Fault("aggs", "html", times=2, status=504),
        Fault("aggs", "status", times=2, status=429),
        Fault("aggs", "malformed", times=2),
        Fault("aggs", "drop", times=2),
        Fault("aggs", "slow", times=1, delay_s=3.0),
    ],
    ids=["500", "504-html", "429", "malformed", "dropped", "timeout"],
)
def test_transient_faults_are_survived(fake, fault):
    fake.faults.script = [fault]
    start = NOW - pd.Timedelta(days=30)
    got = provider_for(fake).fetch_candles("X:SOLUSDT", TIMEFRAMES["1d"], start, NOW)
    pd.testing.assert_frame_equal(
        got[["timestamp", "close"]],
        expected("1d", "X:SOLUSDT", start, NOW)[["timestamp", "close"]].reset_index(drop=True),
    )
    assert len(fake.requests()) >= 2


def test_retries_are_bounded(fake):
    fake.faults.script = [Fault("aggs", "status", times=100, status=503)]
    with pytest.raises(ProviderTransientError, match="503"):
        provider_for(fake, max_retries=3).fetch_candles(
            "X:SOLUSDT", TIMEFRAMES["1d"], NOW - pd.Timedelta(days=3), NOW
        )
    assert len(fake.requests()) == 4


def test_interrupted_pagination_returns_nothing_partial(fake):
    fake.faults.page_limit_cap = 100
    # the first page succeeds, then every retry of the second page fails
    provider = provider_for(fake, max_retries=1)

    async def run():
        client = provider.client
        async with client._client() as http:
            fake.faults.script = []
            first = await client.get_json(
                http,
                client.url(
                    "/v2/aggs/ticker/X:BTCUSDT/range/1/hour/0/9999999999999", {"limit": 50000}
                ),
            )
            assert "next_url" in first
            fake.faults.script = [Fault("aggs", "status", times=10, status=502)]
            return await client.aggregates(
                http, FetchRequest("X:BTCUSDT", TIMEFRAMES["1h"], NOW - pd.Timedelta(days=30), NOW)
            )

    fake.faults.script = []
    with pytest.raises(ProviderTransientError):
        asyncio.run(run())


def test_limiter_never_exceeds_the_plan_across_concurrent_clients(fake, settings):
    from candlecast.ops import redis_client

    fake.faults.rate_limit, fake.faults.rate_window_s = 4, 2.0
    limiter_args = (redis_client(settings), "candlecast:test:limit", 4, 2.0)

    def make():
        return provider_for(fake, limiter=SlidingWindowLimiter(*limiter_args), max_concurrency=4)

    requests = [
        FetchRequest(t, TIMEFRAMES["1d"], NOW - pd.Timedelta(days=3), NOW)
        for t in ("X:BTCUSDT", "X:ETHUSDT", "X:SOLUSDT", "X:BNBUSDT", "X:XRPUSDT")
    ]

    async def both():
        a, b = make(), make()
        return await asyncio.gather(a.client.fetch_many(requests), b.client.fetch_many(requests))

    results = asyncio.run(both())
    assert all(isinstance(r, pd.DataFrame) and len(r) for batch in results for r in batch)
    assert [s for _, _, s in fake.requests()].count(429) == 0
    assert fake.max_in_window(2.0) <= 4
    assert len(fake.requests()) == 10


def test_next_url_is_rebuilt_on_our_base():
    client = PolygonClient("k", "http://127.0.0.1:9")
    url = client.rebase("https://api.polygon.io/v3/reference/tickers?cursor=abc&apiKey=LEAK")
    assert str(url) == "http://127.0.0.1:9/v3/reference/tickers?cursor=abc"
    assert isinstance(url, httpx.URL)


def test_a_rate_limit_window_is_outlasted_not_counted(fake_on_clock, clock):
    fake = fake_on_clock
    fake.storm(3)  # 3 s of 429s: longer than three retries of 10 ms backoff
    start = NOW - pd.Timedelta(days=10)
    provider = provider_for(
        fake, max_retries=3, rate_limit_patience=30, clock=clock, sleep=clock.sleep
    )
    got = provider.fetch_candles("X:SOLUSDT", TIMEFRAMES["1d"], start, NOW)
    assert len(got) == len(
        drop_unclosed(expected("1d", "X:SOLUSDT", start, NOW), TIMEFRAMES["1d"], NOW)
    )
    storm = fake.storm_answers()
    answered = [t for t, _, status in fake.requests() if status == 200]
    assert len(storm) > 4 and answered[0] - storm[0] >= 3  # retried through the whole window


def test_a_window_longer_than_the_patience_fails_and_other_errors_keep_their_count(
    fake_on_clock, clock
):
    fake = fake_on_clock
    fake.storm(30, retry_after=1)
    provider = provider_for(
        fake, max_retries=2, rate_limit_patience=2, clock=clock, sleep=clock.sleep
    )
    with pytest.raises(ProviderTransientError, match="429"):
        provider.fetch_candles("X:SOLUSDT", TIMEFRAMES["1d"], NOW - pd.Timedelta(days=3), NOW)
    storm = fake.storm_answers()
    assert len(storm) == 3 and storm[-1] - storm[0] >= 2  # the patience, then one more try
    assert clock.slept == [1.0, 1.0]  # Retry-After: 1 s honoured
    fake.faults.storm_until = 0.0
    fake.faults.script = [Fault("aggs", "status", times=100, status=500)]
    before = len(fake.requests())
    with pytest.raises(ProviderTransientError, match="500"):
        provider.fetch_candles("X:SOLUSDT", TIMEFRAMES["1d"], NOW - pd.Timedelta(days=3), NOW)
    assert len(fake.requests()) - before == 3
