"""POST /rank's work against N single /predict calls, in process (no HTTP: the same functions the
Bento's methods call), on real PostgreSQL and Redis (embedded, in a temporary home) and N
synthetic coins served by the sample provider (1h, 1000 candles each, candles cached in Redis as
a running service has them).

    .venv/bin/python bench/bench_rank.py [--coins 500] [--runs 3]

Prints JSON, p50 in ms over the runs:
- rank_uncached: /rank when the universe's features must be computed (a worker's feature cache
  empty, the universe not in Redis);
- rank_cached: /rank when the universe is at hand (what every later /rank of the candle costs);
- rank_cached_other_worker: the same from another worker (the universe read from Redis);
- predict_each_uncached / predict_each_cached: N single /predict calls (the same coins, the
  features computed / cached), and the ratios /rank over N /predicts.
The model is a real ForecastModel serving the reversal-1 ranker: its predictions cost nothing, so
the figures are the features, candles and the ranking itself (a trained ensemble adds its
predict per coin to both sides alike).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from candlecast.marketdata import SampleProvider  # noqa: E402
from candlecast.ops import (  # noqa: E402
    ConnectionPool,
    GuardedRedis,
    db,
    embedded,
    serving_redis_client,
)
from candlecast.serving import (  # noqa: E402
    Forecaster,
    FreshCandles,
    InputCache,
    LoadedModel,
    PredictionCache,
    rank,
)
from candlecast.settings import Settings  # noqa: E402
from candlecast.timeframes import TIMEFRAMES  # noqa: E402
from tests.support.synthetic_universe import synthetic_candles, write_universe  # noqa: E402
from tests.unit.test_ranking import TAG, reversal_model  # noqa: E402

H1 = TIMEFRAMES["1h"]


def setup(home: Path, coins: int) -> tuple[Settings, Path]:
    settings = Settings(
        candlecast_home=home,
        database_url=embedded.start_postgres(home),
        redis_url=embedded.start_redis(home),
    )
    folder = write_universe(home / "universe", synthetic_candles(coins=coins, hours=1000))
    with db.connect(settings) as conn:
        for i, ticker in enumerate(sorted(p.stem for p in (folder / "1h").iterdir())):
            conn.execute(
                "INSERT INTO symbols (ticker, name, base, quote, active, volume_rank) "
                "VALUES (%s, 'synthetic', %s, 'USDT', true, %s)",
                (f"X:{ticker}", ticker, i + 1),
            )
        name, _, version = TAG.partition(":")
        conn.execute(
            "INSERT INTO models (name, version, timeframe, algorithm, feature_set_version, "
            "trained_at, n_symbols, n_train_rows) VALUES (%s, %s, '1h', 'naive', 'v2', now(), 1, 1)",
            (name, version),
        )
        conn.commit()
    return settings, folder


def worker(settings: Settings, folder: Path, redis: GuardedRedis, coins: int) -> Forecaster:
    """A fresh worker: empty feature cache and in-memory universes."""
    return Forecaster(
        {"1h": LoadedModel(TAG, reversal_model())},
        FreshCandles(SampleProvider(folder), redis, 3600, 300),
        ConnectionPool(settings),
        PredictionCache(redis, 0),
        InputCache(coins * 2),
        universe_size=coins,
    )


def warm_pool(forecaster: Forecaster) -> None:
    """A running worker's pool holds open connections and its provider knows its clock (the
    sample provider finds its "now" by reading every series once): time neither."""
    with forecaster.pool.connection() as conn:
        conn.execute("SELECT 1")
    forecaster.candles.provider.now()


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def drop_universes(redis: GuardedRedis) -> None:
    keys = redis.call("keys", "candlecast:universe:*") or []
    if keys:
        redis.call("delete", *keys)


def measure(settings: Settings, folder: Path, coins: int, runs: int) -> dict:
    redis = GuardedRedis(serving_redis_client(settings))
    tickers = [f"X:{p.stem}" for p in sorted((folder / "1h").iterdir())]
    warm = worker(settings, folder, redis, coins)
    for ticker in tickers:  # candles in Redis, as a running service holds them
        warm.candles.get(ticker, H1)
    figures: dict[str, list[float]] = {
        k: [] for k in ("rank_uncached", "rank_cached", "rank_cached_other_worker")
    }
    figures |= {"predict_each_uncached": [], "predict_each_cached": []}
    for _ in range(runs):
        drop_universes(redis)
        served = worker(settings, folder, redis, coins)
        warm_pool(served)
        figures["rank_uncached"].append(timed(lambda s=served: rank(s, H1, 6)))
        figures["rank_cached"].append(timed(lambda s=served: rank(s, H1, 6)))
        other = worker(settings, folder, redis, coins)  # another worker: from Redis, decoded
        warm_pool(other)
        figures["rank_cached_other_worker"].append(timed(lambda s=other: rank(s, H1, 6)))
        drop_universes(redis)
        single = worker(settings, folder, redis, coins)
        warm_pool(single)
        rank(single, H1, 6)  # the universe at hand, so /predict measures its own work
        single.inputs = InputCache(coins * 2)  # ... and computes its features
        figures["predict_each_uncached"].append(
            timed(lambda s=single: [s.predict(t, H1, steps=30) for t in tickers])
        )
        figures["predict_each_cached"].append(
            timed(lambda s=single: [s.predict(t, H1, steps=30) for t in tickers])
        )
    p50 = {k: float(np.median(v)) for k, v in figures.items()}
    return {
        "coins": coins,
        "runs": runs,
        **{f"{k}_ms_p50": round(v, 2) for k, v in p50.items()},
        "ratio_uncached": round(p50["rank_uncached"] / p50["predict_each_uncached"], 3),
        "ratio_cached": round(p50["rank_cached"] / p50["predict_each_cached"], 4),
    }


def main() -> None:
    # the synthetic coins' features warn where a window holds no volume yet: not what is timed
    warnings.simplefilter("ignore", RuntimeWarning)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coins", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rank-") as tmp:
        home = Path(tmp)
        try:
            settings, folder = setup(home, args.coins)
            print(json.dumps(measure(settings, folder, args.coins, args.runs)))
        finally:
            embedded.stop_redis(home)
            embedded.stop_postgres(home)


if __name__ == "__main__":
    main()
