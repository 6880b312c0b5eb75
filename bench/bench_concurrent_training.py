"""Trainings side by side, as the executors run them (LocalExecutor: 4 tasks at once; Celery: 2
workers x 2): the bundled sample's 1h, 4h, 1d and 1w trained at the same time, each in its own
process, with OpenMP's default wait policy (idle threads spin) against OMP_WAIT_POLICY=PASSIVE
(what the stack sets), alternating, --runs times each. `--serial` trains them one after another
instead (the control: one training alone has no one to take cores from).

Printed per run: wall time until the last finished and the CPU seconds all of them used; then
the ratios PASSIVE / default (below 1: faster).

    .venv/bin/python bench/bench_concurrent_training.py --runs 2
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

CODES = ("1h", "4h", "1d", "1w")
TRAIN = """
import sys
from pathlib import Path

from candlecast.modeling.training import train_timeframe
from candlecast.ohlcv import CandleStore
from candlecast.timeframes import TIMEFRAMES

store = CandleStore(Path(sys.argv[1]))
timeframe = TIMEFRAMES[sys.argv[2]]
train_timeframe(store, store.tickers(timeframe), timeframe)
"""


def prepare(store_root: Path) -> None:
    if (store_root / "done").exists():
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_train import fill_store

    from candlecast.settings import SAMPLE_DATA_DIR

    pairs = sorted(p.stem for p in (SAMPLE_DATA_DIR / "1h").glob("*.parquet"))
    fill_store(SAMPLE_DATA_DIR, store_root, pairs)
    (store_root / "done").touch()


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(store_root: Path, policy: str | None, serial: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of training CODES with this OpenMP wait policy."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    argv = [[sys.executable, "-c", TRAIN, str(store_root), code] for code in CODES]
    cpu, began = children_cpu(), time.perf_counter()
    start = partial(subprocess.Popen, env=env, stderr=subprocess.DEVNULL)
    if serial:
        codes = [start(args).wait() for args in argv]
    else:
        processes = [start(args) for args in argv]
        codes = [p.wait() for p in processes]
    assert codes == [0] * len(argv), dict(zip(CODES, codes, strict=True))
    return time.perf_counter() - began, children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--serial", action="store_true", help="one training at a time")
    parser.add_argument(
        "--data", type=Path, default=Path(tempfile.gettempdir()) / "cc-concurrent-training"
    )
    args = parser.parse_args()
    store_root = args.data / "store"
    prepare(store_root)
    mode = "one after another" if args.serial else f"{len(CODES)} at once"
    print(f"training {', '.join(CODES)} of the bundled sample, {mode}, on {os.cpu_count()} cores")
    figures: dict[str, list[tuple[float, float]]] = {"default": [], "PASSIVE": []}
    for n in range(args.runs):
        for label, policy in (("default", None), ("PASSIVE", "PASSIVE")):
            wall, cpu = run(store_root, policy, args.serial)
            figures[label].append((wall, cpu))
            print(f"run {n + 1} {label:>7}: wall {wall:6.1f} s, CPU {cpu:6.1f} s", flush=True)
    for index, name in ((0, "wall"), (1, "CPU")):
        ratios = [
            p[index] / d[index] for p, d in zip(figures["PASSIVE"], figures["default"], strict=True)
        ]
        print(
            f"{name} PASSIVE / default: median {statistics.median(ratios):.2f} "
            f"(min {min(ratios):.2f}, max {max(ratios):.2f})"
        )


if __name__ == "__main__":
    main()
