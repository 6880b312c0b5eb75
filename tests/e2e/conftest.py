"""The walking skeleton for real: `airflow dags test` of the three DAGs, then `bentoml serve`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from candlecast.stackenv import stack_env

PROJECT_DIR = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DAG_ORDER = ("symbol_sync", "ohlcv_update", "train_models")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
    """Each DAG once, in Asset order; returns the output of each run."""
    outputs = {}
    for dag_id in DAG_ORDER:
        output = run_airflow(stack_environment, "dags", "test", dag_id)
        assert f"dag_id={dag_id}" in output and "state=success" in output, output[-5000:]
        outputs[dag_id] = output
    return outputs


@pytest.fixture(scope="session")
def bento_url(stack_environment, dag_runs, home):
    port = _free_port()
    log = open(home / "bento-test.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [
            str(BIN / "bentoml"),
            "serve",
            "bento.service:Candlecast",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--working-dir",
            str(PROJECT_DIR),
        ],
        env=stack_environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(
                f"bentoml serve did not become ready:\n{(home / 'bento-test.log').read_text()[-5000:]}"
            )
        time.sleep(0.5)
    yield url
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
