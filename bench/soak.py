"""Soak: mixed load at 32 clients on `bentoml serve` (2 workers) for 10 minutes while, in turn,
Redis is restarted, PostgreSQL is restarted, the provider answers 429 for 60 s then 5xx for 30 s,
and a 1h version is promoted and rolled back (issue 25).

The load: cached forecasts (four hot bodies), uncached ones (120 series, steps drawn anew, the
prediction cache kept for 2 s), cold ones (the series' Redis copy dropped just before: its tail
read from the Parquet store, newer candles asked of the provider), rankings, bad inputs
(malformed JSON, an unknown timeframe, steps 0, an unknown field) and an unknown symbol.

Printed: answers by kind and status, and the undocumented ones (anything but 200 for a good
request, 400/422 for a bad one, 404 for the unknown symbol; a 503 is documented only with
`Retry-After` and while a fault lasts or within 10 s of its end); the forecasts answered
`persisted: true` that PostgreSQL does not hold afterwards; p50/p99 of the good requests in the
30 s before, during and the 30 s after each fault; the seconds from each fault's end to the first
moment after which every good request succeeded; each worker's RSS after the warm-up and at the
end. Goals: 0 undocumented, 0 lost, every recovery <= 10 s, RSS growth <= 10 %.

The stack is bench_api's (embedded PostgreSQL and Redis, the loopback provider in a process of its
own, 120 synthetic series in the store, five trained symbols); `--minutes` shortens the soak and
its timeline in proportion (the fault windows included), for a quick look.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import numpy as np
import psycopg
import redis

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
from bench_api import (
    N_SYMBOLS,
    TIMEFRAME,
    Provider,
    create_key,
    home_env,
    models_from,
    models_from_option,
    prepare,
    run_cli,
)  # noqa: E402
from scale_data import build  # noqa: E402

from candlecast.ops import embedded  # noqa: E402
from candlecast.serving import candles_key, mark_key  # noqa: E402
from tests.support.bento_server import running_bento  # noqa: E402

CLIENTS = 32
WARM_UP_SECONDS = 20
WINDOW_SECONDS = 30  # the before and after windows of each fault
GRACE_SECONDS = 10  # a 503 with Retry-After this long after a fault's end is still documented
GOOD_KINDS = ("cached", "uncached", "cold", "rank")
MIX = {"cached": 40, "uncached": 30, "cold": 8, "rank": 7, "bad": 10, "unknown": 5}
HOT = 4  # bodies of the cached kind
BAD_BODIES = (
    b'{"symbol": "X:SYN0000USDT", "timeframe": ',
    b'{"symbol": "X:SYN0000USDT", "timeframe": "2h"}',
    b'{"symbol": "X:SYN0000USDT", "timeframe": "1h", "steps": 0}',
    b'{"symbol": "X:SYN0000USDT", "timeframe": "1h", "colour": "blue"}',
)
DOCUMENTED = {"bad": {400, 422}, "unknown": {404}, **{kind: {200} for kind in GOOD_KINDS}}


@dataclass
class Answer:
    kind: str
    sent: float  # seconds since the soak began
    latency_ms: float
    status: int
    retry_after: bool
    prediction_id: str | None = None
    model: str | None = None


@dataclass
class Fault:
    name: str
    start: float
    end: float = 0.0


@dataclass
class Soak:
    url: str
    key: str
    redis_url: str
    seconds: float
    began: float = 0.0
    answers: list[Answer] = field(default_factory=list)
    persisted: set[str] = field(default_factory=set)
    rss: list[tuple[float, dict[int, int]]] = field(default_factory=list)  # (seconds, pid: kB)

    def now(self) -> float:
        return time.monotonic() - self.began


def request(kind: str, rng: random.Random, tickers: list[str]) -> tuple[str, bytes]:
    if kind == "cached":
        return "/predict", _body(tickers[rng.randrange(HOT)], 30)
    if kind in ("uncached", "cold"):
        return "/predict", _body(rng.choice(tickers), rng.randint(1, 30))
    if kind == "rank":
        return "/rank", json.dumps({"timeframe": TIMEFRAME, "horizon": 6}).encode()
    if kind == "unknown":
        return "/predict", _body("X:NOPEUSDT", 30)
    return "/predict", rng.choice(BAD_BODIES)


def _body(ticker: str, steps: int) -> bytes:
    return json.dumps({"symbol": ticker, "timeframe": TIMEFRAME, "steps": steps}).encode()


def drop_cached_candles(cache: redis.Redis, body: bytes) -> None:
    key = candles_key(json.loads(body)["symbol"], TIMEFRAME)
    with contextlib.suppress(redis.RedisError):  # Redis is down: the series is cold anyway
        cache.delete(key, mark_key(key))


async def client(soak: Soak, session: aiohttp.ClientSession, seed: int, tickers: list[str]):
    rng = random.Random(seed)
    kinds, weights = list(MIX), list(MIX.values())
    cache = redis.Redis.from_url(soak.redis_url, socket_timeout=1, socket_connect_timeout=1)
    while soak.now() < soak.seconds:
        kind = rng.choices(kinds, weights)[0]
        route, body = request(kind, rng, tickers)
        if kind == "cold":
            await asyncio.to_thread(drop_cached_candles, cache, body)
        sent = soak.now()
        try:
            async with session.post(route, data=body) as response:
                payload = await response.read()
                status, retry_after = response.status, "Retry-After" in response.headers
        except aiohttp.ClientError:
            status, retry_after, payload = 0, False, b""  # no answer at all: undocumented
        answer = Answer(kind, sent, (soak.now() - sent) * 1000, status, retry_after)
        if status == 200 and route == "/predict":
            content = json.loads(payload)
            answer.prediction_id, answer.model = content["prediction_id"], content["model"]
            if content.get("persisted"):
                soak.persisted.add(content["prediction_id"])
        soak.answers.append(answer)


async def load(soak: Soak, tickers: list[str]) -> None:
    headers = {"Authorization": f"Bearer {soak.key}", "Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(
        soak.url, connector=connector, headers=headers, timeout=timeout
    ) as session:
        await asyncio.gather(*(client(soak, session, seed, tickers) for seed in range(CLIENTS)))


def restart_redis(home: Path, down: float) -> None:
    embedded.stop_redis(home)
    time.sleep(down)
    embedded.start_redis(home)


def restart_postgres(home: Path, down: float) -> None:
    embedded.stop_postgres(home)
    time.sleep(down)
    embedded.start_postgres(home)


def provider_storm(fake: Provider, storm: float, errors: float) -> None:
    fake.send(f"storm {storm}")
    time.sleep(storm)
    fake.send(f"errors {errors}")
    time.sleep(errors)


def release(env: dict, *args: str) -> None:
    run_cli(env, "models", *args)


def faults_timeline(soak: Soak, env: dict, home: Path, fake: Provider, challenger: str):
    """(name, at, what) in the order they happen; `at` and durations scale with the soak."""
    scale = soak.seconds / 600
    down = max(3.0, 5 * scale)
    return [
        ("redis restart", 60 * scale, lambda: restart_redis(home, down)),
        ("postgres restart", 150 * scale, lambda: restart_postgres(home, down)),
        (
            "provider 429 then 5xx",
            240 * scale,
            lambda: provider_storm(fake, 60 * scale, 30 * scale),
        ),
        ("promote", 420 * scale, lambda: release(env, "promote", challenger, "--force")),
        ("rollback", 510 * scale, lambda: release(env, "rollback", TIMEFRAME)),
    ]


async def inject(soak: Soak, timeline, faults: list[Fault]) -> None:
    for name, at, action in timeline:
        await asyncio.sleep(max(0.0, at - soak.now()))
        fault = Fault(name, soak.now())
        await asyncio.to_thread(action)
        fault.end = soak.now()
        faults.append(fault)


def worker_rss(home: Path) -> dict[int, int]:
    """RSS in kB of the Bento's worker processes: those whose command names a worker and whose
    environment has this soak's CANDLECAST_HOME (other servers may run on the machine)."""
    marker = f"CANDLECAST_HOME={home}".encode()
    rss = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            command = (proc / "cmdline").read_bytes()
            if b"worker" not in command or marker not in (proc / "environ").read_bytes().split(
                b"\0"
            ):
                continue
            status = (proc / "status").read_text()
        except OSError:
            continue
        rss[int(proc.name)] = next(
            int(line.split()[1]) for line in status.splitlines() if "VmRSS" in line
        )
    return rss


