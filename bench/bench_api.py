"""Load on the prediction API over loopback: p50/p99 latency and throughput at 1, 8 and 32
concurrent clients for (a) cached forecasts, (b) uncached forecasts on cached candles and
(c) a universe coin's first forecast on the server. Goals: (b) p50 <= 15 ms, p99 <= 60 ms, >= 300 req/s
at 32 clients; (a) p50 <= 3 ms.

Builds its own stack in a temporary CANDLECAST_HOME: embedded PostgreSQL and Redis, the fake
Polygon provider serving block-bootstrapped candles of the real sample (bench/scale_data.py),
`candlecast sync-symbols / update / train` on the top 5 symbols, then `bentoml serve` three
times (CANDLECAST_API_WORKERS workers each, 2 by default): with the prediction cache (a),
without it (the universe pass, c, then b: 120 series in turn, so each series' features are
reused until its next candle), and without the feature cache as well (b*: features computed for
every forecast, the worst case). Requests carry an API key (limits far above the load), so key
checks and the Redis token bucket are part of every figure. The load generator shares the 2
cores with the server.

The store holds every series (`update --top 120 --timeframe 1h`) and the served universe is all
of them (CANDLECAST_TOP_N=120 while serving). (c) is a universe coin's first forecast on the
server: after the universe pass at the candle (timed apart: the first /rank, which reads each
coin's tail from the Parquet store into Redis and shares its serving inputs through Redis), on
either worker (each level asks coins of its own). Without that sharing the worker that did not
compute the pass built each coin's features afresh (issue 25: 3.1-4.1x (b)).

Ratios in the same run, against issue 25's goals: (b) at 32 clients against a peer, a minimal
uvicorn + FastAPI app calling the same forecast function with the same storage
(bench/peer_app.py, goal >= 1.0x its throughput); (b) p50 at one client against the in-process
cost of the same forecast with its storage (symbol check, rows written; bench/api_floor.py, goal
<= 1.3x), and (b) at 32 clients against what every core could do at that cost (goal >= 0.7x);
(c) p50 <= 1.5x (b)'s; (a) p50 <= 0.15x (b)'s. Also printed: the in-process floor without
storage, and the seeds' recursive 30-step approach, which appends each predicted candle and
recomputes the features 30 times (features only: a lower bound of its cost).
Both the Bento and the peer run without an access log line per request
(`CANDLECAST_ACCESS_LOG=false`, `uvicorn --no-access-log`); with it the Bento's throughput at 32
clients was 6-16 % lower in paired runs. `--runs N` measures N times on one stack and prints
min/median/max of each ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp
import numpy as np
import pandas as pd
import psycopg
import redis
from psycopg.types.json import Jsonb

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
from scale_data import build  # noqa: E402

from candlecast.marketdata import SampleProvider  # noqa: E402
from candlecast.modeling import compute_features  # noqa: E402
from candlecast.ops import embedded  # noqa: E402
from candlecast.serving import SERVING_CANDLES  # noqa: E402
from candlecast.settings import SAMPLE_DATA_DIR  # noqa: E402
from candlecast.timeframes import TIMEFRAMES  # noqa: E402
from tests.support.bento_server import free_port, running_bento  # noqa: E402

PROJECT_DIR = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
N_SYMBOLS, TRAINED, TIMEFRAME = 120, 5, "1h"
CLIENTS = (1, 8, 32)
REQUESTS = {"a": 3000, "b": 1500}  # per concurrency level; (c) asks each cold series once
GOALS = {"a": (3.0, None, None), "b": (15.0, 60.0, 300.0)}


def run_cli(env: dict, *args: str) -> None:
    result = subprocess.run(
        [str(BIN / "candlecast"), *args], env=env, capture_output=True, text=True, timeout=3600
    )
    if result.returncode != 0:
        raise SystemExit(f"candlecast {' '.join(args)} failed:\n{result.stderr[-3000:]}")


def create_key(env: dict) -> str:
    result = subprocess.run(
        [str(BIN / "candlecast"), "keys", "create", "--name", "bench"]
        + ["--rate-per-minute", "100000000", "--burst", "1000000"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


async def load(url: str, key: str, bodies: list[dict], clients: int, cached: bool) -> dict:
    """`clients` concurrent clients send the bodies in turn; every answer must be a 200, from
    the prediction cache or not as the case says. aiohttp, not httpx: on these two shared cores
    httpx's own CPU (1.2 ms a request against aiohttp's 0.3) was a large part of every figure."""
    latencies: list[float] = []
    queue = iter(bodies)
    connector = aiohttp.TCPConnector(limit=clients)
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(url, connector=connector, headers=headers) as client:

        async def one_client() -> None:
            for body in queue:
                start = time.perf_counter()
                async with client.post("/predict", json=body) as response:
                    answer = await response.read()
                latencies.append(time.perf_counter() - start)
                if response.status != 200 or json.loads(answer)["cached"] is not cached:
                    raise SystemExit(f"{body}: {response.status} {answer[:500]!r}")

        cpu, start = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    ms = np.array(latencies) * 1000
    return {
        "n": len(ms),
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
        "rps": len(ms) / wall,
        "client_cpu_ms": cpu / len(ms) * 1000,
    }


def drop_serving_state(redis_url: str) -> None:
    """The candles, shared serving inputs and universes an earlier server left in Redis."""
    client = redis.Redis.from_url(redis_url)
    for pattern in ("candlecast:candles:*", "candlecast:inputs:*", "candlecast:universe:*"):
        for key in client.scan_iter(pattern, count=1000):
            client.delete(key)


def drop_predictions(redis_url: str) -> None:
    """The prediction cache of an earlier run: each run's warm-up computes its own answers."""
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter("candlecast:prediction:*", count=1000):
        client.delete(key)


