"""Beyond one machine, on one machine: the DAG chain (symbol_sync → ohlcv_update → train_models,
chained by Assets) on Airflow's CeleryExecutor with two `airflow celery worker` processes (Redis
broker, PostgreSQL result backend), started and stopped by the local stack's own code; the
stores on an S3-API server (moto, loopback); the provider's plan limit held across both workers;
then a Bento on a fresh home, sharing no disk with the workers, serving the published models.
Each worker has a model store of its own, as on hosts of their own: a version trained on one
worker is gated against a champion it has only from the object store, and promoted by a
`release_models` run on the other."""

from __future__ import annotations

import json
import shutil
import uuid

import httpx
import pandas as pd
import psycopg
import pytest
from psycopg.rows import dict_row

from candlecast.marketdata import SampleProvider
from candlecast.modeling import model_name
from candlecast.modeling.model_sync import POINTER
from candlecast.ohlcv import open_store
from candlecast.ops.s3_client import ObjectStore
from candlecast.settings import SAMPLE_DATA_DIR, Settings
from candlecast.timeframes import TIMEFRAMES
from tests.support.bento_server import running_bento
from tests.support.celery_stack import celery_stack, only_on, run_dag, worker_names
from tests.support.databases import own_database
from tests.support.fake_provider import FakeProvider

pytestmark = pytest.mark.e2e
SAMPLE = SampleProvider(SAMPLE_DATA_DIR)
REQUESTS_PER_WINDOW = 12  # below what the chain asks for: the limit binds
WINDOW_SECONDS = 15  # the plan's window, a quarter of a minute: the chain waits less
WORKERS = 2


@pytest.fixture(scope="module")
def celery_chain(tmp_path_factory, database_url, redis_url, s3):
    home = tmp_path_factory.mktemp("celery-home")
    store_url = s3.create_bucket(f"cc-celery-{uuid.uuid4().hex[:8]}") + "/prod"
    data = tmp_path_factory.mktemp("celery-provider") / "sample"
    shutil.copytree(SAMPLE_DATA_DIR, data)
    settings = Settings(
        _env_file=None,
        candlecast_home=home,
        database_url=own_database(database_url, "celery"),
        redis_url=redis_url,
    )
    with FakeProvider(data) as fake:
        extra = {
            "CANDLECAST_STORE_URL": store_url,
            "CANDLECAST_PROVIDER": "polygon",
            "POLYGON_API_KEY": fake.faults.api_key,
            "POLYGON_BASE_URL": fake.base_url,
            "POLYGON_REQUESTS_PER_MINUTE": str(REQUESTS_PER_WINDOW),
            "POLYGON_RATE_WINDOW_SECONDS": str(WINDOW_SECONDS),
            "CANDLECAST_NOW": SAMPLE.now().isoformat(),
            "CANDLECAST_SYMBOL_BATCH_SIZE": "1",  # one mapped update per pair: work to share
        }
        with celery_stack(settings, WORKERS, extra, own_model_stores=True) as stack:
            yield {**stack, "fake": fake, "store_url": store_url}
        assert set(stack["stopped"]) == {
            "celery-worker-1",
            "celery-worker-2",
            "airflow-api-server",
            "airflow-scheduler",
            "airflow-dag-processor",
            "airflow-triggerer",
        }


def test_the_chain_ran_on_both_celery_workers(celery_chain):
    hosts = worker_names(celery_chain["env"])
    assert {"symbol_sync", "ohlcv_update", "train_models"} <= set(hosts)
    assert set().union(*hosts.values()) == {"celery-worker-1", "celery-worker-2"}
    workers_log = (celery_chain["home"] / "logs" / "celery-worker-1.log").read_text()
    assert "celery-worker-1@" in workers_log  # the worker's own Celery node name


def test_the_plan_limit_held_across_both_workers(celery_chain):
    fake = celery_chain["fake"]
    arrivals = fake.requests()
    assert len(arrivals) > REQUESTS_PER_WINDOW  # the chain needed more than one window
    assert fake.max_in_window(WINDOW_SECONDS) <= REQUESTS_PER_WINDOW
    assert [r for r in arrivals if r[2] == 429] == []  # never had to be told


def test_the_stores_live_on_the_object_store(celery_chain):
    store = open_store(celery_chain["store_url"] + "/store")
    pairs = [f"X:{p}USDT" for p in ("BNB", "BTC", "ETH", "SOL", "XRP")]
    for code in ("1h", "1d", "1M"):
        assert store.tickers(TIMEFRAMES[code]) == pairs, code
    stored = store.read("X:BTCUSDT", TIMEFRAMES["1d"])
    expected = SAMPLE.fetch_candles(
        "X:BTCUSDT", TIMEFRAMES["1d"], stored["timestamp"].iloc[0], SAMPLE.now()
    )
    pd.testing.assert_frame_equal(stored, expected.reset_index(drop=True))
    assert list(celery_chain["home"].rglob("X_*.parquet")) == []  # nothing on local disk
    models = ObjectStore(celery_chain["store_url"] + "/models")
    for timeframe in TIMEFRAMES.values():
        assert models.get(f"candlecast-{timeframe.slug}/{POINTER}") is not None, timeframe.code


