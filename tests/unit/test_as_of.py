"""Forecasts as of a past time through the function the Bento calls (`AsOfForecasts.predict`), on
real PostgreSQL, Redis, a Parquet store and a BentoML model store: an as-of answer reads nothing
at or after `as_of` (every later candle changed, a coin listed later, the live candle cache
poisoned: the same bytes), never asks the provider, stores and caches nothing, is forecast by the
version that was champion then (while the model store holds it), and gives each closed step its
outcome. A time in the future or before retention is refused naming the field."""

from __future__ import annotations

import json
import shutil
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from candlecast.api import PredictRequest, Unprocessable, body_problems
from candlecast.marketdata import SampleProvider
from candlecast.modeling import (
    ForecastModel,
    load_version,
    releases,
    save_model,
)
from candlecast.ohlcv import CandleStore
from candlecast.ops import ConnectionPool, GuardedRedis, db, serving_redis_client
from candlecast.serving import (
    AsOfCandles,
    AsOfForecasts,
    Forecaster,
    FreshCandles,
    InputCache,
    LoadedModel,
    PredictionCache,
    candles_key,
    frame_bytes,
    make_forecast,
    rank_as_of,
)
from candlecast.settings import Settings
from candlecast.timeframes import TIMEFRAMES
from tests.support.naive_model import naive_ranker_model
from tests.support.synthetic_universe import synthetic_candles, write_store, write_universe

H1 = TIMEFRAMES["1h"]
NAMES = ["BTCUSDT", "ETHUSDT", *[f"SYN{i:02d}USDT" for i in range(2, 8)]]
AS_OF = pd.Timestamp("2022-02-08 00:00", tz="UTC")  # the data: 2022-01-03 + 900 hours
COIN = "X:SYN03USDT"
TIMING = ("generated_at",)  # when the answer was computed: the only field that may differ
OUTCOMES = ("actual", "hit", "inside_80")  # what followed: read from the later candles


