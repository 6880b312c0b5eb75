"""Feature computation for one forecast request (the serving window of real 1h candles).
Goal: <= 5 ms. Baseline in the same run: the seeds' recursive approach, which recomputes the
features once per forecast step (30 times)."""

from __future__ import annotations

import time

import pandas as pd

from candlecast.candles import SERVING_CANDLES
from candlecast.features import compute_features
from candlecast.marketdata.sample import SampleProvider
from candlecast.settings import SAMPLE_DATA_DIR
from candlecast.timeframes import TIMEFRAMES

REPEAT = 30


def main() -> None:
    sample = SampleProvider(SAMPLE_DATA_DIR)
    hour = TIMEFRAMES["1h"]
    now = sample.now()
    candles = sample.fetch_candles(
        "X:BTCUSDT", hour, now - pd.Timedelta(hours=SERVING_CANDLES), now
    )
    compute_features(candles, hour)  # warm-up: imports, numba compilation in pandas-ta
    start = time.perf_counter()
    for _ in range(REPEAT):
        compute_features(candles, hour)
    direct = (time.perf_counter() - start) / REPEAT * 1000
    start = time.perf_counter()
    for _ in range(3):
        for _step in range(30):  # recursive: append the predicted candle, recompute, repeat
            compute_features(candles, hour)
    recursive = (time.perf_counter() - start) / 3 * 1000
    print(
        f"features for one request ({len(candles)} candles, "
        f"{compute_features(candles, hour).shape[1]} features): direct {direct:.1f} ms "
        f"(goal <= 5 ms); recursive 30-step baseline {recursive:.0f} ms; ratio "
        f"{recursive / direct:.0f}x"
    )


if __name__ == "__main__":
    main()
