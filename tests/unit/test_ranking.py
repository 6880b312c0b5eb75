"""The ranking and the relative fields, on real Redis and PostgreSQL: a universe of synthetic
coins served by the sample provider, ranked by a real (naive) learner. /rank and /predict agree
at the same candle (one computation of the universe, shared across workers through Redis); a
coin with too little history or without candles is listed apart, never ranked; a horizon
without relative skill ranks nobody and says 0.5; stored rankings are scored once their target
candle closes, and /accuracy shows them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from candlecast.api import AccuracyRequest, accuracy_from_tables
from candlecast.marketdata import SampleProvider
from candlecast.modeling import FEATURE_SET_VERSION, Calibration, ForecastModel, mid_percentile
from candlecast.modeling.naive_rankers import NaiveRanker
from candlecast.monitoring import RealisedCandles
from candlecast.monitoring.ranking_outcomes import score_rankings
from candlecast.ohlcv import CandleStore
from candlecast.ops import ConnectionPool, GuardedRedis, db, serving_redis_client
from candlecast.serving import (
    Forecaster,
    FreshCandles,
    InputCache,
    LoadedModel,
    PredictionCache,
    rank,
    ranking_table,
    universe_key,
)
from candlecast.serving.relative_steps import Universe
from candlecast.serving.shared_inputs import SharedInputCache
from candlecast.settings import Settings
from candlecast.timeframes import TIMEFRAMES
from tests.support.synthetic_universe import synthetic_candles, write_universe

H1 = TIMEFRAMES["1h"]
TAG = "ranking-1h:v1"
COINS = 8
SHORT = "X:SYN08USDT"  # a listing with 30 candles: too little history
UNSKILLED_FROM = 25  # horizons 25-30 have no relative skill


def reversal_model() -> ForecastModel:
    """A real model serving the reversal-1 ranker, with relative skill at horizons 1-24."""
    ranker = NaiveRanker(1, np.full(30, -1.0), 0.01, ["ret_1"])
    skilled = [h < UNSKILLED_FROM for h in range(1, 31)]
    calibration = Calibration(
        slope=[0.1] * 30,
        skill=[False] * 30,
        confidence_scale=0.0,
        residual_q10=[-1.28] * 30,
        residual_q90=[1.28] * 30,
        evidence=[{"n": 100, "skill": False, "relative_skill": s} for s in skilled],
        relative_skill=skilled,
        outperform_scale=[1.5 if s else 0.0 for s in skilled],
    )
    return ForecastModel(
        {ranker.name: ranker}, {ranker.name: [1.0] * 30}, "1h", ["ret_1"], FEATURE_SET_VERSION,
        calibration,
    )  # fmt: skip


@pytest.fixture(scope="module")
def universe_dir(tmp_path_factory):
    candles = synthetic_candles(coins=COINS + 2, hours=800, signal=0.0, seed=5)
    candles["SYN08USDT"] = candles["SYN08USDT"].iloc[-30:].reset_index(drop=True)
    return write_universe(tmp_path_factory.mktemp("ranking") / "universe", candles)


@pytest.fixture
def local(settings, fresh_database_url):
    local = settings.model_copy(update={"database_url": fresh_database_url})
    with db.connect(local) as conn:
        for i in range(COINS + 1):
            conn.execute(
                "INSERT INTO symbols (ticker, name, base, quote, active, volume_rank) "
                "VALUES (%s, 'synthetic', %s, 'USDT', true, %s)",
                (f"X:SYN{i:02d}USDT", f"SYN{i:02d}", i + 1),
            )
        conn.execute(  # a coin outside the universe (no rank)
            "INSERT INTO symbols (ticker, name, base, quote, active) "
            "VALUES ('X:SYN09USDT', 'outside', 'SYN09', 'USDT', true)"
        )
        name, _, version = TAG.partition(":")
        conn.execute(
            "INSERT INTO models (name, version, timeframe, algorithm, feature_set_version, "
            "trained_at, n_symbols, n_train_rows) VALUES (%s, %s, '1h', 'naive', 'v2', now(), 1, 1)",
            (name, version),
        )
        conn.commit()
    return local


@pytest.fixture
def redis(redis_url) -> GuardedRedis:
    client = serving_redis_client(Settings(redis_url=redis_url))
    client.flushdb()
    return GuardedRedis(client)


def worker(local, redis, folder, now=None, inputs: InputCache | None = None) -> Forecaster:
    """One API worker's forecaster (its own in-memory caches), on the shared Redis."""
    provider = SampleProvider(folder, now)
    return Forecaster(
        {"1h": LoadedModel(TAG, reversal_model())},
        FreshCandles(provider, redis, 3600, 300),
        ConnectionPool(local),
        PredictionCache(redis, 0),
        inputs or InputCache(),
        universe_size=50,
    )