async def sample_rss(soak: Soak, home: Path) -> None:
    """The workers' RSS once a minute (a cache filling levels off; a leak does not)."""
    while soak.now() < soak.seconds:
        soak.rss.append((soak.now(), await asyncio.to_thread(worker_rss, home)))
        await asyncio.sleep(min(60.0, soak.seconds / 10))


def percentiles(answers: list[Answer], start: float, end: float) -> str:
    ms = [a.latency_ms for a in answers if start <= a.sent < end and a.status == 200]
    if not ms:
        return "      no answers      "
    return f"p50 {np.percentile(ms, 50):6.1f} p99 {np.percentile(ms, 99):7.1f} ms (n {len(ms):>5})"


def undocumented(answer: Answer, faults: list[Fault]) -> bool:
    if answer.status in DOCUMENTED[answer.kind]:
        return False
    if answer.status == 503 and answer.retry_after:
        return not any(f.start <= answer.sent <= f.end + GRACE_SECONDS for f in faults)
    return True


def recovery_seconds(answers: list[Answer], fault: Fault, until: float) -> float:
    failed = [
        a.sent
        for a in answers
        if a.kind in GOOD_KINDS and fault.end <= a.sent < until and a.status != 200
    ]
    return max(failed) - fault.end if failed else 0.0


