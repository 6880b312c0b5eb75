"""Training at scale: five timeframes on N coins at full retention, with the ensemble.

Scale data is built from the real sample (bench/scale_data.py). Each timeframe trains in its own
process, so its peak resident memory is its own. Printed per timeframe: panel rows, wall time by
phase (panel + walk-forward training, paper trading + report), peak memory, the served learner;
and the total against the goal (20 minutes, 8 GB) as ratios.

    .venv/bin/python bench/bench_train.py --tickers 500
    .venv/bin/python bench/bench_train.py --universe tests/data/universe   # the real 50 pairs
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_SECONDS, GOAL_BYTES = 20 * 60, 8 * 1024**3
CODES = ("1h", "4h", "1d", "1w", "1M")


def fill_universe(source: Path, store_root: Path) -> list[str]:
    """A folder of <timeframe>/<PAIR>.parquet, as it is (a development universe is short: no
    retention cut); returns the timeframes it holds."""
    import pandas as pd

    from candlecast.ohlcv import CandleStore
    from candlecast.timeframes import TIMEFRAMES

    store = CandleStore(store_root)
    codes = [code for code in CODES if (source / code).is_dir()]
    for code in codes:
        for path in sorted((source / code).glob("*.parquet")):
            frame = pd.read_parquet(path)
            frame["vwap"] = (frame["high"] + frame["low"] + frame["close"]) / 3.0
            frame["trades"] = float("nan")
            store.write(f"X:{path.stem}", TIMEFRAMES[code], frame)
    return codes


def fill_store(source: Path, store_root: Path, pairs: list[str]) -> None:
    import pandas as pd

    from candlecast.marketdata import SampleProvider
    from candlecast.ohlcv import CandleStore
    from candlecast.timeframes import TIMEFRAMES

    store = CandleStore(store_root)
    now = SampleProvider(source).now()
    for code in CODES:
        timeframe = TIMEFRAMES[code]
        start = timeframe.retention_start(now)
        for pair in pairs:
            frame = pd.read_parquet(source / code / f"{pair}.parquet")
            frame = frame[frame["timestamp"] >= start].reset_index(drop=True)
            # As the sample provider serves them: typical price for vwap, trade count unknown.
            frame["vwap"] = (frame["high"] + frame["low"] + frame["close"]) / 3.0
            frame["trades"] = float("nan")
            store.write(f"X:{pair}", timeframe, frame)


def train_one(store_root: Path, code: str) -> dict:
    from candlecast.modeling.training import report_writer, run_paper_trading, train_timeframe
    from candlecast.ohlcv import CandleStore
    from candlecast.timeframes import TIMEFRAMES

    store, timeframe = CandleStore(store_root), TIMEFRAMES[code]
    tickers = store.tickers(timeframe)
    began = time.perf_counter()
    model, folds, panel = train_timeframe(store, tickers, timeframe)
    trained = time.perf_counter()
    paper = run_paper_trading(store, timeframe, model, panel, folds[-1])
    report = store_root.parent / f"report-{timeframe.slug}.html"
    report_writer(store, timeframe, model, folds, panel, paper)(report, f"bench {code}")
    done = time.perf_counter()
    headline = model.info["metrics"]["test"].get("all", {})
    h1 = model.info["metrics"]["test"].get("h1", {})
    return {
        "skilled_horizons": [h for h, s in enumerate(model.calibration.skill, start=1) if s],
        "test_rank_ic_h1": h1.get("rank_ic"),
        "test_rank_ic_h1_ci95": h1.get("rank_ic_ci95"),
        "timeframe": code,
        "coins": len(tickers),
        "panel_rows": len(panel),
        "row_stride": panel.stride,
        "train_seconds": trained - began,
        "report_seconds": done - trained,
        "seconds": done - began,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "served": model.info["served"],
        "mae_ratio": headline.get("mae_ratio_to_random_walk"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "cc-scale")
    parser.add_argument("--universe", type=Path, help="train on this folder as it is instead")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    label = "universe" if args.universe else str(args.tickers)
    store_root = args.data / f"store-{label}"
    if args.one:
        print(json.dumps(train_one(store_root, args.one)))
        return
    codes = CODES
    if args.universe:
        codes = fill_universe(args.universe.resolve(), store_root)
    elif not (store_root / "done").exists():
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from scale_data import build

        pairs = build(args.data / "source", args.tickers)
        fill_store(args.data / "source", store_root, pairs)
        (store_root / "done").touch()
    results = []
    for code in codes:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--tickers",
                str(args.tickers),
                *(["--universe", str(args.universe)] if args.universe else []),
                "--data",
                str(args.data),
                "--one",
                code,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(
            f"{code:>3}: {r['coins']} coins, {r['panel_rows']:>9,} panel rows (every "
            f"{r['row_stride']} candle), train {r['train_seconds']:7.1f} s, report + paper "
            f"{r['report_seconds']:5.1f} s, peak {r['peak_rss_bytes'] / 1024**3:5.2f} GB, "
            f"served {r['served']}, test MAE ratio {r['mae_ratio']}, skill at "
            f"{r['skilled_horizons']}, test rank IC h1 {r['test_rank_ic_h1']} "
            f"{r['test_rank_ic_h1_ci95']}",
            flush=True,
        )
    total = sum(r["seconds"] for r in results)
    peak = max(r["peak_rss_bytes"] for r in results)
    print(
        f"all {len(results)}: {total / 60:.1f} min (goal 20 min: ratio {total / GOAL_SECONDS:.2f}), "
        f"peak {peak / 1024**3:.2f} GB (goal 8 GB: ratio {peak / GOAL_BYTES:.2f})"
    )


if __name__ == "__main__":
    main()
