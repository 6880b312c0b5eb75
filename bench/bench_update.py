"""Incremental update of 500 symbols x 5 timeframes against the loopback fake provider with
50 ms added latency per request. Goal: <= 3 minutes on 2 cores.

The store starts two days behind the provider; the update runs in batches of 50 symbols, as the
`ohlcv_update` DAG's mapped tasks do. Baseline in the same run: one batch with concurrency 1.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
from scale_data import build  # noqa: E402

from candlecast.marketdata import (  # noqa: E402
    PolygonClient,
    PolygonProvider,
    SampleProvider,  # noqa: E402
)
from candlecast.ohlcv import (
    CandleStore,  # noqa: E402
    clean_candles,  # noqa: E402
)
from candlecast.ohlcv.ingest import update_many  # noqa: E402
from candlecast.timeframes import TIMEFRAMES  # noqa: E402
from tests.support.fake_provider import FakeProvider  # noqa: E402

N, BATCH, LATENCY_S, CONCURRENCY = 500, 50, 0.05, 8


def seed(store: CandleStore, source: SampleProvider, tickers: list[str], behind: pd.Timestamp):
    for ticker in tickers:
        for timeframe in TIMEFRAMES.values():
            start = timeframe.retention_start(behind)
            frame, _ = clean_candles(
                source.fetch_candles(ticker, timeframe, start, behind), timeframe, behind
            )
            store.write(ticker, timeframe, frame)


def run(store, fake, tickers, now, concurrency) -> tuple[float, dict]:
    provider = PolygonProvider(
        PolygonClient(fake.faults.api_key, fake.base_url, max_concurrency=concurrency), now=now
    )
    counts: dict[str, int] = {}
    start = time.perf_counter()
    for i in range(0, len(tickers), BATCH):
        series = [(t, tf) for t in tickers[i : i + BATCH] for tf in TIMEFRAMES.values()]
        for result in update_many(store, provider, series, now, store.root.parent / "q"):
            counts[result.status] = counts.get(result.status, 0) + 1
    return time.perf_counter() - start, counts


def main() -> None:
    root = Path(tempfile.gettempdir()) / "candlecast-bench"
    pairs = build(root / "provider", N)
    tickers = [f"X:{p}" for p in pairs]
    source = SampleProvider(root / "provider")
    now = source.now()
    behind = now - pd.Timedelta(days=2)
    store_dir = root / "store-update"
    shutil.rmtree(store_dir, ignore_errors=True)
    store = CandleStore(store_dir)
    seed(store, source, tickers, behind)
    with FakeProvider(root / "provider") as fake:
        fake.faults.latency_s = LATENCY_S
        base_time, base_counts = run(store, fake, tickers[:BATCH], now, concurrency=1)
        seed(store, source, tickers[:BATCH], behind)
        fake.log.clear()
        elapsed, counts = run(store, fake, tickers, now, CONCURRENCY)
        requests = len(fake.requests())
    per_batch = elapsed / (N / BATCH)
    print(
        f"incremental update: {N} symbols x 5 timeframes = {sum(counts.values())} series "
        f"{counts}, {requests} requests, {elapsed:.1f} s (goal <= 180 s); "
        f"{LATENCY_S * 1000:.0f} ms latency, concurrency {CONCURRENCY}"
    )
    print(
        f"baseline concurrency 1: one batch of {BATCH} symbols {base_time:.1f} s "
        f"{base_counts} vs {per_batch:.1f} s per batch now: ratio {base_time / per_batch:.1f}x"
    )


if __name__ == "__main__":
    main()