def missing_from_postgres(database_url: str, ids: set[str]) -> int:
    with psycopg.connect(database_url) as conn:
        found = conn.execute(
            "SELECT count(*) FROM predictions WHERE id = ANY(%s::uuid[])", (sorted(ids),)
        ).fetchone()[0]
    return len(ids) - found


def report_versions(soak: Soak, faults: list[Fault]) -> None:
    print("1h versions that answered /predict (the promotion and the rollback took effect):")
    release = {f.name: f for f in faults}
    promote, rollback = release["promote"], release["rollback"]
    for name, low, high in (
        ("before the promotion", 0, promote.start),
        ("between promotion and rollback", promote.end, rollback.start),
        ("after the rollback", rollback.end, soak.seconds),
    ):
        served: dict[str, int] = {}
        for answer in soak.answers:
            if answer.model and low <= answer.sent < high:
                served[answer.model] = served.get(answer.model, 0) + 1
        print(f"  {name}: {served}")


def report(soak: Soak, faults: list[Fault], rss: tuple[dict, dict], lost: int) -> None:
    print(f"soak: {soak.seconds:.0f} s, {CLIENTS} clients, {len(soak.answers)} answers")
    for kind in MIX:
        statuses: dict[int, int] = {}
        for answer in soak.answers:
            if answer.kind == kind:
                statuses[answer.status] = statuses.get(answer.status, 0) + 1
        print(f"  {kind:<9} {dict(sorted(statuses.items()))}")
    bad = [a for a in soak.answers if undocumented(a, faults)]
    print(f"undocumented answers: {len(bad)} (goal 0)")
    for answer in bad[:10]:
        print(f"  {answer}")
    print(f"forecasts answered persisted: true: {len(soak.persisted)}; missing: {lost} (goal 0)")
    good = [a for a in soak.answers if a.kind in GOOD_KINDS]
    ends = [f.start for f in faults[1:]] + [soak.seconds]
    print("good requests, latency of the 200s, and recovery (goal <= 10 s):")
    for fault, until in zip(faults, ends, strict=True):
        print(f"  {fault.name} ({fault.start:.0f}-{fault.end:.0f} s):")
        print(f"    before {percentiles(good, fault.start - WINDOW_SECONDS, fault.start)}")
        print(f"    during {percentiles(good, fault.start, fault.end)}")
        print(f"    after  {percentiles(good, fault.end, fault.end + WINDOW_SECONDS)}")
        print(f"    recovered {recovery_seconds(good, fault, until):.1f} s after its end")
    report_versions(soak, faults)
    start, end = rss
    for pid in sorted(start):
        after = end.get(pid)
        growth = f"{(after / start[pid] - 1) * 100:+.1f} %" if after else "gone"
        print(
            f"  worker {pid}: RSS {start[pid] / 1024:.0f} MB -> {(after or 0) / 1024:.0f} MB "
            f"({growth}; goal <= +10 %)"
        )
    for at, sample in soak.rss:
        print(f"  at {at:4.0f} s: " + ", ".join(f"{kb / 1024:.0f} MB" for kb in sample.values()))
    for pid in sorted(set(end) - set(start)):
        print(f"  worker {pid} (new): RSS {end[pid] / 1024:.0f} MB at the end")


