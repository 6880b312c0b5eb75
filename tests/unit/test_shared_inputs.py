"""Serving inputs shared through Redis: read back exactly as built (no pickle: a payload of
another form is refused, not run), built once per key across workers, and the worker's own
cache when Redis is down; size 0 builds every time and shares nothing."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import redis as redis_lib

from candlecast.marketdata import SampleProvider
from candlecast.ops import GuardedRedis, serving_redis_client
from candlecast.serving import FreshCandles
from candlecast.serving.forecast import series_inputs
from candlecast.serving.shared_inputs import SharedInputCache, inputs_bytes, inputs_from_bytes
from candlecast.settings import Settings
from candlecast.timeframes import TIMEFRAMES
from tests.support.synthetic_universe import synthetic_candles, write_universe
from tests.unit.test_ranking import TAG, reversal_model

H1 = TIMEFRAMES["1h"]
KEY = ("X:SYN00USDT", "1h", "2021-01-01T00:00", 500, TAG, ())


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = write_universe(
        tmp_path_factory.mktemp("inputs") / "universe",
        synthetic_candles(coins=2, hours=700, signal=0.0, seed=7),
    )
    candles = FreshCandles(SampleProvider(folder), GuardedRedis(_dead()), 3600, 300)
    return series_inputs(reversal_model(), TAG, candles.get("X:SYN00USDT", H1))


@pytest.fixture
def redis(redis_url) -> GuardedRedis:
    client = serving_redis_client(Settings(redis_url=redis_url))
    client.flushdb()
    return GuardedRedis(client)


def _dead() -> redis_lib.Redis:
    return redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)


def _same(a, b) -> bool:
    return np.array_equal(a.model_inputs.matrix, b.model_inputs.matrix, equal_nan=True) and (
        dataclasses.replace(a, model_inputs=None) == dataclasses.replace(b, model_inputs=None)
        and a.model_inputs.series_start == b.model_inputs.series_start
        and a.model_inputs.sigma == b.model_inputs.sigma
    )


def test_inputs_read_back_exactly_as_built(built):
    back = inputs_from_bytes(inputs_bytes(built))
    assert back.model_inputs.matrix.dtype == np.float32
    assert _same(back, built) and back.opens[0].tzinfo is not None
    assert len(back.opens) == 30 and back.indicators == built.indicators


def test_a_payload_of_another_form_is_refused_not_run(built):
    with pytest.raises(ValueError, match="not serving inputs"):
        inputs_from_bytes(b"\x00\x00\x00\x02{}" + b"\x00" * 8)
    with pytest.raises(ValueError):
        inputs_from_bytes(b"\x80\x04\x95 a pickle")


def test_a_key_is_built_once_across_workers_then_read(redis, built):
    builds = []

    def build():
        builds.append(1)
        return built

    first, second = SharedInputCache(redis, 16), SharedInputCache(redis, 16)
    assert _same(first.get(KEY, build), built)
    assert _same(second.get(KEY, build), built) and len(builds) == 1
    assert redis.call("ttl", next(redis.client.scan_iter("candlecast:inputs:*"))) > 0
    other_version = (*KEY[:4], "ranking-1h:v2", ())
    second.get(other_version, build)
    assert len(builds) == 2  # another version never reads this one's inputs


def test_an_unreadable_entry_is_built_again_and_replaced(redis, built):
    cache = SharedInputCache(redis, 16)
    cache.get(KEY, lambda: built)
    (key,) = list(redis.client.scan_iter("candlecast:inputs:*"))
    redis.call("set", key, b"garbage")
    assert _same(SharedInputCache(redis, 16).get(KEY, lambda: built), built)
    assert _same(inputs_from_bytes(redis.call("get", key)), built)


def test_without_redis_it_is_the_workers_own_cache(built):
    builds = []
    cache = SharedInputCache(GuardedRedis(_dead()), 16)
    for _ in range(3):
        cache.get(KEY, lambda: builds.append(1) or built)
    assert len(builds) == 1


def test_size_zero_builds_every_time_and_shares_nothing(redis, built):
    builds = []
    cache = SharedInputCache(redis, 0)
    for _ in range(2):
        cache.get(KEY, lambda: builds.append(1) or built)
    assert len(builds) == 2 and list(redis.client.scan_iter("candlecast:inputs:*")) == []
