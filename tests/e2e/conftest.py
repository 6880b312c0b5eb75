"""The walking skeleton for real: `airflow dags test` of the three DAGs, then `bentoml serve`."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from candlecast.ops import stack_env
from tests.support.bento_server import BIN, PROJECT_DIR, running_bento

DAG_ORDER = ("symbol_sync", "ohlcv_update", "train_models")
# The DAG runs carry a provider key (the sample provider ignores it) that must never be written
# anywhere: tests look for it in what the runs stored and printed.
CANARY_API_KEY = f"canary-{uuid.uuid4().hex}"


def run_airflow(env: dict, *args: str, timeout: float = 1800) -> str:
    result = subprocess.run(
        [str(BIN / "airflow"), *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"airflow {' '.join(args)} failed:\n{output[-5000:]}"
    return output


@pytest.fixture(scope="session")
def stack_environment(settings) -> dict:
    os.environ.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
    env = {
        **os.environ,
        **stack_env(settings, PROJECT_DIR, airflow_database=f"airflow_{uuid.uuid4().hex[:8]}"),
        "CANDLECAST_PROVIDER": "sample",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("POLYGON_API_KEY", None)
    run_airflow(env, "db", "migrate")
    run_airflow(env, "pools", "set", "market_data_api", "2", "provider concurrency")
    return env


@pytest.fixture(scope="session")
def dag_runs(stack_environment) -> dict[str, str]:
    """Each DAG once, in Asset order, with CANARY_API_KEY set; returns the output of each run."""
    env = {**stack_environment, "POLYGON_API_KEY": CANARY_API_KEY}
    outputs = {}
    for dag_id in DAG_ORDER:
        output = run_airflow(env, "dags", "test", dag_id)
        assert f"dag_id={dag_id}" in output and "state=success" in output, output[-5000:]
        outputs[dag_id] = output
    return outputs


@pytest.fixture(scope="session")
def bento_url(stack_environment, dag_runs, home):
    with running_bento(stack_environment, home / "bento-test.log") as url:
        yield url