def second_version(env: dict) -> str:
    """Train 1h again: the new version is a challenger the soak promotes and rolls back."""
    run_cli(env, "train", "--timeframe", TIMEFRAME)
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        return conn.execute(
            "SELECT name || ':' || version FROM models WHERE timeframe = %s "
            "ORDER BY trained_at DESC LIMIT 1",
            (TIMEFRAME,),
        ).fetchone()[0]


def run(env: dict, home: Path, fake: Provider, challenger: str, seconds: float, work: Path):
    key = create_key(env)
    tickers = [f"X:SYN{i:04d}USDT" for i in range(N_SYMBOLS)]
    serving = {**env, "CANDLECAST_PREDICTION_CACHE_SECONDS": "2", "CANDLECAST_API_WORKERS": "2"}
    with running_bento(serving, work / "serve.log", ready_seconds=300) as url:
        warm = Soak(url, key, env["REDIS_URL"], WARM_UP_SECONDS)
        warm.began = time.monotonic()
        asyncio.run(load(warm, tickers))
        rss_start = worker_rss(home)
        if len(rss_start) != int(serving["CANDLECAST_API_WORKERS"]):
            raise SystemExit(f"found {len(rss_start)} Bento workers, not 2: {rss_start}")
        soak = Soak(url, key, env["REDIS_URL"], seconds)
        faults: list[Fault] = []
        timeline = faults_timeline(soak, env, home, fake, challenger)

        async def both() -> None:
            soak.began = time.monotonic()
            await asyncio.gather(
                load(soak, tickers), inject(soak, timeline, faults), sample_rss(soak, home)
            )

        asyncio.run(both())
        rss_end = worker_rss(home)
    lost = missing_from_postgres(env["DATABASE_URL"], soak.persisted)
    report(soak, faults, (rss_start, rss_end), lost)


def ready_home(home: Path, fake: Provider, models_from) -> tuple[dict, str]:
    """The home prepared (and its challenger trained) once: a home given with --home that holds
    both is reused as it is, its servers started again."""
    marker = home / "soak-challenger"
    if marker.exists():
        return home_env(home, fake), marker.read_text()
    env = prepare(home, fake, models_from)
    challenger = second_version(env)
    marker.write_text(challenger)
    return env, challenger


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--home", type=Path, help="a home kept between runs (default: a new one)")
    models_from_option(parser)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cc-soak-"))
    home = args.home or work / "home"
    provider_dir = Path(tempfile.gettempdir()) / "candlecast-bench" / "provider"
    build(provider_dir, N_SYMBOLS)
    fake = Provider(provider_dir)
    try:
        env, challenger = ready_home(home, fake, models_from(args))
        run(env, home, fake, challenger, args.minutes * 60, work)
    finally:
        fake.stop()
        embedded.stop_postgres(home)
        embedded.stop_redis(home)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
