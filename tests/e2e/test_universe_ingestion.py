"""The real 50-pair universe (tests/data/universe) through the loopback fake provider, the real
CLI, PostgreSQL and Redis: the first load holds nothing back and flags at most 1 % of the 250
series (each flag explained), a second run raises no alert, the 2021-05-19 crash and DENT's
+149 % day are stored; then defects injected in two series are held candle by candle while the
series keep updating, and `quarantine release|discard` work, idempotently."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from candlecast.ohlcv import CandleStore
from candlecast.timeframes import TIMEFRAME_CODES, TIMEFRAMES
from tests.support.fake_provider import FakeProvider

pytestmark = pytest.mark.e2e
UNIVERSE = Path(__file__).resolve().parents[1] / "data" / "universe"
CANDLECAST = str(Path(sys.executable).parent / "candlecast")
FIRST_NOW = pd.Timestamp("2021-06-10 00:00", tz="UTC")
LATER_NOW = pd.Timestamp("2021-06-15 00:00", tz="UTC")
LAST_NOW = pd.Timestamp("2021-06-20 17:00", tz="UTC")
HOUR, DAY = TIMEFRAMES["1h"], TIMEFRAMES["1d"]


@pytest.fixture(scope="module")
def universe_cli(tmp_path_factory, database_url, redis_url):
    root = tmp_path_factory.mktemp("universe")
    data = root / "provider"
    shutil.copytree(UNIVERSE, data, ignore=shutil.ignore_patterns("*.md", "LICENSE"))
    name = f"candlecast_universe_{os.getpid()}"
    from candlecast.ops import ensure_database, with_database

    ensure_database(database_url, name)
    db_url = with_database(database_url, name)
    with FakeProvider(data) as fake:
        env = {
            **os.environ,
            "CANDLECAST_HOME": str(root / "home"),
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "POLYGON_API_KEY": fake.faults.api_key,
            "POLYGON_BASE_URL": fake.base_url,
            "POLYGON_BACKOFF_SECONDS": "0.05",
        }

        def run(*args: str, now: pd.Timestamp = FIRST_NOW, code: int = 0):
            result = subprocess.run(
                [CANDLECAST, *args],
                env={**env, "CANDLECAST_NOW": now.isoformat()},
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert result.returncode == code, result.stderr[-4000:]
            return result

        run.data, run.db_url, run.fake = data, db_url, fake
        run.store = CandleStore(root / "home" / "store")
        yield run
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def query(url: str, sql: str, *args) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def alerts(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "ALERT" in line]


def test_first_load_holds_nothing_flags_little_and_a_second_run_is_silent(universe_cli):
    run = universe_cli
    assert json.loads(run("sync-symbols").stdout)["universe"] == 50
    first = run("update", "--top", "50")
    report = json.loads(first.stdout)
    totals = report["series"]
    assert totals["written"] == 250 and totals["new_series"] == 250
    assert "series_with_held" not in totals and "failed" not in totals
    assert totals.get("flagged", 0) <= 2  # at most 1 % of 250 series
    assert len(report["notes"]) >= totals.get("candles_flagged", 0)  # each flag explained
    for code in TIMEFRAME_CODES:
        assert report["by_timeframe"][code]["written"] == 50
    # One alert: the history of 250 new series as one summary line.
    (alert,) = alerts(first.stderr)
    assert "first load of 250 new series" in first.stderr and "0 held" in first.stderr
    assert not query(run.db_url, "SELECT ticker FROM data_quality WHERE severity = 'critical'"), (
        "nothing critical on real data"
    )
    assert not query(run.db_url, "SELECT id FROM quarantine")
    # Gaps (the shared exchange outages) are recorded with their length, not as moves.
    gaps = query(
        run.db_url, "SELECT gaps FROM data_quality WHERE ticker = 'X:BTCUSDT' AND timeframe = '1h'"
    )
    assert gaps and all(g["missing"] >= 1 for g in gaps[0][0])
    # The universe-wide crash and DENT's +149 % day are stored as they happened.
    crash = pd.Timestamp("2021-05-19", tz="UTC")
    for pair in ("BTCUSDT", "ETHUSDT", "DOTUSDT", "XMRUSDT"):
        daily = run.store.read(f"X:{pair}", DAY).set_index("timestamp")
        want = pd.read_parquet(run.data / "1d" / f"{pair}.parquet").set_index("timestamp")
        assert daily.loc[crash, "close"] == want.loc[crash, "close"]
    dent = run.store.read("X:DENTUSDT", DAY).set_index("timestamp")["close"]
    day = pd.Timestamp("2021-02-11", tz="UTC")
    assert dent[day] / dent[day - pd.Timedelta(days=1)] > 2.4
    perl = pd.read_parquet(run.data / "1h" / "PERLUSDT.parquet")
    assert len(run.store.read("X:PERLUSDT", HOUR)) == (perl["timestamp"] < FIRST_NOW).sum()
    # Weeks and months are built from every one of their days, or not at all.
    days = pd.read_parquet(run.data / "1d" / "ALICEUSDT.parquet")["timestamp"]
    for code in ("1w", "1M"):
        timeframe = TIMEFRAMES[code]
        stamps = run.store.read("X:ALICEUSDT", timeframe)["timestamp"]
        assert len(stamps)
        for start in stamps:
            inside = ((days >= start) & (days < timeframe.next_open(start))).sum()
            assert inside == (timeframe.next_open(start) - start).days, (code, start)
        assert stamps.iloc[0] >= days.iloc[0]  # the listing's partial period is not a candle

    second = run("update", "--top", "50")
    again = json.loads(second.stdout)
    assert again["series"] == {"unchanged": 250} and again["alert"] is None
    assert alerts(second.stderr) == []


def _inject(data: Path, code: str, pair: str, after: pd.Timestamp) -> list[pd.Timestamp]:
    """Negative price, high < low, a duplicate timestamp and a 1000x print that reverts, in
    the candles after `after`; returns the defective candles' timestamps."""
    path = data / code / f"{pair}.parquet"
    frame = pd.read_parquet(path)
    rows = frame.index[frame["timestamp"] > after][[3, 9, 15, 21]]
    negative, inverted, duplicated, printed = rows
    frame.loc[negative, "low"] = -1.0
    frame.loc[inverted, "high"] = frame.loc[inverted, "low"] * 0.5
    frame.loc[printed, ["close", "high"]] = frame.loc[printed, "close"] * 1000
    frame = pd.concat([frame, frame.loc[[duplicated]].assign(volume=0.0)], ignore_index=True)
    frame.to_parquet(path, index=False)
    return [frame.loc[r, "timestamp"] for r in rows]


