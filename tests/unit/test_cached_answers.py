"""A repeat within the prediction cache, on real Redis and PostgreSQL: answered from the series'
freshness mark and the stored answer, without the model, PostgreSQL or the candles, with the
`stale` and `data_age_seconds` the full path gives at the same clock; a copy past its recheck is
left to the full path."""

from __future__ import annotations

import json
import logging

import anyio
import pandas as pd
import pytest

from candlecast.api import NotFound, error_response
from candlecast.marketdata import SampleProvider
from candlecast.modeling import ForecastModel
from candlecast.modeling.training.calibration import no_evidence
from candlecast.ops import ConnectionPool, GuardedRedis, db, serving_redis_client
from candlecast.serving import (
    Forecaster,
    ForecastWriter,
    FreshCandles,
    LoadedModel,
    LoopAnswers,
    PredictionCache,
    candles_key,
)
from candlecast.settings import SAMPLE_DATA_DIR, Settings
from candlecast.timeframes import TIMEFRAMES

H1 = TIMEFRAMES["1h"]
TICKER, TAG = "X:BTCUSDT", "cached-answers-1h:v1"
RECHECK_SECONDS = 300


def random_walk_model() -> ForecastModel:
    """A real model without learners: the random walk a model without skill serves."""
    return ForecastModel({}, {}, "1h", [], "v2", no_evidence(), {"data_end": "2026-01-01"})


class RefusingModel(ForecastModel):
    """A model that fails the test if it is ever asked for a forecast."""

    def serving_inputs(self, features):
        raise AssertionError("the model was asked for a cached answer")

    def path_raw_z(self, inputs, steps):
        raise AssertionError("the model was asked for a cached answer")


@pytest.fixture
def local(settings, fresh_database_url):
    local = settings.model_copy(update={"database_url": fresh_database_url})
    with db.connect(local) as conn:
        conn.execute(
            "INSERT INTO symbols (ticker, name, base, quote) "
            "VALUES (%s, 'Bitcoin - Tether', 'BTC', 'USDT')",
            (TICKER,),
        )
        name, _, version = TAG.partition(":")
        conn.execute(
            "INSERT INTO models (name, version, timeframe, algorithm, feature_set_version, "
            "trained_at, n_symbols, n_train_rows) "
            "VALUES (%s, %s, '1h', 'none', 'v2', now(), 1, 1)",
            (name, version),
        )
        conn.commit()
    return local


@pytest.fixture
def redis(redis_url) -> GuardedRedis:
    client = serving_redis_client(Settings(redis_url=redis_url))
    client.flushdb()
    return GuardedRedis(client)


@pytest.fixture
def provider() -> SampleProvider:
    sample = SampleProvider(SAMPLE_DATA_DIR)
    sample.now()  # the sample's clock: the hour after its last candle
    return sample


def forecaster(local, redis, provider) -> Forecaster:
    return Forecaster(
        {"1h": LoadedModel(TAG, random_walk_model())},
        FreshCandles(provider, redis, 3600, RECHECK_SECONDS),
        ConnectionPool(local),
        PredictionCache(redis, 3600),
    )


def without_model_or_postgresql(served: Forecaster, settings) -> None:
    """The model refuses to forecast; PostgreSQL is a server that is not there."""
    served.models["1h"] = LoadedModel(TAG, RefusingModel({}, {}, "1h", [], "v2", no_evidence()))
    down = settings.model_copy(update={"database_url": "postgresql://127.0.0.1:1/candlecast"})
    served.pool = ConnectionPool(down)
    served.writer = ForecastWriter(served.pool)


def test_a_repeat_is_served_without_the_model_postgresql_or_the_candles(
    local, redis, provider, caplog
):
    served = forecaster(local, redis, provider)
    first = json.loads(served.predict_json(TICKER, H1, 30))
    assert first["cached"] is False and first["persisted"] is True
    without_model_or_postgresql(served, local)
    redis.client.delete(candles_key(TICKER, "1h"))  # the candles themselves are not needed
    with caplog.at_level(logging.WARNING):
        again = json.loads(served.predict_json(TICKER, H1, 30))
    assert again == {**first, "cached": True}  # the same forecast, the same id
    assert redis.client.exists(candles_key(TICKER, "1h")) == 0  # not read, not fetched again
    assert [r.getMessage() for r in caplog.records] == []  # nothing met a missing PostgreSQL
    other_steps = served.cached_answer(TICKER, H1, 12)
    assert other_steps is None  # another question is not this answer


