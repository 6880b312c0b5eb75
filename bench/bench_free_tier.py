"""Free tier: 5 requests a minute, never exceeded, even by two concurrent clients.

Two provider instances (as two Airflow tasks would be) share the Redis limiter and fetch 6
series each through the loopback fake, which enforces 5 requests per rolling 60 s with 429s.
Prints the most requests the fake saw in any 60 s window, and the 429s it had to send."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parents[1]))
from candlecast.marketdata import (
    FetchRequest,  # noqa: E402
    PolygonClient,  # noqa: E402
    SlidingWindowLimiter,  # noqa: E402
)
from candlecast.ops import embedded  # noqa: E402
from candlecast.settings import SAMPLE_DATA_DIR  # noqa: E402
from candlecast.timeframes import TIMEFRAMES  # noqa: E402
from tests.support.fake_provider import FakeProvider  # noqa: E402

LIMIT, WINDOW_S, PER_CLIENT = 5, 60.0, 6


def main() -> None:
    import redis

    home = Path(tempfile.mkdtemp(prefix="cc-bench-"))
    url = embedded.start_redis(home)
    try:
        with FakeProvider(SAMPLE_DATA_DIR) as fake:
            fake.faults.rate_limit, fake.faults.rate_window_s = LIMIT, WINDOW_S
            end = pd.Timestamp("2025-09-19", tz="UTC")
            days = [end - pd.Timedelta(days=d) for d in range(2 * PER_CLIENT)]
            requests = [
                FetchRequest("X:BTCUSDT", TIMEFRAMES["1d"], d - pd.Timedelta(days=1), d)
                for d in days
            ]

            def client():
                limiter = SlidingWindowLimiter(
                    redis.Redis.from_url(url), "bench:free", LIMIT, WINDOW_S
                )
                return PolygonClient(
                    fake.faults.api_key,
                    fake.base_url,
                    limiter=limiter,
                    max_concurrency=3,
                    backoff_seconds=1.0,
                )

            async def both():
                return await asyncio.gather(
                    client().fetch_many(requests[:PER_CLIENT]),
                    client().fetch_many(requests[PER_CLIENT:]),
                )

            start = time.perf_counter()
            results = asyncio.run(both())
            elapsed = time.perf_counter() - start
            ok = sum(isinstance(r, pd.DataFrame) for batch in results for r in batch)
            statuses = [s for _, _, s in fake.requests()]
            print(
                f"free tier {LIMIT}/min: {ok}/{len(requests)} series fetched by 2 concurrent "
                f"clients in {elapsed:.0f} s; most requests in any {WINDOW_S:.0f} s window: "
                f"{fake.max_in_window(WINDOW_S)} (limit {LIMIT}); 429s: {statuses.count(429)}"
            )
    finally:
        embedded.stop_redis(home)


if __name__ == "__main__":
    main()