def test_defects_are_held_candle_by_candle_and_reviewed(universe_cli):
    run = universe_cli
    bad_sol = _inject(run.data, "1h", "SOLUSDT", FIRST_NOW)
    bad_eth = _inject(run.data, "4h", "ETHUSDT", FIRST_NOW)
    later = run("update", "--top", "50", now=LATER_NOW)
    report = json.loads(later.stdout)
    assert report["series"]["series_with_held"] == 2
    assert report["series"]["candles_held"] == 10  # 4 defects each, the duplicate twice
    (alert,) = alerts(later.stderr)
    assert "X:SOLUSDT 1h" in later.stderr and "X:ETHUSDT 4h" in later.stderr
    assert "print that reverts" in later.stderr
    entries = {
        (t, tf): (i, n)
        for i, t, tf, n in query(
            run.db_url,
            "SELECT id, ticker, timeframe, candles FROM quarantine WHERE status = 'held'",
        )
    }
    assert set(entries) == {("X:SOLUSDT", "1h"), ("X:ETHUSDT", "4h")}
    sol_id = entries[("X:SOLUSDT", "1h")][0]
    eth_id = entries[("X:ETHUSDT", "4h")][0]
    shown = json.loads(run("quarantine", "show", str(sol_id), now=LATER_NOW).stdout)
    assert sorted({pd.Timestamp(c["timestamp"]) for c in shown["held"]}) == sorted(bad_sol)
    # Exactly the defective candles are missing; the rest of the batch was written.
    sol = run.store.read("X:SOLUSDT", HOUR)
    want = pd.read_parquet(UNIVERSE / "1h" / "SOLUSDT.parquet").query("timestamp < @LATER_NOW")
    assert set(want["timestamp"]) - set(sol["timestamp"]) == set(bad_sol)
    eth = set(run.store.read("X:ETHUSDT", TIMEFRAMES["4h"])["timestamp"])
    want_eth = pd.read_parquet(UNIVERSE / "4h" / "ETHUSDT.parquet").query("timestamp < @LATER_NOW")
    assert set(want_eth["timestamp"]) - eth == set(bad_eth)

    # Later runs keep the series updating and do not hold or alert the same candles again.
    last = run("update", "--top", "50", now=LAST_NOW)
    assert json.loads(last.stdout)["series"].get("series_with_held", 0) == 0
    assert run.store.read("X:SOLUSDT", HOUR)["timestamp"].iloc[-1] == pd.Timestamp(
        "2021-06-20 16:00", tz="UTC"
    )
    assert alerts(last.stderr) == []

    # Release: the held candles through the normal merge; the cleaner still refuses the
    # impossible ones (negative price, high < low). Idempotent.
    released = json.loads(run("quarantine", "release", str(sol_id), now=LAST_NOW).stdout)
    assert released["changed"] and released["candles_written"] == 2  # the duplicate and the print
    refused_rows = {"non_positive_price", "inconsistent_ohlc", "duplicate_timestamp"}
    assert set(released["refused_by_cleaner"]) == refused_rows
    before = run.store.path("X:SOLUSDT", HOUR).read_bytes()
    again = json.loads(run("quarantine", "release", str(sol_id), now=LAST_NOW).stdout)
    assert again["changed"] is False and run.store.path("X:SOLUSDT", HOUR).read_bytes() == before
    stored = set(run.store.read("X:SOLUSDT", HOUR)["timestamp"])
    assert {bad_sol[2], bad_sol[3]} <= stored and bad_sol[0] not in stored
    # Discard: idempotent too; a discarded entry cannot be released.
    assert json.loads(run("quarantine", "discard", str(eth_id), now=LAST_NOW).stdout)["changed"]
    assert not json.loads(run("quarantine", "discard", str(eth_id)).stdout)["changed"]
    refused = run("quarantine", "release", str(eth_id), code=2)
    assert "discarded" in refused.stderr
    assert "no quarantine entry 999999" in run("quarantine", "show", "999999", code=2).stderr
    actions = dict(
        query(
            run.db_url,
            "SELECT timeframe, action FROM data_quality WHERE quarantine_path <> '' "
            "AND ticker IN ('X:SOLUSDT', 'X:ETHUSDT')",
        )
    )
    assert actions == {"1h": "released", "4h": "discarded"}
    listed = run("quarantine", "list", "--status", "all").stdout
    assert "released" in listed and "discarded" in listed


def test_cli_symbols_are_normalised_and_bad_names_refused(universe_cli):
    run = universe_cli
    ok = json.loads(
        run("update", "--symbols", "btcusdt", "X:BTCUSDT", "--timeframe", "1d", now=LAST_NOW).stdout
    )
    assert ok["series"] == {"unchanged": 1}
    for bad in ("../../etc/passwd", "X:BTC/USDT", "x:..", "BTC USDT"):
        refused = run("update", "--symbols", "ethusdt", bad, code=2)
        assert repr(bad) in refused.stderr and "outside the store" in refused.stderr
