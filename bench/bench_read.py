"""Read one timeframe of 500 symbols (1 year of 1h each) into one frame. Goal: <= 1 s.

Baseline in the same run: pandas.read_parquet per file, then concat."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from scale_data import build  # noqa: E402

from candlecast.marketdata import SampleProvider  # noqa: E402
from candlecast.ohlcv import CandleStore  # noqa: E402
from candlecast.timeframes import TIMEFRAMES  # noqa: E402

N = 500


def best_of(fn, repeat=3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    hour = TIMEFRAMES["1h"]
    root = Path(tempfile.gettempdir()) / "candlecast-bench"
    pairs = build(root / "provider", N)
    store = CandleStore(root / "store-read")
    provider = SampleProvider(root / "provider")
    now = provider.now()
    tickers = [f"X:{p}" for p in pairs]
    for ticker in tickers:
        if not store.path(ticker, hour).exists():
            frame = provider.fetch_candles(ticker, hour, hour.retention_start(now), now)
            store.write(ticker, hour, frame)
    frame = store.read_many(tickers, hour)
    ours = best_of(lambda: store.read_many(tickers, hour))
    baseline = best_of(
        lambda: pd.concat(
            [pd.read_parquet(store.path(t, hour)).assign(ticker=t) for t in tickers],
            ignore_index=True,
        )
    )
    print(
        f"read_many: {N} symbols x 1y of 1h = {len(frame):,} rows in {ours:.3f} s "
        f"(goal <= 1 s); baseline per-file pandas concat {baseline:.3f} s; "
        f"ratio {baseline / ours:.1f}x"
    )


if __name__ == "__main__":
    main()
