"""Feature computation for one forecast request (the last 300 real 1h candles).
Goal: <= 5 ms. Baseline in the same run: the seeds' recursive approach, which appends each
predicted candle and recomputes the features once per forecast step (30 times). Also times a
whole 1h history (training). `--against REV` times features.py as of a git revision beside
the current code, in the same run (e.g. `--against HEAD~1` for before/after figures)."""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from candlecast.marketdata import SampleProvider
from candlecast.modeling import MarketContext, compute_features
from candlecast.settings import SAMPLE_DATA_DIR
from candlecast.timeframes import TIMEFRAMES

REQUEST_CANDLES = 300
HORIZON = 30
REQUEST_RUNS = 300
RECURSIVE_RUNS = 7
HISTORY_RUNS = 5
# Where the features module is at a revision: in modeling/ since the concern packages.
FEATURES_PATHS = ("include/candlecast/modeling/features.py", "include/candlecast/features.py")

FeatureFunction = Callable[[pd.DataFrame, object], pd.DataFrame]


class Timing:
    """Medians of wall time and of this thread's CPU time (the CPU figure is the steadier one
    when other work shares the two cores)."""

    def __init__(self, action: Callable[[], object], runs: int) -> None:
        walls, cpus = [], []
        for _ in range(runs):
            wall, cpu = time.perf_counter(), time.thread_time()
            action()
            cpus.append(time.thread_time() - cpu)
            walls.append(time.perf_counter() - wall)
        self.wall_ms = statistics.median(walls) * 1000
        self.cpu_ms = statistics.median(cpus) * 1000

    def __str__(self) -> str:
        return f"{self.wall_ms:.2f} ms wall ({self.cpu_ms:.2f} ms CPU)"


def next_flat_candle(candles: pd.DataFrame) -> pd.DataFrame:
    """A stand-in prediction: the next candle flat at the last close (the values do not
    change the cost of recomputing the features)."""
    last = candles.iloc[-1]
    step = candles["timestamp"].iloc[-1] - candles["timestamp"].iloc[-2]
    row = {column: last[column] for column in candles.columns}
    row.update(timestamp=last["timestamp"] + step, open=last["close"], high=last["close"])
    row.update(low=last["close"], volume=0.0)
    return pd.DataFrame([row]).astype(candles.dtypes.to_dict())


def recursive_forecast(features: FeatureFunction, candles: pd.DataFrame, timeframe) -> None:
    for _ in range(HORIZON):
        features(candles, timeframe)
        candles = pd.concat([candles, next_flat_candle(candles)], ignore_index=True)


def load_features_at(revision: str) -> FeatureFunction:
    for features_path in FEATURES_PATHS:
        shown = subprocess.run(
            ["git", "show", f"{revision}:{features_path}"], capture_output=True, text=True
        )
        if shown.returncode == 0:
            break
    else:
        raise SystemExit(f"no features module at revision {revision}")
    source = shown.stdout
    path = Path(tempfile.mkdtemp()) / "features_at_revision.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("features_at_revision", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.compute_features


def report(label: str, features: FeatureFunction, request, history, timeframe) -> Timing:
    features(request, timeframe)  # warm-up: imports, numba compilation in pandas-ta
    direct = Timing(lambda: features(request, timeframe), REQUEST_RUNS)
    recursive = Timing(lambda: recursive_forecast(features, request, timeframe), RECURSIVE_RUNS)
    whole = Timing(lambda: features(history, timeframe), HISTORY_RUNS)
    print(f"{label}:")
    print(f"  one request ({len(request)} candles): {direct} (goal <= 5 ms)")
    print(
        f"  seeds' recursive {HORIZON}-step request: {recursive}; "
        f"{recursive.wall_ms / direct.wall_ms:.0f}x the direct request"
    )
    print(f"  whole 1h history ({len(history)} candles, training): {whole}")
    return direct


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--against", metavar="REV", help="also time features.py at REV")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # log of negative indicator values: NaN by design
    sample = SampleProvider(SAMPLE_DATA_DIR)
    hour = TIMEFRAMES["1h"]
    history = sample.fetch_candles(
        "X:BTCUSDT", hour, pd.Timestamp("2000-01-01", tz="UTC"), sample.now()
    )
    request = history.iloc[-REQUEST_CANDLES:].reset_index(drop=True)
    current = report("current", compute_features, request, history, hour)
    benchmarks = {
        base: sample.fetch_candles(
            f"X:{base}USDT", hour, request["timestamp"].iloc[0], sample.now()
        )
        for base in ("BTC", "ETH")
    }
    context = MarketContext.from_candles(benchmarks)
    with_market = Timing(lambda: compute_features(request, hour, context), REQUEST_RUNS)
    print(
        f"  with the market context (BTC, ETH): {with_market}; "
        f"{with_market.wall_ms / current.wall_ms:.2f}x the coin's own features"
    )
    whole = forecast_timing(request, hour)
    recursive = Timing(lambda: recursive_forecast(compute_features, request, hour), RECURSIVE_RUNS)
    print(
        f"  (goal <= 5 ms) the seeds' recursive 30 steps cost "
        f"{recursive.wall_ms / whole.wall_ms:.0f}x the whole direct forecast"
    )
    if args.against:
        before = report(args.against, load_features_at(args.against), request, history, hour)
        print(
            f"request speed-up over {args.against}: {before.wall_ms / current.wall_ms:.1f}x "
            f"wall, {before.cpu_ms / current.cpu_ms:.1f}x CPU"
        )


def forecast_timing(request: pd.DataFrame, hour) -> Timing:
    """Features + the whole 30-step forecast (every learner of a model trained here on a small
    synthetic universe, calibration, OHLC path) for one request."""
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from candlecast.modeling.training import train_timeframe
    from candlecast.ohlcv import CandleStore
    from tests.support.synthetic_universe import synthetic_candles, write_store

    root = write_store(Path(tempfile.mkdtemp()), synthetic_candles(coins=12, hours=1500))
    store = CandleStore(root)
    model, _, _ = train_timeframe(store, store.tickers(hour), hour)

    def forecast() -> None:
        model.forecast_path(request, compute_features(request, hour), 30)

    forecast()
    timing = Timing(forecast, REQUEST_RUNS)
    print(f"features + 30-step forecast ({'+'.join(sorted(model.weights))}): {timing}")
    return timing


if __name__ == "__main__":
    sys.exit(main())
