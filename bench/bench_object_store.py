"""Read one timeframe of 500 symbols (1 year of 1h each) from the object store vs local disk.

The object store is moto in server mode on loopback (one Python process: a slow S3, so the
ratio is an upper bound of what MinIO or S3 in the same region cost); the same 500 series are
written to both stores, then each is read with `read_many` (best of 3). Prints both times and
their ratio, and the write of the whole timeframe to each."""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
from scale_data import build  # noqa: E402

from candlecast.marketdata import SampleProvider  # noqa: E402
from candlecast.ohlcv import CandleStore, open_store  # noqa: E402
from candlecast.timeframes import TIMEFRAMES  # noqa: E402
from tests.support.s3_server import S3Server  # noqa: E402

N = 500


def best_of(fn, repeat=3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    hour = TIMEFRAMES["1h"]
    root = Path(tempfile.gettempdir()) / "candlecast-bench"
    pairs = build(root / "provider", N)
    provider = SampleProvider(root / "provider")
    now = provider.now()
    tickers = [f"X:{p}" for p in pairs]
    frames = {t: provider.fetch_candles(t, hour, hour.retention_start(now), now) for t in tickers}
    local = CandleStore(Path(tempfile.mkdtemp(prefix="cc-bench-local-")))
    with S3Server(Path(tempfile.mkdtemp(prefix="cc-bench-s3-")) / "moto.log") as s3:
        os.environ.update(s3.env)
        remote = open_store(s3.create_bucket(f"bench-{uuid.uuid4().hex[:8]}") + "/store")
        write_local = timed(lambda: [local.write(t, hour, f) for t, f in frames.items()])
        write_remote = timed(lambda: [remote.write(t, hour, f) for t, f in frames.items()])
        rows = len(remote.read_many(tickers, hour))
        assert rows == len(local.read_many(tickers, hour))
        read_local = best_of(lambda: local.read_many(tickers, hour))
        read_remote = best_of(lambda: remote.read_many(tickers, hour))
    print(
        f"read_many {N} symbols x 1y of 1h = {rows:,} rows: local disk {read_local:.3f} s, "
        f"object store (moto, loopback) {read_remote:.3f} s; ratio {read_remote / read_local:.1f}x"
    )
    print(
        f"write of the timeframe, one series at a time: local {write_local:.1f} s, "
        f"object store {write_remote:.1f} s; ratio {write_remote / write_local:.1f}x"
    )


if __name__ == "__main__":
    main()
