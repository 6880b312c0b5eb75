"""The data team's pipeline through real Airflow (`airflow dags test`), PostgreSQL and the
loopback fake provider: idempotent re-runs, quarantine of a bad batch, survived provider storms,
one alert per run, data health, and the Asset that schedules training."""

from __future__ import annotations

import json
import os
import shutil
import uuid

import pandas as pd
import psycopg
import pytest

from candlecast.ohlcv import CandleStore
from candlecast.ops import stack_env
from candlecast.settings import SAMPLE_DATA_DIR, Settings
from candlecast.timeframes import TIMEFRAMES
from tests.support.databases import own_database
from tests.support.fake_provider import FakeProvider, Fault
from tests.support.webhook import WebhookSink

from .conftest import BIN, PROJECT_DIR, run_airflow

pytestmark = pytest.mark.e2e
END = pd.Timestamp("2025-09-19 23:00", tz="UTC")  # the sample's "now"
SOL_1D = ("X:SOLUSDT", TIMEFRAMES["1d"])


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, database_url, redis_url):
    home = tmp_path_factory.mktemp("pipeline-home")
    data = tmp_path_factory.mktemp("provider") / "sample"
    shutil.copytree(SAMPLE_DATA_DIR, data)
    settings = Settings(
        _env_file=None,
        candlecast_home=home,
        database_url=own_database(database_url, "pipeline"),
        redis_url=redis_url,
    )
    with WebhookSink() as sink, FakeProvider(data) as fake:
        os.environ.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
        env = {
            **os.environ,
            **stack_env(settings, PROJECT_DIR, airflow_database=f"af_{uuid.uuid4().hex[:8]}"),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "CANDLECAST_PROVIDER": "sample",
            "CANDLECAST_SAMPLE_DIR": str(data),
            "CANDLECAST_NOW": (END - pd.Timedelta(days=3)).isoformat(),
            "AIRFLOW_CONN_CANDLECAST_SLACK": json.dumps(
                {"conn_type": "http", "password": sink.url}
            ),
        }
        run_airflow(env, "db", "migrate")
        run_airflow(env, "pools", "set", "market_data_api", "2", "provider concurrency")
        run_airflow(env, "dags", "reserialize")  # every DAG known, as the dag processor makes it
        run_airflow(env, "dags", "unpause", "train_models")  # paused DAGs are not queued
        yield {
            "env": env,
            "data": data,
            "sink": sink,
            "fake": fake,
            "settings": settings,
            "store": CandleStore(settings.store_dir),
        }


def dag_test(env: dict, dag_id: str) -> str:
    output = run_airflow(env, "dags", "test", dag_id)
    assert f"dag_id={dag_id}" in output and "state=success" in output, output[-6000:]
    return output


def query(url: str, sql: str, *args) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def corrupt_last_days(data, pair: str) -> list[pd.Timestamp]:
    """Defects in the last closed days; returns the defective days."""
    path = data / "1d" / f"{pair}.parquet"
    frame = pd.read_parquet(path)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    closed = frame.index[frame["timestamp"] <= pd.Timestamp("2025-09-18", tz="UTC")]
    bad = [frame.loc[i, "timestamp"] for i in (closed[-1], closed[-3])]
    frame.loc[closed[-1], "low"] = -3.0  # negative price
    frame = pd.concat([frame, frame.loc[[closed[-3]]].assign(volume=1.0)])  # a duplicate day
    frame.to_parquet(path, index=False)
    return bad