def naive_model(sign: float) -> ForecastModel:
    """Reversal (-1) or momentum (+1) over the market context of BTC and ETH."""
    return naive_ranker_model(sign, "1h", {"BTC": "X:BTCUSDT", "ETH": "X:ETHUSDT"})


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The candles as the provider serves them and as the store holds them (900 hours)."""
    candles = synthetic_candles(coins=len(NAMES), hours=900, signal=0.0, seed=7)
    candles = dict(zip(NAMES, candles.values(), strict=True))
    folder = tmp_path_factory.mktemp("as-of")
    return write_universe(folder / "provider", candles), write_store(folder / "store", candles)


@pytest.fixture
def local(settings, fresh_database_url):
    """PostgreSQL with the symbols and two versions in the model store: v1 champion from
    2022-01-20, v2 (promoted 2022-02-05) the champion now."""
    local = settings.model_copy(update={"database_url": fresh_database_url})
    with db.connect(local) as conn:
        for rank, name in enumerate(NAMES, start=1):
            conn.execute(
                "INSERT INTO symbols (ticker, name, base, quote, active, volume_rank) "
                "VALUES (%s, 'synthetic', %s, 'USDT', true, %s)",
                (f"X:{name}", name.removesuffix("USDT"), rank),
            )
        conn.commit()
        v1 = save_model(local, conn, naive_model(-1.0))
        v2 = save_model(local, conn, naive_model(+1.0))
        releases.promote(conn, v2, "test", "momentum")
        conn.execute(
            "UPDATE model_releases SET created_at = CASE action WHEN 'promote' "
            "THEN timestamptz '2022-02-05' ELSE timestamptz '2022-01-20' END"
        )
        conn.commit()
    return local, v1, v2


@pytest.fixture
def redis(redis_url) -> GuardedRedis:
    client = serving_redis_client(Settings(redis_url=redis_url))
    client.flushdb()
    return GuardedRedis(client)


def worker(local, redis, provider_dir, store_root) -> AsOfForecasts:
    """One API worker: its forecaster (the champion served, the live caches on) and its as-of
    answers, as bento/service.py builds them."""
    settings, _, champion = local
    forecaster = Forecaster(
        {"1h": LoadedModel(champion, load_version(champion))},
        FreshCandles(SampleProvider(provider_dir), redis, 3600, 300, CandleStore(store_root)),
        ConnectionPool(settings),
        PredictionCache(redis, 900),
        InputCache(),
        shadow_fraction=1.0,
        universe_size=50,
    )
    return AsOfForecasts(forecaster)


def rewritten(store_root, target, provider_dir, provider_target):
    """A copy of the store whose every candle at or after AS_OF has other prices and volumes,
    with a coin listed after it; and a provider whose candles differ everywhere (what a live
    forecast would put in the Redis candle cache)."""
    shutil.copytree(store_root, target)
    shutil.copytree(provider_dir, provider_target)
    store, rng = CandleStore(target), np.random.default_rng(3)
    for ticker in store.tickers(H1):
        frame = store.read(ticker, H1)
        later = frame["timestamp"] >= AS_OF
        factor = np.exp(np.cumsum(rng.normal(0.0, 0.05, later.sum())))
        for column in ("open", "high", "low", "close", "vwap"):
            frame.loc[later, column] *= factor
        frame.loc[later, "volume"] *= rng.uniform(0.1, 10, later.sum())
        store.write(ticker, H1, frame)
        served = pd.read_parquet(provider_target / "1h" / f"{ticker[2:]}.parquet")
        served[["open", "high", "low", "close"]] *= 1.5  # before AS_OF too
        served.to_parquet(provider_target / "1h" / f"{ticker[2:]}.parquet", index=False)
    listed = store.read(COIN, H1)
    store.write("X:NEWUSDT", H1, listed[listed["timestamp"] >= AS_OF].reset_index(drop=True))
    return target, provider_target


def poison_candle_cache(asof: AsOfForecasts, redis: GuardedRedis, provider_dir) -> None:
    """The live Redis candle cache holding, as fresh, candles that differ before AS_OF too."""
    now = asof.forecaster.candles.provider.now()
    for name in NAMES:
        frame = pd.read_parquet(provider_dir / "1h" / f"{name}.parquet")
        frame = frame.assign(vwap=frame["close"], trades=float("nan"))
        payload = frame_bytes(frame, {"fetched_at": now.isoformat()})
        redis.call("set", candles_key(f"X:{name}", "1h"), payload)


def wire(forecast) -> dict:
    """The answer as sent (JSON), without its timing fields."""
    body = json.loads(forecast.model_dump_json())
    return {k: v for k, v in body.items() if k not in TIMING}


def without_outcomes(body: dict) -> bytes:
    steps = [{k: v for k, v in s.items() if k not in OUTCOMES} for s in body["steps"]]
    return json.dumps({**body, "steps": steps}, sort_keys=True).encode()


def ranking_without_outcomes(body: dict) -> bytes:
    coins = [{k: v for k, v in c.items() if k != "realised_return"} for c in body["coins"]]
    return json.dumps({**body, "coins": coins}, sort_keys=True).encode()


def counts(local) -> dict:
    with db.connect(local[0]) as conn:
        return {
            table: conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"]
            for table in ("predictions", "prediction_steps", "rankings", "prediction_outcomes")
        }


def test_an_as_of_answer_reads_nothing_at_or_after_it(local, redis, data, tmp_path):
    provider_dir, store_root = data
    first = worker(local, redis, provider_dir, store_root)
    asked = [
        (coin, steps, AS_OF + offset)
        for coin in (COIN, "X:BTCUSDT")
        for steps, offset in ((30, pd.Timedelta(0)), (7, pd.Timedelta(minutes=40)))
    ]
    original = [wire(first.predict(c, H1, s, None, a)) for c, s, a in asked]
    ranked = wire(rank_as_of(first, H1, 6, None, AS_OF))
    again = [wire(first.predict(c, H1, s, None, a)) for c, s, a in asked]
    assert again == original  # the same question, the same bytes (its id included)

    new_store, new_provider = rewritten(store_root, tmp_path / "store", provider_dir,
                                        tmp_path / "provider")  # fmt: skip
    with db.connect(local[0]) as conn:
        conn.execute(
            "INSERT INTO symbols (ticker, name, base, quote, active, volume_rank) "
            "VALUES ('X:NEWUSDT', 'listed later', 'NEW', 'USDT', true, 0)"
        )
        conn.commit()
    second = worker(local, redis, new_provider, new_store)
    poison_candle_cache(second, redis, new_provider)
    live = second.forecaster.predict(COIN, H1, steps=30)  # the live caches: prediction, inputs
    unpoisoned = CandleStore(store_root).read(COIN, H1)["close"].iloc[-1]
    assert live.persisted and live.last_close == pytest.approx(1.5 * unpoisoned)
    calls, stored = second.forecaster.candles.provider_calls, counts(local)
    changed = [wire(second.predict(c, H1, s, None, a)) for c, s, a in asked]
    reranked = wire(rank_as_of(second, H1, 6, None, AS_OF))

    assert second.forecaster.candles.provider_calls == calls  # never the provider
    assert counts(local) == stored  # nothing stored
    for before, after in zip(original, changed, strict=True):
        assert without_outcomes(before) == without_outcomes(after)
        assert after["as_of"] and after["persisted"] is False and after["universe_size"] is None
        closed = [(b, a) for b, a in zip(before["steps"], after["steps"], strict=True)
                  if b["actual"] is not None]  # fmt: skip
        assert closed and all(b["actual"] != a["actual"] for b, a in closed)  # the change landed
    assert ranking_without_outcomes(ranked) == ranking_without_outcomes(reranked)
    assert ranked["universe_size"] == len(NAMES) and ranked["ranking_id"] is None
    assert "X:NEWUSDT" not in json.dumps(reranked)  # not listed at AS_OF: not in its universe
    realised = [(b["realised_return"], a["realised_return"])
                for b, a in zip(ranked["coins"], reranked["coins"], strict=True)]  # fmt: skip
    assert all(b is not None and b != a for b, a in realised)
    # The forecast at 00:40 reads the candles closed by then: the same as at 00:00.
    assert original[1]["last_candle_at"] == original[0]["last_candle_at"]
    assert original[1]["steps"][0]["close"] == original[0]["steps"][0]["close"]
    with pytest.raises(Unprocessable, match="no 1h candle of X:NEWUSDT closed at"):
        second.predict("X:NEWUSDT", H1, None, None, AS_OF)


def test_steps_carry_what_followed_and_nothing_is_served_as_live(local, redis, data):
    provider_dir, store_root = data
    asof = worker(local, redis, provider_dir, store_root)
    stored = counts(local)
    end = asof.forecaster.candles.provider.now()
    near_end = end - pd.Timedelta(hours=10)  # 10 of its 30 steps have closed
    forecast = asof.predict(COIN, H1, None, None, near_end.to_pydatetime())
    frame = CandleStore(store_root).read(COIN, H1).set_index("timestamp")
    closed = [s for s in forecast.steps if s.actual is not None]
    assert [s.step for s in closed] == list(range(1, 11))
    assert all(s.hit is None and s.inside_80 is None for s in forecast.steps[10:])
    last = forecast.last_close
    assert last == frame.loc[forecast.last_candle_at, "close"]
    for step in closed:
        assert step.actual == frame.loc[step.timestamp, "close"]
        assert step.hit == ((step.direction == "up") == (step.actual > last))
        assert step.inside_80 == (step.close_low_80 <= step.actual <= step.close_high_80)
    assert counts(local) == stored
    cached = asof.forecaster.predictions.cache.call("keys", "candlecast:prediction:*")
    assert cached == [] and asof.forecaster.shadow_queue.submitted == 0
    assert asof.forecaster.candles.cache.call("keys", "candlecast:candles:*") == []
    assert asof.forecaster.universes.computed == 0  # no live universe computed or stored


def test_the_version_champion_at_as_of_answers_while_the_store_holds_it(local, redis, data):
    settings, v1, v2 = local
    provider_dir, store_root = data
    asof = worker(local, redis, provider_dir, store_root)
    early = asof.predict(COIN, H1, 5, None, datetime(2022, 2, 3))  # naive: UTC
    late = asof.predict(COIN, H1, 5, None, datetime(2022, 2, 8, 12))
    before = asof.predict(COIN, H1, 5, None, datetime(2022, 1, 18))
    assert (early.model, early.model_chosen) == (v1, "champion at as_of")
    assert (late.model, late.model_chosen) == (v2, "champion at as_of")
    assert (before.model, before.model_chosen) == (
        v2, "current champion: no 1h version was champion at as_of"
    )  # fmt: skip
    # v1's own forecast on the candles closed then (v2, momentum, says the opposite of v1)
    candles = AsOfCandles(
        CandleStore(store_root), early.as_of, pd.Timestamp("2030-01-01", tz="UTC")
    )
    window = candles.get(COIN, H1)
    markets = {"BTC": candles.get("X:BTCUSDT", H1), "ETH": candles.get("X:ETHUSDT", H1)}
    for tag, same in ((v1, True), (v2, False)):
        expected = make_forecast(load_version(tag), tag, window, 5, market_windows=markets)
        assert ([s.close for s in early.steps] == [s.close for s in expected.steps]) is same
    assert asof.forecaster.models["1h"].tag == v2  # what is served is unchanged
    import bentoml

    bentoml.models.delete(v1)  # pruned from the model store: the current champion says so
    gone = AsOfForecasts(asof.forecaster).predict(COIN, H1, 5, None, datetime(2022, 2, 3))
    assert gone.model == v2
    assert gone.model_chosen == f"current champion: {v1}, champion at as_of, is no longer in " \
        "the model store"  # fmt: skip


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        ("2022-02-09T00:00:00+05:00", None),
        ("2030-01-01T00:00:00Z", "is in the future"),
        ("2020-01-01T00:00:00Z", "before the store's retention of 1h candles"),
    ],
)
def test_as_of_outside_the_past_the_store_keeps_is_refused_naming_it(
    local, redis, data, as_of, message
):
    asof = worker(local, redis, *data)
    stamp = PredictRequest.model_validate_json(
        json.dumps({"symbol": COIN, "timeframe": "1h", "as_of": as_of})
    ).as_of
    if message is None:
        assert asof.predict(COIN, H1, 1, None, stamp).as_of == pd.Timestamp("2022-02-08 19:00",
                                                                            tz="UTC")  # fmt: skip
        return
    with pytest.raises(Unprocessable, match=message) as refused:
        asof.predict(COIN, H1, 1, None, stamp)
    assert refused.value.field == "as_of" and refused.value.status == 422


def test_a_malformed_as_of_is_a_400_naming_the_field():
    body = body_problems(PredictRequest, b'{"symbol": "btcusdt", "timeframe": "1h", "as_of": "x"}')
    assert body["field"] == "as_of" and "datetime" in body["error"]
    both = b'{"symbol": "btcusdt", "timeframe": "1h", "steps": 3, "as_of": "2022-02-01T00:00Z"}'
    assert body_problems(PredictRequest, both) is None


def test_an_as_of_ranking_is_over_the_universe_of_then_by_the_version_of_then(local, redis, data):
    settings, v1, _ = local
    asof = worker(local, redis, *data)
    stored = counts(local)
    at = pd.Timestamp("2022-02-03", tz="UTC")
    ranking = rank_as_of(asof, H1, 3, ["X:SYN02USDT", "X:NOPEUSDT"], at.to_pydatetime())
    whole = rank_as_of(asof, H1, 3, None, at.to_pydatetime())
    assert (ranking.model, ranking.model_chosen) == (v1, "champion at as_of")
    assert whole.universe_chosen.startswith("today's ranking")
    assert whole.last_candle_at == at - pd.Timedelta(hours=1) and whole.target_at == at + \
        pd.Timedelta(hours=2)  # fmt: skip
    percentiles = {c.symbol: c.percentile for c in whole.coins}
    assert [c.symbol for c in ranking.coins] == ["X:SYN02USDT"]
    assert ranking.coins[0].percentile == percentiles["X:SYN02USDT"]  # over the same universe
    assert [(u.symbol, u.reason) for u in ranking.unranked] == [("X:NOPEUSDT", "unknown_symbol")]
    frame = CandleStore(data[1]).read("X:SYN02USDT", H1).set_index("timestamp")
    coin = ranking.coins[0]
    assert coin.last_close == frame.loc[whole.last_candle_at, "close"]
    assert coin.realised_return == frame.loc[whole.target_at, "close"] / coin.last_close - 1.0
    with db.connect(settings) as conn:  # the universe the symbol sync recorded before then
        conn.execute(
            "INSERT INTO universe_runs (run_id, recorded_at, top_n, tickers) VALUES "
            "('then', '2022-02-01', 3, ARRAY['X:SYN04USDT', 'X:SYN05USDT', 'X:SYN06USDT'])"
        )
        conn.commit()
    then = rank_as_of(asof, H1, 3, None, at.to_pydatetime())
    assert sorted(c.symbol for c in then.coins) == ["X:SYN04USDT", "X:SYN05USDT", "X:SYN06USDT"]
    assert then.universe_chosen.startswith("the universe the symbol sync recorded at 2022-02-01")
    assert counts(local) == stored  # no ranking stored


def test_a_store_rewritten_before_as_of_is_read_again(local, redis, data, tmp_path):
    """The worker keeps what it read (the series, the serving inputs) only while the candles
    are the same: a candle before as_of corrected in the store changes the next answer."""
    provider_dir, store_root = data
    root = shutil.copytree(store_root, tmp_path / "store")
    asof = worker(local, redis, provider_dir, root)
    first = asof.predict(COIN, H1, 30, None, AS_OF)
    assert wire(asof.predict(COIN, H1, 30, None, AS_OF)) == wire(first)
    store = CandleStore(root)
    frame = store.read(COIN, H1)
    frame.loc[frame["timestamp"] == first.last_candle_at, "close"] *= 1.1
    store.write(COIN, H1, frame)
    corrected = asof.predict(COIN, H1, 30, None, AS_OF)
    assert corrected.last_close == pytest.approx(first.last_close * 1.1)
    assert corrected.steps[0].close != first.steps[0].close