def cached(redis_url: str, pattern: str) -> int:
    return sum(1 for _ in redis.Redis.from_url(redis_url).scan_iter(pattern))


def universe_pass(url: str, key: str) -> float:
    """Seconds of the first /rank at the candle: the universe pass, which caches every
    universe coin's candles and shares its serving inputs with both workers."""
    request = urllib.request.Request(
        f"{url}/rank",
        data=json.dumps({"timeframe": TIMEFRAME, "horizon": 1}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        body = json.loads(response.read())
    if body["cached"] or body["universe_size"] != N_SYMBOLS:
        raise SystemExit(f"the universe pass did not run on {N_SYMBOLS} coins: {body}")
    return time.perf_counter() - start


def recursive_baseline_ms() -> float:
    """The seeds' way: append the predicted candle, recompute every feature, 30 times."""
    sample = SampleProvider(SAMPLE_DATA_DIR)
    hour = TIMEFRAMES[TIMEFRAME]
    now = sample.now()
    candles = sample.fetch_candles(
        "X:BTCUSDT", hour, now - pd.Timedelta(hours=SERVING_CANDLES), now
    )
    compute_features(candles, hour)  # warm-up
    start = time.perf_counter()
    window = candles
    for _ in range(30):
        with np.errstate(invalid="ignore", divide="ignore"):
            compute_features(window, hour)
        last = window.iloc[[-1]].copy()  # stands in for the predicted candle
        last["timestamp"] = hour.next_open(last["timestamp"].iloc[0])
        last[["open", "high", "low", "close"]] *= 1.001
        window = pd.concat([window.iloc[1:], last], ignore_index=True)
    return (time.perf_counter() - start) * 1000


def verdict(value: float, goal: float | None, higher_is_better: bool = False) -> str:
    if goal is None:
        return ""
    met = value >= goal if higher_is_better else value <= goal
    return f" (goal {'>=' if higher_is_better else '<='} {goal:g}: {'met' if met else 'MISSED'})"


def print_row(case: str, clients: int, figures: dict) -> None:
    p50_goal, p99_goal, rps_goal = GOALS.get(case, (None, None, None))
    print(
        f"  ({case:<2}) {clients:>2} clients, {figures['n']:>4} requests: "
        f"p50 {figures['p50']:7.1f} ms{verdict(figures['p50'], p50_goal)}  "
        f"p99 {figures['p99']:7.1f} ms{verdict(figures['p99'], p99_goal)}  "
        f"{figures['rps']:6.0f} req/s"
        f"{verdict(figures['rps'], rps_goal if clients == 32 else None, True)}  "
        f"[client CPU {figures['client_cpu_ms']:.2f} ms/req]"
    )


PROVIDER_PROCESS = """
import sys, threading
from pathlib import Path
from tests.support.fake_provider import FakeProvider, Fault
with FakeProvider(Path(sys.argv[1])) as fake:
    print(fake.base_url, fake.faults.api_key, flush=True)
    for line in sys.stdin:  # faults on command: 'storm SECONDS', 'errors SECONDS'
        what, seconds = line.split()
        if what == "storm":
            fake.storm(float(seconds))
        else:
            fake.faults.script = [Fault("any", "status", times=10**9, status=502)]
            threading.Timer(float(seconds), fake.faults.script.clear).start()
"""


class Provider:
    """The loopback fake provider in a process of its own, off the load generator's GIL; `send`
    tells it to misbehave: 'storm SECONDS' (every request 429), 'errors SECONDS' (every one 502)."""

    def __init__(self, data_dir: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", PROVIDER_PROCESS, str(data_dir)],
            cwd=PROJECT_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.base_url, self.api_key = self.process.stdout.readline().split()

    def send(self, command: str) -> None:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def reuse_models(env: dict, source_home: Path, source_database: str) -> None:
    """The model store of a home already trained (and its `models` rows), instead of training:
    the serving path is the same whatever the models were trained on."""
    shutil.copytree(source_home / "bentoml", env["BENTOML_HOME"], dirs_exist_ok=True)
    with psycopg.connect(source_database) as source, psycopg.connect(env["DATABASE_URL"]) as target:
        rows = source.execute("SELECT * FROM models").fetchall()
        columns = [c.name for c in source.execute("SELECT * FROM models LIMIT 0").description]
        with target.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO models ({', '.join(columns)}) "
                f"VALUES ({', '.join(['%s'] * len(columns))}) ON CONFLICT DO NOTHING",
                [[Jsonb(v) if isinstance(v, dict | list) else v for v in row] for row in rows],
            )
        target.commit()


def home_env(home: Path, fake: Provider) -> dict:
    """The env of a bench home: its embedded PostgreSQL and Redis (started), the provider."""
    return {
        **os.environ,
        "CANDLECAST_HOME": str(home),
        "DATABASE_URL": embedded.start_postgres(home),
        "REDIS_URL": embedded.start_redis(home),
        "BENTOML_HOME": str(home / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "True",
        "GX_ANALYTICS_ENABLED": "false",
        "KERAS_BACKEND": "jax",
        "POLYGON_API_KEY": fake.api_key,
        "POLYGON_BASE_URL": fake.base_url,
        "CANDLECAST_NOW": SampleProvider(SAMPLE_DATA_DIR).now().isoformat(),
        "CANDLECAST_TOP_N": str(TRAINED),
        "PYTHONWARNINGS": "ignore",
        "CANDLECAST_ACCESS_LOG": "false",  # as the peer runs (uvicorn --no-access-log)
    }


def prepare(home: Path, fake: Provider, models_from: tuple[Path, str] | None = None) -> dict:
    """sync-symbols, update and train (or reuse models) on the top symbols of a fresh home;
    returns its env."""
    env = home_env(home, fake)
    started = time.perf_counter()
    run_cli(env, "sync-symbols")
    run_cli(env, "update", "--top", str(TRAINED))
    if models_from is None:
        run_cli(env, "train")  # the service serves all five timeframes: it needs five models
    else:
        reuse_models(env, *models_from)
    run_cli(env, "update", "--top", str(N_SYMBOLS), "--timeframe", TIMEFRAME)  # (c): in store
    print(f"stack ready in {time.perf_counter() - started:.0f} s (sync, update, train)")
    return env


def measure(env: dict, work: Path) -> dict[str, dict[int, dict]]:
    key = create_key(env)
    tickers = [f"X:SYN{i:04d}USDT" for i in range(N_SYMBOLS)]
    body = [{"symbol": t, "timeframe": TIMEFRAME, "steps": 30} for t in tickers]
    cached_bodies = [body[i % len(body)] for i in range(REQUESTS["a"])]
    uncached_bodies = [body[i % len(body)] for i in range(REQUESTS["b"])]
    env = {**env, "CANDLECAST_TOP_N": str(N_SYMBOLS)}  # the universe: every stored series
    uncached = {**env, "CANDLECAST_PREDICTION_CACHE_SECONDS": "0"}
    results: dict[str, dict[int, dict]] = {"a": {}, "b": {}, "b*": {}, "c": {}}
    drop_predictions(env["REDIS_URL"])
    with running_bento(env, work / "serve-cached.log", ready_seconds=300) as url:
        asyncio.run(load(url, key, body, 8, cached=False))  # warm: forecasts cached
        for clients in CLIENTS:
            results["a"][clients] = asyncio.run(load(url, key, cached_bodies, clients, True))
    with running_bento(uncached, work / "serve-uncached.log", ready_seconds=300) as url:
        drop_serving_state(env["REDIS_URL"])
        results["pass"] = universe_pass(url, key)
        for pattern in ("candlecast:candles:*", "candlecast:inputs:*"):
            if cached(env["REDIS_URL"], pattern) != N_SYMBOLS:
                raise SystemExit(f"the universe pass left no {pattern} for every coin")
        share = len(body) // len(CLIENTS)
        for level, clients in enumerate(CLIENTS):  # coins never forecast before, per level
            cold = body[level * share : (level + 1) * share]
            results["c"][clients] = asyncio.run(load(url, key, cold, clients, False))
        for clients in CLIENTS:  # the candles of (c) are cached now
            results["b"][clients] = asyncio.run(load(url, key, uncached_bodies, clients, False))
    results["floor"] = in_process_floor(uncached, tickers)
    results["peer"] = peer(uncached, key, uncached_bodies)
    no_feature_cache = {**uncached, "CANDLECAST_FEATURE_CACHE_ENTRIES": "0"}
    with running_bento(
        no_feature_cache, work / "serve-no-feature-cache.log", ready_seconds=300
    ) as url:
        for clients in CLIENTS:
            results["b*"][clients] = asyncio.run(load(url, key, uncached_bodies, clients, False))
    return results


def in_process_floor(env: dict, tickers: list[str]) -> dict:
    result = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "bench" / "api_floor.py"), TIMEFRAME, "1500", *tickers],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def peer(env: dict, key: str, bodies: list[dict]) -> dict[int, dict]:
    """The peer app on the same cores, workers as the Bento's, loaded like (b)."""
    port = free_port()
    workers = env.get("CANDLECAST_API_WORKERS", "2")
    command = [str(BIN / "uvicorn"), "--app-dir", str(PROJECT_DIR / "bench"), "peer_app:app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", workers]
    command += ["--log-level", "warning", "--no-access-log", "--timeout-keep-alive", "75"]
    process = subprocess.Popen(command, env=env, cwd=PROJECT_DIR, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while not _answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the peer app did not start")
            time.sleep(0.5)
        asyncio.run(load(url, key, bodies[:240], 8, False))  # warm both workers
        return {c: asyncio.run(load(url, key, bodies, c, False)) for c in CLIENTS}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/docs", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def ratios(results: dict) -> dict[str, float]:
    """The issue-25 goals: against the peer, the in-process cost with storage, what 2 cores
    could do at that cost, and (c), (a) against (b)."""
    b1, b32 = results["b"][1], results["b"][32]
    with_storage = results["floor"]["floor_with_storage"]
    capacity = (os.cpu_count() or 2) * 1000 / with_storage  # forecasts/s, every core busy
    return {
        "(b) / peer throughput at 32 (goal >= 1.0)": b32["rps"] / results["peer"][32]["rps"],
        "(b) p50 / in-process p50 with storage (goal <= 1.3)": b1["p50"] / with_storage,
        "(b) at 32 / in-process capacity (goal >= 0.7)": b32["rps"] / capacity,
        "(c) first forecast p50 / (b) p50 (goal <= 1.5)": results["c"][1]["p50"] / b1["p50"],
        "(a) cached p50 / (b) p50 (goal <= 0.15)": results["a"][1]["p50"] / b1["p50"],
    }


def report(results: dict[str, dict[int, dict]], baseline: float) -> None:
    titles = {
        "a": "cached forecast",
        "b": "uncached forecast, cached candles (features reused until the series' next candle)",
        "b*": "uncached forecast, cached candles, features computed for every forecast",
        "c": "a universe coin's first forecast on the server, after the universe pass",
        "peer": "peer: uvicorn + FastAPI calling the same forecast function, as (b)",
    }
    print(f"POST /predict {TIMEFRAME}, 30 steps, {os.cpu_count()} cores, client on the same cores")
    for case in ("a", "b", "b*", "c", "peer"):
        print(f"{titles[case]}:")
        for clients in CLIENTS:
            print_row(case, clients, results[case][clients])
    floor = results["floor"]
    print(
        f"in-process floor (candles from Redis, features, model, JSON; no HTTP): p50 "
        f"{floor['floor']:.2f} ms; with storage (symbol check, rows written): "
        f"{floor['floor_with_storage']:.2f} ms"
    )
    print(
        f"universe pass (the first request at a candle: {N_SYMBOLS} coins' candles from the "
        f"store, features, raw z; shared with both workers): {results['pass']:.2f} s"
    )
    for name, value in ratios(results).items():
        print(f"  {name}: {value:.2f}")
    print(
        "closed-loop clients: mean latency = clients / throughput (Little's law), so at 32 "
        "clients 300 req/s means ~107 ms; latency goals can hold only at low concurrency"
    )
    ceiling = 2000 / baseline
    print(
        f"baseline, the seeds' recursive 30 steps (features only, one core): {baseline:.0f} ms "
        f"per forecast, at most {ceiling:.1f} forecasts/s on 2 cores\n"
        f"ratios: (b) p50 at 1 client is {baseline / results['b'][1]['p50']:.0f}x below the "
        f"baseline's latency; (b) at 32 clients serves {results['b'][32]['rps'] / ceiling:.0f}x "
        "the baseline's ceiling"
    )


def models_from_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models-from",
        nargs=2,
        metavar=("HOME", "DATABASE_URL"),
        help="reuse the five models trained in HOME (rows in DATABASE_URL) instead of training",
    )


def models_from(args: argparse.Namespace) -> tuple[Path, str] | None:
    return (Path(args.models_from[0]), args.models_from[1]) if args.models_from else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="measurements on one stack")
    models_from_option(parser)
    args = parser.parse_args()
    runs = args.runs
    work = Path(tempfile.mkdtemp(prefix="cc-bench-api-"))
    home = work / "home"
    provider_dir = Path(tempfile.gettempdir()) / "candlecast-bench" / "provider"
    build(provider_dir, N_SYMBOLS)
    fake = Provider(provider_dir)
    every: list[dict[str, float]] = []
    try:
        env = prepare(home, fake, models_from(args))
        baseline = min(recursive_baseline_ms() for _ in range(3))
        for run in range(runs):
            results = measure(env, work)
            print(f"--- run {run + 1} of {runs}")
            report(results, baseline)
            every.append({**ratios(results), "(b) req/s at 32": results["b"][32]["rps"]})
    finally:
        fake.stop()
        embedded.stop_postgres(home)
        embedded.stop_redis(home)
        shutil.rmtree(work, ignore_errors=True)
    if runs > 1:
        print(f"--- over {runs} runs: min / median / max")
        for name in every[0]:
            values = sorted(r[name] for r in every)
            print(f"  {name}: {values[0]:.2f} / {float(np.median(values)):.2f} / {values[-1]:.2f}")


if __name__ == "__main__":
    main()