class CountedInputs(SharedInputCache):
    """The shared input cache, counting the series whose inputs it built itself."""

    built = 0

    def _build_and_share(self, key, build):
        self.built += 1
        return super()._build_and_share(key, build)


def test_the_ranking_and_the_forecasts_agree_at_the_same_candle(local, redis, universe_dir):
    served = worker(local, redis, universe_dir)
    ranking = rank(served, H1, 6)
    assert ranking.relative_skill == "validated" and ranking.universe_size == COINS
    assert [c.rank for c in ranking.coins] == list(range(1, COINS + 1))
    z = [c.relative_z for c in ranking.coins]
    assert z == sorted(z, reverse=True) and len(set(z)) == COINS  # the coins differ
    assert [c.percentile for c in ranking.coins] == sorted(
        (c.percentile for c in ranking.coins), reverse=True
    )
    assert np.mean(z) == pytest.approx(0.0, abs=1e-9)  # relative to the universe's mean
    p = [c.p_outperform for c in ranking.coins]
    assert p == sorted(p, reverse=True) and p[0] > 0.5 > p[-1]
    for coin in ranking.coins:
        forecast = served.predict(coin.symbol, H1, steps=30)
        step = forecast.steps[5]
        assert forecast.last_candle_at == ranking.last_candle_at
        assert forecast.universe_size == COINS
        assert step.relative_z == coin.relative_z
        assert step.percentile == coin.percentile
        assert step.p_outperform == coin.p_outperform
        unskilled = forecast.steps[UNSKILLED_FROM - 1]
        assert unskilled.percentile is None and unskilled.p_outperform == 0.5
    assert served.universes.computed == 1  # /rank and every /predict: one universe


def test_a_coin_without_history_or_candles_is_listed_apart_never_ranked(local, redis, universe_dir):
    served = worker(local, redis, universe_dir)
    ranking = rank(served, H1, 1)
    apart = {u.symbol: u.reason for u in ranking.unranked}
    assert apart == {SHORT: "too_little_history"}
    assert SHORT not in {c.symbol for c in ranking.coins}
    asked = rank(served, H1, 1, [SHORT, "X:NOSUCHUSDT", "X:SYN09USDT", "X:SYN01USDT"])
    assert {u.symbol: u.reason for u in asked.unranked} == {
        SHORT: "too_little_history",
        "X:NOSUCHUSDT": "unknown_symbol",
    }
    shown = {c.symbol: c for c in asked.coins}
    assert set(shown) == {"X:SYN09USDT", "X:SYN01USDT"}
    assert not shown["X:SYN09USDT"].in_universe and shown["X:SYN01USDT"].in_universe
    whole = {c.symbol: c for c in ranking.coins}
    assert shown["X:SYN01USDT"].percentile == whole["X:SYN01USDT"].percentile


def test_a_horizon_without_relative_skill_ranks_nobody_at_one_half(local, redis, universe_dir):
    ranking = rank(worker(local, redis, universe_dir), H1, UNSKILLED_FROM)
    assert ranking.relative_skill == "none" and len(ranking.coins) == COINS
    assert all(c.rank is None and c.percentile is None for c in ranking.coins)
    assert all(c.p_outperform == 0.5 for c in ranking.coins)
    assert "relative skill none" in ranking_table(ranking)


def test_workers_share_one_universe_through_redis(local, redis, universe_dir):
    first, second = (worker(local, redis, universe_dir) for _ in range(2))
    a = rank(first, H1, 3)
    b = rank(second, H1, 3)
    assert not a.cached and b.cached
    assert (first.universes.computed, second.universes.computed) == (1, 0)
    assert [c.model_dump() for c in a.coins] == [c.model_dump() for c in b.coins]
    assert a.ranking_id == b.ranking_id  # stored once per version, horizon and candle
    with db.connect(local) as conn:
        stored = conn.execute("SELECT count(*) AS n FROM rankings").fetchone()["n"]
    assert stored == 1


def test_after_the_universe_pass_a_coins_first_forecast_on_another_worker_computes_nothing(
    local, redis, universe_dir
):
    """The pass on one worker shares every ranked coin's candles and serving inputs through
    Redis: the other worker's first forecast of a coin reads both and computes no features, and
    serves what the first worker would."""
    first = worker(local, redis, universe_dir, inputs=CountedInputs(redis, 64))
    second = worker(local, redis, universe_dir, inputs=CountedInputs(redis, 64))
    ranking = rank(first, H1, 1)
    assert first.inputs.built == COINS  # the short listing has no inputs to build
    shared = sorted(k.decode() for k in redis.client.scan_iter("candlecast:inputs:*"))
    assert len(shared) == COINS and all(f":{TAG}:" in k for k in shared)
    coin = ranking.coins[3].symbol
    theirs, ours = second.predict(coin, H1, steps=30), first.predict(coin, H1, steps=30)
    assert second.inputs.built == 0 and second.universes.computed == 0
    assert second.candles.provider_calls == 0  # the candles were cached by the pass
    varying = {"prediction_id", "generated_at", "cached"}
    assert theirs.model_dump(exclude=varying) == ours.model_dump(exclude=varying)