def test_pipeline_end_to_end(pipeline):
    env, store, sink = pipeline["env"], pipeline["store"], pipeline["sink"]
    db_url = env["DATABASE_URL"]

    dag_test(env, "symbol_sync")
    universe = query(db_url, "SELECT top_n, tickers FROM universe_runs ORDER BY recorded_at DESC")
    assert universe[0][1] and set(universe[0][1]) == {
        "X:BTCUSDT",
        "X:ETHUSDT",
        "X:BNBUSDT",
        "X:SOLUSDT",
        "X:XRPUSDT",
    }

    first = dag_test(env, "ohlcv_update")
    assert "'written': 25" in first
    snapshot = {
        str(p.relative_to(store.root)): p.read_bytes() for p in store.root.rglob("*.parquet")
    }
    assert len(snapshot) == 25

    # A second run of the same moment changes nothing.
    second = dag_test(env, "ohlcv_update")
    assert "'unchanged': 25" in second
    assert {
        str(p.relative_to(store.root)): p.read_bytes() for p in store.root.rglob("*.parquet")
    } == snapshot

    # The run that wrote emitted the Asset, saying what changed; the no-op run emitted nothing.
    af_url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("+psycopg", "")
    events = query(
        af_url,
        "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
        "WHERE a.uri LIKE 'candlecast://ohlcv%%' ORDER BY e.id",
    )
    assert len(events) == 1, events
    extra = events[0][0] if isinstance(events[0][0], dict) else json.loads(events[0][0])
    assert extra["series_written"] == 25
    assert extra["timeframes"] == {code: 5 for code in ("1h", "4h", "1d", "1w", "1M")}
    assert "no series written" in second
    queued = query(af_url, "SELECT target_dag_id FROM asset_dag_run_queue")
    assert ("train_models",) in queued

    # Three days later, SOL's daily batch arrives broken: its bad candles held, the rest written.
    sol_before = store.read(*SOL_1D)
    bad_days = corrupt_last_days(pipeline["data"], "SOLUSDT")
    env_later = {**env, "CANDLECAST_NOW": END.isoformat()}
    messages_before = len(sink.messages)
    third = dag_test(env_later, "ohlcv_update")
    assert "'series_with_held': 1" in third
    sol_after = store.read(*SOL_1D)
    new_days = set(sol_after["timestamp"]) - set(sol_before["timestamp"])
    assert new_days == {pd.Timestamp("2025-09-17", tz="UTC")}  # the good day of the three
    assert not set(bad_days) & set(sol_after["timestamp"])
    assert store.read("X:BTCUSDT", TIMEFRAMES["1d"])["timestamp"].iloc[-1] == pd.Timestamp(
        "2025-09-18", tz="UTC"
    )
    rows = query(
        db_url,
        "SELECT severity, action, failures::text, quarantine_path, held FROM data_quality "
        "WHERE ticker = 'X:SOLUSDT' AND timeframe = '1d' AND action = 'quarantined'",
    )
    assert rows, "the held candles are recorded"
    severity, _, failures, where, held = rows[-1]
    assert severity == "critical" and held == 3  # a negative price, a duplicate day (twice)
    for column in ("low", "series,timestamp"):
        assert column in failures
    assert os.path.exists(where) and os.path.exists(where.replace(".parquet", ".json"))
    entries = query(db_url, "SELECT ticker, timeframe, candles, status FROM quarantine")
    assert entries == [("X:SOLUSDT", "1d", 3, "held")]
    new_messages = sink.messages[messages_before:]
    assert len(new_messages) == 1, new_messages  # one summary, no storm
    assert "X:SOLUSDT 1d: 3 candle(s) held" in new_messages[0]["text"]
    docs = pipeline["settings"].gx_dir / "gx" / "uncommitted" / "data_docs" / "local_site"
    assert (docs / "index.html").exists()

    # Data health over the universe, recorded per timeframe.
    dag_test(env_later, "data_health")
    health = query(db_url, "SELECT timeframe, universe, covered FROM data_health")
    assert {row[0] for row in health} == {"1h", "4h", "1d", "1w", "1M"}
    assert all(row[1] == 5 and row[2] == 5 for row in health)


def test_provider_storms_are_survived_in_a_dag_run(pipeline):
    fake, env = pipeline["fake"], pipeline["env"]
    # A rate-limit window longer than six retries of backoff (~3 s here): outlasted, not counted.
    fake.storm(10)
    fake.faults.script = [
        Fault("aggs", "status", times=6, status=429),
        Fault("aggs", "html", times=4, status=504),
        Fault("aggs", "drop", times=2),
    ]
    polygon_env = {
        **env,
        "CANDLECAST_PROVIDER": "polygon",
        "POLYGON_API_KEY": fake.faults.api_key,
        "POLYGON_BASE_URL": fake.base_url,
        "POLYGON_BACKOFF_SECONDS": "0.05",
        "CANDLECAST_NOW": END.isoformat(),
    }
    output = dag_test(polygon_env, "ohlcv_update")
    statuses = [s for _, _, s in fake.requests("aggs")]
    storm = fake.storm_answers()
    # More 429s than the retry budget (6) and a success once the window closed: outlasted.
    assert len(storm) > 6
    assert any(t >= fake.faults.storm_until and s == 200 for t, _, s in fake.requests("aggs"))
    assert statuses.count(429) == len(storm) + 6
    assert statuses.count(504) == 4 and statuses.count(0) == 2
    assert "'failed'" not in output
    assert fake.faults.api_key not in output  # the key never reaches the logs
