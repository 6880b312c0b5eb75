"""The in-process floor of one forecast, for bench_api.py: the same forecast as POST /predict
computes (fresh candles from Redis, features, model, the JSON body) in this process, no HTTP, no
storage; and the same with storage (`Forecaster.predict`: the symbol check, the prediction cache
off, the rows written). Prints JSON: p50 in ms of each, over the tickers given, in turn.

    python bench/api_floor.py 1h 1500 X:SYN0000USDT X:SYN0001USDT ...
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from candlecast.serving import build_forecaster, make_forecast, model_references
from candlecast.settings import Settings
from candlecast.timeframes import MAX_STEPS, TIMEFRAMES


def p50(samples: list[float]) -> float:
    return float(np.percentile(np.array(samples) * 1000, 50))


def main() -> None:
    code, requests, tickers = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    settings = Settings()
    forecaster = build_forecaster(settings, model_references(settings))
    timeframe, served = TIMEFRAMES[code], forecaster.models[code]

    def bare(ticker: str) -> bytes:
        window = forecaster.candles.get(ticker, timeframe)
        forecast = make_forecast(
            served.model, served.tag, window, MAX_STEPS, forecaster.inputs, served.evidence
        )
        return forecast.model_dump_json().encode()

    def stored(ticker: str) -> bytes:
        return forecaster.predict(ticker, timeframe, MAX_STEPS).model_dump_json().encode()

    figures = {}
    for name, forecast in (("floor", bare), ("floor_with_storage", stored)):
        for ticker in tickers:  # warm: candles and features as the server has them
            forecast(ticker)
        samples = []
        for i in range(requests):
            start = time.perf_counter()
            forecast(tickers[i % len(tickers)])
            samples.append(time.perf_counter() - start)
        figures[name] = p50(samples)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