def test_stored_rankings_are_scored_once_their_candles_close(local, redis, universe_dir):
    end = SampleProvider(universe_dir).now()
    then = end - pd.Timedelta(hours=12)  # the ranking is made 12 hours before the data's end
    ranking = rank(worker(local, redis, universe_dir, then), H1, 6)
    assert ranking.ranking_id is not None
    early = RealisedCandles(
        CandleStore(universe_dir / "no-store"), SampleProvider(universe_dir, then), then
    )
    with db.connect(local) as conn:
        assert score_rankings(conn, early) == {"due": 0, "scored": 0, "waiting": 0}
        later = RealisedCandles(
            CandleStore(universe_dir / "no-store"), SampleProvider(universe_dir, end), end
        )
        assert score_rankings(conn, later)["scored"] == 1
        assert score_rankings(conn, later)["due"] == 0  # settled: a re-run writes nothing
        conn.commit()
        outcome = conn.execute("SELECT * FROM ranking_outcomes").fetchone()
        report = accuracy_from_tables(conn, AccuracyRequest(timeframe="1h"), end, fee=0.001)
    closes = {c.symbol: c.last_close for c in ranking.coins}
    realised = {}
    for symbol, close in closes.items():
        frame = SampleProvider(universe_dir, end).fetch_candles(symbol, H1, ranking.target_at, end)
        realised[symbol] = (
            frame.loc[frame["timestamp"] == ranking.target_at, "close"].iloc[0] / close - 1
        )
    order = [c.symbol for c in ranking.coins]
    expected_spread = np.mean([realised[s] for s in order[:1]]) - np.mean(
        [realised[s] for s in order[-1:]]
    )  # 8 coins: a fifth is one coin
    assert outcome["coins"] == COINS
    assert outcome["spread"] == pytest.approx(expected_spread)
    assert -1 <= outcome["rank_ic"] <= 1
    (row,) = report.rankings
    assert (row.horizon, row.rankings) == (6, 1)
    assert row.spread_net == pytest.approx(expected_spread - 0.004)


def test_a_universe_computed_while_the_candle_is_published_is_kept_for_seconds(
    local, redis, tmp_path
):
    """Most coins' newest candle is the one before (the provider still publishing, within the
    grace freshness allows): they are listed apart, and that universe is kept for seconds, not
    for the candle's life."""
    candles = synthetic_candles(coins=COINS + 2, hours=800, signal=0.0, seed=5)
    for pair in list(candles)[2:]:
        candles[pair] = candles[pair].iloc[:-1]
    served = worker(local, redis, write_universe(tmp_path / "lagging", candles))
    first = rank(served, H1, 1)
    assert len(first.coins) == 2
    assert {u.reason for u in first.unranked} == {"no_fresh_candle"}
    assert len(first.unranked) == COINS - 2 + 1  # the short listing is behind too
    key = universe_key(TAG, "1h", first.last_candle_at)
    assert 0 < redis.call("ttl", key) <= 30
    assert rank(served, H1, 1).cached  # within those seconds, read from Redis
    redis.call("delete", key)  # they passed: no copy in the worker's memory either
    assert not rank(served, H1, 1).cached
    assert served.universes.computed == 2


def test_a_steps_percentiles_are_each_horizons_mid_percentile_ties_included():
    rng = np.random.default_rng(4)
    raw = np.round(rng.normal(size=(40, 30)), 1)  # rounded: many ties
    universe = Universe(
        TAG, "1h", pd.Timestamp("2021-01-01", tz="UTC"), pd.Timestamp("2021-01-01", tz="UTC"),
        tuple(f"X:C{i:02d}USDT" for i in range(40)), np.ones(40), raw,
    )  # fmt: skip
    for z in (universe.relative[7], np.round(rng.normal(size=30), 1), np.full(12, 9.0)):
        expected = [mid_percentile(z[i], universe.relative[:, i])[()] for i in range(len(z))]
        assert universe.percentiles(z).tolist() == expected
    with_nan = universe.relative[3].copy()
    with_nan[5] = np.nan
    expected = [mid_percentile(v, universe.relative[:, i])[()] for i, v in enumerate(with_nan)]
    assert universe.percentiles(with_nan).tolist() == pytest.approx(expected, nan_ok=True)