def test_a_cached_answer_keeps_stale_and_data_age_as_the_full_path_gives_them(
    local, redis, provider
):
    served = forecaster(local, redis, provider)
    start = provider.now()
    served.predict(TICKER, H1, 30)  # computed and cached on the sample's last candle

    def both_paths_at(now: pd.Timestamp) -> tuple[dict | None, dict]:
        provider._now = now
        fast = served.cached_answer(TICKER, H1, 30)
        full = served.predict(TICKER, H1, 30).model_dump(mode="json")
        return (json.loads(fast) if fast is not None else None), full

    # Ten minutes later: the same candle, still the last closed one, older by ten minutes.
    fast, full = both_paths_at(start + pd.Timedelta(minutes=10))
    assert fast == full and fast["cached"] is True
    assert (fast["stale"], fast["data_age_seconds"]) == (False, 600.0)

    # Past the next close (and its grace) the copy is behind: the full path asks the provider,
    # which has nothing newer; the answer is then stale and served as such, from its mark too.
    provider._now = start + pd.Timedelta(minutes=65)
    asked = served.predict(TICKER, H1, 30)
    assert asked.cached is True and asked.stale is True
    fast, full = both_paths_at(start + pd.Timedelta(minutes=68))
    assert fast == full
    assert (fast["stale"], fast["data_age_seconds"]) == (True, 68 * 60.0)

    # Past the recheck window the mark no longer vouches for the copy: the full path answers.
    provider._now = start + pd.Timedelta(minutes=65, seconds=RECHECK_SECONDS + 1)
    assert served.cached_answer(TICKER, H1, 30) is None


@pytest.fixture
def loop_redis(redis_url) -> GuardedRedis:
    """The event loop's own client, as `LoopAnswers` makes it."""
    return GuardedRedis(serving_redis_client(Settings(redis_url=redis_url), 0.1))


def test_on_the_loop_only_a_remembered_symbol_is_answered(local, redis, provider, loop_redis):
    forecaster(local, redis, provider).predict(TICKER, H1, 30)  # computed by one worker
    worker = forecaster(local, redis, provider)  # another, that has not checked the symbol
    assert worker.cached_answer(TICKER, H1, 30, on_loop=loop_redis) is None  # no PostgreSQL
    endpoint = worker.predict_json(TICKER, H1, 30)  # checks the symbol, answers from the cache
    assert json.loads(endpoint)["cached"] is True
    assert worker.cached_answer(TICKER, H1, 30, on_loop=loop_redis) == endpoint
    down = GuardedRedis(serving_redis_client(Settings(redis_url="redis://127.0.0.1:1/0"), 0.1))
    assert worker.cached_answer(TICKER, H1, 30, on_loop=down) is None  # a miss, not an error


def test_loop_answers_read_the_body_as_the_endpoint_does(local, redis, provider, redis_url):
    served = forecaster(local, redis, provider)
    answers = LoopAnswers(Settings(redis_url=redis_url))
    body = b'{"symbol": " btcusdt", "timeframe": "1h", "steps": 30}'
    assert answers.answer(body) is None  # no forecaster handed over yet
    answers.serve(served)
    assert answers.answer(body) is None  # nothing cached yet
    served.predict(TICKER, H1, 30)
    assert answers.answer(body) == served.predict_json(TICKER, H1, 30)  # normalised as there
    last = pd.Timestamp(json.loads(answers.answer(body))["last_candle_at"])
    until = (last + pd.Timedelta(minutes=30 * 60 + 30)).isoformat()
    by_time = f'{{"symbol": "X:BTCUSDT", "timeframe": "1h", "predict_until": "{until}"}}'
    assert answers.answer(by_time.encode()) == answers.answer(body)  # 30 steps either way
    for refused in (
        b'{"symbol": "X:BTCUSDT", "timeframe": "1h", "steps": "30"}',  # strict: no coercion
        b'{"symbol": "X:BTCUSDT", "timeframe": "1h", "stpes": 30}',  # unknown field
        b'{"symbol": "X:BTCUSDT", "timeframe": "1h", "steps": 30, "predict_until": "'
        + until.encode()
        + b'"}',
        b"not json",
        b"",
        b'{"symbol": "X:BTCUSDT", "timeframe": "1h", "predict_until": "2020-01-01T00:00:00Z"}',
    ):
        assert answers.answer(refused) is None, refused  # the endpoint answers it


def test_a_miss_is_computed_on_the_workers_threads_and_errors_answered_as_the_endpoint(
    local, redis, provider, redis_url
):
    served = forecaster(local, redis, provider)
    answers = LoopAnswers(Settings(redis_url=redis_url, candlecast_api_threads=2))
    answers.serve(served)
    request = answers.request(b'{"symbol": "X:BTCUSDT", "timeframe": "1h", "steps": 5}')
    assert answers.cached(request) is None
    computed = anyio.run(answers.computed, request)
    assert computed.status_code == 200 and computed.media_type == "application/json"
    first = json.loads(computed.body)
    assert first["cached"] is False and first["persisted"] is True and len(first["steps"]) == 5
    repeat = answers.cached(request)  # the computed forecast was stored and cached
    assert json.loads(repeat) == {**first, "cached": True}
    assert answers.threads.total_tokens == 2  # CANDLECAST_API_THREADS, as the endpoint's pool

    unknown = answers.request(b'{"symbol": "X:NOPEUSDT", "timeframe": "1h"}')
    refused = anyio.run(answers.computed, unknown)
    expected = error_response(NotFound("?"))  # the endpoint's error answer, by its class
    assert refused.status_code == expected.status_code == 404
    assert json.loads(refused.body)["field"] == "symbol"
    as_of = b'{"symbol": "X:BTCUSDT", "timeframe": "1h", "as_of": "2025-01-01T00:00:00Z"}'
    assert answers.request(as_of) is None  # a question about the past: the endpoint's
