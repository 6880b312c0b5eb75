"""A local Airflow on the CeleryExecutor for tests and benchmarks, through the stack's own code
(`candlecast.ops.stack`): its own Airflow database and API port, N workers, stopped at the end."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from candlecast.ops.stack import (
    airflow_env,
    run_pipeline_once,
    start_airflow,
    stop_airflow,
    wait_http,
)
from candlecast.settings import Settings
from tests.support.bento_server import BIN, PROJECT_DIR, free_port


def airflow(env: dict, *args: str) -> str:
    result = subprocess.run(
        [str(BIN / "airflow"), *args], env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, f"airflow {' '.join(args)}:\n{result.stderr[-4000:]}"
    return result.stdout


def _airflow_db(env: dict):
    import psycopg

    url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("postgresql+psycopg", "postgresql")
    return psycopg.connect(url)


def _dag_states(env: dict, dag_id: str, run_type: str) -> list[str]:
    with _airflow_db(env) as conn:
        rows = conn.execute(
            "SELECT state FROM dag_run WHERE dag_id = %s AND run_type = %s ORDER BY id",
            (dag_id, run_type),
        ).fetchall()
    return [row[0] for row in rows]


def run_ingest_once(env: dict, timeout: float) -> None:
    """symbol_sync, then the ohlcv_update its Asset triggers (train_models left paused)."""
    for dag_id in ("ohlcv_update", "symbol_sync"):
        airflow(env, "dags", "unpause", dag_id)
    airflow(env, "dags", "trigger", "symbol_sync")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = _dag_states(env, "ohlcv_update", "asset_triggered")
        assert "failed" not in states, "ohlcv_update failed"
        if "success" in states:
            return
        time.sleep(2)
    raise AssertionError(f"ohlcv_update did not succeed within {timeout:.0f} s")


@contextmanager
def celery_stack(
    settings: Settings,
    workers: int,
    extra_env: dict,
    timeout: float = 2400,
    concurrency: int = 2,
    through_training: bool = True,
    own_model_stores: bool = False,
) -> Iterator[dict]:
    """Start the stack, run the DAG chain once (symbol_sync → ohlcv_update → train_models, or
    without training) and yield {"env", "seconds" (the chain's wall time), "model_stores"
    (each worker's own BENTOML_HOME, with `own_model_stores`; else the shared one), "stopped"
    (filled in at exit)}."""
    home = settings.home
    os.environ.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
    port = free_port()
    shared = airflow_env(
        settings, PROJECT_DIR, "celery", port, airflow_database=f"af_{uuid.uuid4().hex[:8]}"
    )
    env = {
        **os.environ,
        **shared,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **extra_env,
    }
    airflow(env, "db", "migrate")
    airflow(env, "pools", "set", "market_data_api", "4", "provider concurrency")
    airflow(env, "dags", "reserialize")
    run_dir, log_dir = home / "run", home / "logs"
    run_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    own = home / "worker-model-stores" if own_model_stores else None
    names = [f"celery-worker-{n}" for n in range(1, workers + 1)]
    stores = {name: Path(env["BENTOML_HOME"]) if own is None else own / name for name in names}
    state: dict = {"env": env, "home": home, "model_stores": stores, "stopped": []}
    try:
        start_airflow(env, run_dir, log_dir, "celery", workers, port, concurrency, own)
        wait_http(f"http://127.0.0.1:{port}/api/v2/monitor/health", 300, "the API server")
        started = time.monotonic()
        if through_training:
            run_pipeline_once(env, timeout=timeout)
        else:
            run_ingest_once(env, timeout)
        state["seconds"] = time.monotonic() - started
        yield state
    finally:
        state["stopped"] = stop_airflow(run_dir)


def worker_names(env: dict) -> dict[str, set[str]]:
    """Per DAG, the workers its successful task instances ran on (`<host>/<worker>`)."""
    with _airflow_db(env) as conn:
        rows = conn.execute(
            "SELECT dag_id, hostname FROM task_instance WHERE state = 'success'"
        ).fetchall()
    names: dict[str, set[str]] = {}
    for dag_id, hostname in rows:
        names.setdefault(dag_id, set()).add(hostname.rsplit("/", 1)[-1])
    return names


def _api(env: dict) -> httpx.Client:
    """Airflow's REST API as the stack's admin (its generated password): quicker than the CLI,
    which imports Airflow on every call."""
    base = f"http://127.0.0.1:{env['AIRFLOW__API__PORT']}"
    passwords = Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
    user, password = next(iter(json.loads(passwords.read_text()).items()))
    login = httpx.post(
        f"{base}/auth/token", json={"username": user, "password": password}, timeout=60
    )
    assert login.status_code == 201, login.text
    token = login.json()["access_token"]
    return httpx.Client(
        base_url=f"{base}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


def run_dag(env: dict, dag_id: str, conf: dict, timeout: float = 900) -> dict:
    """Trigger `dag_id` with `conf` (unpaused first) and wait for the run to finish; returns
    {"run_id", "state", "tasks": [{"task", "map", "state", "worker", "queue"}]}."""
    run_id = f"e2e-{dag_id}-{uuid.uuid4().hex[:8]}"
    with _api(env) as api:
        unpaused = api.patch(f"/dags/{dag_id}", json={"is_paused": False})
        assert unpaused.status_code == 200, unpaused.text
        run = {"dag_run_id": run_id, "logical_date": None, "conf": conf}
        triggered = api.post(f"/dags/{dag_id}/dagRuns", json=run)
        assert triggered.status_code == 200, triggered.text
    deadline = time.monotonic() + timeout
    while True:
        with _airflow_db(env) as conn:
            row = conn.execute(
                "SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", (dag_id, run_id)
            ).fetchone()
            if row and row[0] in ("success", "failed"):
                tasks = conn.execute(
                    "SELECT task_id, rendered_map_index, state, hostname, queue FROM "
                    "task_instance WHERE dag_id = %s AND run_id = %s ORDER BY task_id, map_index",
                    (dag_id, run_id),
                ).fetchall()
                break
        if time.monotonic() > deadline:
            raise AssertionError(f"{dag_id} run {run_id} did not finish within {timeout:.0f} s")
        time.sleep(1)
    return {
        "run_id": run_id,
        "state": row[0],
        "tasks": [
            {
                "task": task,
                "map": label,
                "state": state,
                "worker": (hostname or "").rsplit("/", 1)[-1],
                "queue": queue,
            }
            for task, label, state, hostname, queue in tasks
        ],
    }


@contextmanager
def only_on(env: dict, worker: str, workers: int, queue: str = "default") -> Iterator[None]:
    """Tasks of `queue` (Airflow's default one) go to `worker` alone while inside: every other
    worker stops consuming it, as `celery control cancel_consumer` does, and starts again at
    exit. Each step waits for the workers' replies."""
    from celery import Celery

    app = Celery(broker=env["AIRFLOW__CELERY__BROKER_URL"])

    def consuming() -> dict[str, set[str]]:
        replies = app.control.inspect(timeout=30, limit=workers).active_queues() or {}
        return {node: {q["name"] for q in queues} for node, queues in replies.items()}

    nodes = consuming()
    assert len(nodes) == workers and all(queue in q for q in nodes.values()), nodes
    others = sorted(node for node in nodes if not node.startswith(f"{worker}@"))
    assert len(others) == workers - 1, (worker, nodes)
    try:
        app.control.cancel_consumer(queue, destination=others, reply=True, timeout=30)
        assert {node: queue in q for node, q in consuming().items()} == {
            node: node not in others for node in nodes
        }
        yield
    finally:
        app.control.add_consumer(queue, destination=others, reply=True, timeout=30)
        app.close()
