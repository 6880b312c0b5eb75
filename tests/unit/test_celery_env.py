"""The local stack's environment per executor: LocalExecutor exactly as before, or Celery with
Redis as broker and Airflow's PostgreSQL as result backend; workers that name themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from candlecast.ops.stack import airflow_env
from candlecast.ops.workers import celery_broker_url, worker_env, worker_hostname
from tests.conftest import PROJECT_DIR


def test_local_executor_environment_has_no_celery(settings):
    env = airflow_env(settings, PROJECT_DIR, "local", 18080, airflow_database="airflow_env_t")
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__API__PORT"] == "18080"
    assert not [k for k in env if "CELERY" in k]


@pytest.mark.parametrize("executor", ["local", "celery"])
def test_every_executor_keeps_idle_openmp_threads_off_the_cores(settings, executor):
    """Trainings run side by side (4 tasks, or 2 workers x 2): OpenMP threads that spin while
    idle took the cores the others needed (bench/bench_concurrent_training.py)."""
    env = airflow_env(settings, PROJECT_DIR, executor, 18082, airflow_database="airflow_env_t")
    assert env["OMP_WAIT_POLICY"] == "PASSIVE"


def test_celery_environment_names_broker_backend_and_api(settings):
    env = airflow_env(settings, PROJECT_DIR, "celery", 18081, airflow_database="airflow_env_t")
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == celery_broker_url(env["REDIS_URL"])
    backend = env["AIRFLOW__CELERY__RESULT_BACKEND"]
    assert backend == "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert backend.startswith("db+postgresql+psycopg://")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18081/execution/"
    with pytest.raises(ValueError, match="use 'local' or 'celery'"):
        airflow_env(settings, PROJECT_DIR, "kubernetes")


def test_broker_urls_and_worker_names(monkeypatch):
    assert celery_broker_url("unix:///run/cc/redis.sock") == "redis+socket:///run/cc/redis.sock"
    assert celery_broker_url("redis://:pw@redis:6379/1") == "redis://:pw@redis:6379/1"
    with pytest.raises(ValueError, match="Celery needs redis://"):
        celery_broker_url("memcached://x")
    plain = worker_hostname()
    monkeypatch.setenv("CANDLECAST_WORKER_NAME", "celery-worker-2")
    assert worker_hostname() == f"{plain}/celery-worker-2"
    assert worker_env("w")["AIRFLOW__CORE__HOSTNAME_CALLABLE"] == (
        "candlecast.ops.workers.worker_hostname"
    )
    assert "BENTOML_HOME" not in worker_env("w")  # the host's model store, shared
    assert worker_env("w", Path("/s/w"))["BENTOML_HOME"] == "/s/w"
