"""A local Airflow on the CeleryExecutor for tests and benchmarks, through the stack's own code
(`candlecast.ops.stack`): its own Airflow database and API port, N workers, stopped at the end."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

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


def _dag_states(env: dict, dag_id: str, run_type: str) -> list[str]:
    import psycopg

    url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(url) as conn:
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
) -> Iterator[dict]:
    """Start the stack, run the DAG chain once (symbol_sync → ohlcv_update → train_models, or
    without training) and yield {"env", "seconds" (the chain's wall time), "stopped" (filled in
    at exit)}."""
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
    state: dict = {"env": env, "home": home, "stopped": []}
    try:
        start_airflow(env, run_dir, log_dir, "celery", workers, port, concurrency)
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
    import psycopg

    url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT dag_id, hostname FROM task_instance WHERE state = 'success'"
        ).fetchall()
    names: dict[str, set[str]] = {}
    for dag_id, hostname in rows:
        names.setdefault(dag_id, set()).add(hostname.rsplit("/", 1)[-1])
    return names