def test_a_bento_replica_serves_the_published_models_without_shared_disk(celery_chain, tmp_path):
    replica_home = tmp_path / "replica"
    env = {
        **celery_chain["env"],
        "CANDLECAST_HOME": str(replica_home),
        "BENTOML_HOME": str(replica_home / "bentoml"),
    }
    with running_bento(env, tmp_path / "replica-bento.log") as url:
        response = httpx.post(
            f"{url}/predict",
            json={"symbol": "X:ETHUSDT", "timeframe": "1d", "steps": 3},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        assert len(response.json()["steps"]) == 3
        served = httpx.post(f"{url}/models", json={}, timeout=30).json()
    models = ObjectStore(celery_chain["store_url"] + "/models")
    published = {
        tf.code: json.loads(models.get(f"candlecast-{tf.slug}/{POINTER}").data)["tag"]
        for tf in TIMEFRAMES.values()
    }
    assert {m["timeframe"]: m["model"] for m in served["models"]} == published
    assert sorted(p.name for p in (replica_home / "bentoml" / "models").iterdir()) == sorted(
        f"candlecast-{tf.slug}" for tf in TIMEFRAMES.values()
    )


def _held(store, tag: str) -> bool:
    """Whether a worker's own model store holds the version `tag`."""
    name, _, version = tag.partition(":")
    return (store / "models" / name / version / "model.yaml").is_file()


def _versions(env: dict, timeframe: str) -> dict[str, dict]:
    with psycopg.connect(env["DATABASE_URL"], row_factory=dict_row) as conn:
        rows = conn.execute(
            "SELECT name || ':' || version AS tag, stage, gate FROM models WHERE timeframe = %s",
            (timeframe,),
        ).fetchall()
    return {row["tag"]: row for row in rows}


def test_a_version_trained_on_one_worker_is_promoted_by_a_release_run_on_the_other(
    celery_chain,
):
    """1M (the quickest to train again) retrained by a `train_models` run on the worker that did
    not train its champion, so its gate can only read the champion from the object store; then
    promoted by a `release_models` run on the other worker, which never holds the new version.
    Each run is kept to its worker by Celery's remote control (the other stops consuming
    Airflow's queue meanwhile); the task instances' hostnames say where each ran."""
    env, stores = celery_chain["env"], celery_chain["model_stores"]
    timeframe = TIMEFRAMES["1M"]
    (champion,) = [t for t, row in _versions(env, "1M").items() if row["stage"] == "champion"]
    holding = [worker for worker, store in stores.items() if _held(store, champion)]
    assert len(holding) == 1, holding  # trained on one worker; the other's store lacks it
    (releaser,) = holding
    (trainer,) = set(stores) - {releaser}

    with only_on(env, trainer, WORKERS):
        training = run_dag(env, "train_models", {"timeframes": ["1M"]})
    assert training["state"] == "success", training
    assert {t["worker"] for t in training["tasks"]} == {trainer}
    assert {t["map"]: t["state"] for t in training["tasks"]} == {
        code: "success" if code == "1M" else "skipped" for code in TIMEFRAMES
    }
    (challenger,) = set(_versions(env, "1M")) - {champion}
    gate = _versions(env, "1M")[challenger]["gate"]
    # compared with the champion (not "not_comparable": it was loaded), and no worse
    assert gate["verdict"] == "pass" and gate["champion"] == champion, gate
    assert gate["window"]["pairs"] > 0
    assert _held(stores[trainer], challenger) and _held(stores[trainer], champion)  # imported
    assert not _held(stores[releaser], challenger)

    promotion = {"action": "promote", "tag": challenger, "reason": "e2e: from the other worker"}
    with only_on(env, releaser, WORKERS):
        release = run_dag(env, "release_models", promotion)
    assert release["state"] == "success", release
    assert [(t["task"], t["worker"]) for t in release["tasks"]] == [("release", releaser)]
    stages = {tag: row["stage"] for tag, row in _versions(env, "1M").items()}
    assert stages == {champion: "retired", challenger: "champion"}
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        last = conn.execute(
            "SELECT r.action, t.name || ':' || t.version, r.actor FROM model_releases r "
            "JOIN models t ON t.id = r.to_model_id WHERE r.timeframe = '1M' "
            "ORDER BY r.id DESC LIMIT 1"
        ).fetchone()
    assert last == ("promote", challenger, f"release_models:{release['run_id']}")
    models = ObjectStore(celery_chain["store_url"] + "/models")
    pointer = json.loads(models.get(f"{model_name(timeframe)}/{POINTER}").data)
    assert pointer["tag"] == challenger  # replicas now import and serve it
    assert not _held(stores[releaser], challenger)  # promoted without a copy of its own
