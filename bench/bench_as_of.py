"""An as-of /predict against a live uncached one, in process (no HTTP: the functions the Bento's
method calls, `AsOfForecasts.predict` and `Forecaster.predict`), on real PostgreSQL and Redis
(embedded, in a temporary home), synthetic 1h coins in the Parquet store and served by the sample
provider (the live side's candles cached in Redis, as a running service has them).

    .venv/bin/python bench/bench_as_of.py [--coins 20] [--hours 4000] [--calls 60] [--runs 3]

Prints JSON, p50 in ms of single calls (median over the runs of each run's p50):
- live_uncached: /predict with the prediction cache off (the forecast computed and stored; its
  candles from Redis and its features from the worker's cache, as a repeat on the same candle);
- as_of_repeat: /predict with the same as_of again (the store read and cut, the serving inputs
  from the content-keyed cache, outcomes read, nothing stored);
- as_of_cold: a different as_of each call (features computed too);
and the ratios to live_uncached (issue 24's goal: as_of within 2x). The model serves the
reversal-1 ranker (tests/unit/test_ranking.py), so its predict costs nothing on either side.
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
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from candlecast.marketdata import SampleProvider  # noqa: E402
from candlecast.ohlcv import CandleStore  # noqa: E402
from candlecast.ops import ConnectionPool, GuardedRedis, db, embedded, serving_redis_client  # noqa: E402
from candlecast.serving import (  # noqa: E402
    AsOfForecasts,
    Forecaster,
    FreshCandles,
    InputCache,
    LoadedModel,
    PredictionCache,
)
from candlecast.settings import Settings  # noqa: E402
from candlecast.timeframes import TIMEFRAMES  # noqa: E402
from tests.support.synthetic_universe import (  # noqa: E402
    synthetic_candles,
    write_store,
    write_universe,
)
from tests.unit.test_ranking import TAG, reversal_model  # noqa: E402

H1 = TIMEFRAMES["1h"]


def setup(home: Path, coins: int, hours: int) -> tuple[Settings, Path, Path]:
    settings = Settings(
        candlecast_home=home,
        database_url=embedded.start_postgres(home),
        redis_url=embedded.start_redis(home),
    )
    candles = synthetic_candles(coins=coins, hours=hours)
    folder = write_universe(home / "universe", candles)
    store = write_store(home / "store", candles)
    with db.connect(settings) as conn:
        for i, pair in enumerate(sorted(candles)):
            conn.execute(
                "INSERT INTO symbols (ticker, name, base, quote, active, volume_rank) "
                "VALUES (%s, 'synthetic', %s, 'USDT', true, %s)",
                (f"X:{pair}", pair, i + 1),
            )
        name, _, version = TAG.partition(":")
        conn.execute(
            "INSERT INTO models (name, version, timeframe, algorithm, feature_set_version, "
            "trained_at, n_symbols, n_train_rows) VALUES (%s, %s, '1h', 'naive', 'v2', now(), 1, 1)",
            (name, version),
        )
        conn.commit()
    return settings, folder, store


def worker(settings: Settings, folder: Path, store: Path, redis: GuardedRedis) -> Forecaster:
    return Forecaster(
        {"1h": LoadedModel(TAG, reversal_model())},
        FreshCandles(SampleProvider(folder), redis, 3600, 300, CandleStore(store)),
        ConnectionPool(settings),
        PredictionCache(redis, 0),  # off: every live call computes and stores its forecast
        InputCache(),
        universe_size=100,
    )


def p50_ms(function, arguments: list[tuple]) -> float:
    """p50 of `function(*args)` over the argument tuples, one call each."""
    spent = []
    for args in arguments:
        start = time.perf_counter()
        function(*args)
        spent.append((time.perf_counter() - start) * 1000)
    return float(np.median(spent))


def measure(settings: Settings, folder: Path, store: Path, calls: int, runs: int) -> dict:
    redis = GuardedRedis(serving_redis_client(settings))
    tickers = [f"X:{p.stem}" for p in sorted((folder / "1h").iterdir())]
    asked = [tickers[i % len(tickers)] for i in range(calls)]
    figures: dict[str, list[float]] = {"live_uncached": [], "as_of_repeat": [], "as_of_cold": []}
    for _ in range(runs):
        served = worker(settings, folder, store, redis)
        past = AsOfForecasts(served)
        now = served.candles.provider.now()
        for ticker in tickers:  # candles, features and the universe at hand, as when running
            served.predict(ticker, H1, steps=30)
        figures["live_uncached"].append(p50_ms(served.predict, [(t, H1, 30) for t in asked]))
        at = (now - pd.Timedelta(days=20)).to_pydatetime()
        for ticker in tickers:
            past.predict(ticker, H1, 30, None, at)
        figures["as_of_repeat"].append(p50_ms(past.predict, [(t, H1, 30, None, at) for t in asked]))
        times = [(now - pd.Timedelta(hours=30 + i)).to_pydatetime() for i in range(calls)]
        cold = [(t, H1, 30, None, a) for t, a in zip(asked, times, strict=True)]
        figures["as_of_cold"].append(p50_ms(past.predict, cold))
    p50 = {k: float(np.median(v)) for k, v in figures.items()}
    return {
        "coins": len(tickers),
        "calls": calls,
        "runs": runs,
        **{f"{k}_ms_p50": round(v, 2) for k, v in p50.items()},
        "ratio_as_of_repeat": round(p50["as_of_repeat"] / p50["live_uncached"], 2),
        "ratio_as_of_cold": round(p50["as_of_cold"] / p50["live_uncached"], 2),
        "goal_ratio": 2.0,
    }


def main() -> None:
    warnings.simplefilter("ignore", RuntimeWarning)  # synthetic volumes' empty windows
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coins", type=int, default=20)
    parser.add_argument("--hours", type=int, default=4000)
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-as-of-") as tmp:
        home = Path(tmp)
        try:
            settings, folder, store = setup(home, args.coins, args.hours)
            print(json.dumps(measure(settings, folder, store, args.calls, args.runs)))
        finally:
            embedded.stop_redis(home)
            embedded.stop_postgres(home)


if __name__ == "__main__":
    main()
