"""Airflow on the CeleryExecutor, locally: the broker and result backend of a stack, and the
name each worker gives the task instances it runs.

Several workers on one host share its hostname, so each local worker is started with
`CANDLECAST_WORKER_NAME` and this module's `worker_hostname` as Airflow's hostname callable: a task
instance's `hostname` then reads `<host>/<worker>` (on separate hosts it is the host's name).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

WORKER_NAME_VARIABLE = "CANDLECAST_WORKER_NAME"
HOSTNAME_CALLABLE = "candlecast.ops.workers.worker_hostname"


def worker_hostname() -> str:
    host = socket.getfqdn()
    worker = os.environ.get(WORKER_NAME_VARIABLE)
    return f"{host}/{worker}" if worker else host


def celery_broker_url(redis_url: str) -> str:
    """Celery's broker on candlecast's Redis: `unix:///run/redis.sock` (the embedded server) is
    `redis+socket:///run/redis.sock` to kombu; redis:// and rediss:// URLs are used as they are."""
    parts = urlsplit(redis_url)
    if parts.scheme == "unix":
        return f"redis+socket://{parts.path}"
    if parts.scheme in ("redis", "rediss"):
        return redis_url
    raise ValueError(f"REDIS_URL {redis_url!r}: Celery needs redis://, rediss:// or unix://")


def celery_env(redis_url: str, airflow_sqlalchemy_url: str, api_port: int) -> dict[str, str]:
    """What every Airflow process of a Celery stack shares: the executor, the broker (Redis), the
    result backend (Airflow's PostgreSQL database) and where workers reach the Execution API."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": celery_broker_url(redis_url),
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{airflow_sqlalchemy_url}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        # a worker's calls to the Execution API wait out a busy API server (training on the
        # same cores) rather than fail the task
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
    }


def worker_argv(airflow: str, name: str, concurrency: int) -> list[str]:
    # --skip-serve-logs: the workers share this host's log folder with the API server, and
    # two log servers would compete for one port.
    return [
        airflow,
        "celery",
        "worker",
        "--concurrency",
        str(concurrency),
        "--celery-hostname",
        f"{name}@%h",
        "--skip-serve-logs",
    ]


def worker_env(name: str, model_store: Path | None = None) -> dict[str, str]:
    """A worker's own variables; `model_store`, its own BENTOML_HOME (a worker on a host of its
    own, as far as models go: what it did not train it has only from the object store)."""
    env = {WORKER_NAME_VARIABLE: name, "AIRFLOW__CORE__HOSTNAME_CALLABLE": HOSTNAME_CALLABLE}
    if model_store is not None:
        env["BENTOML_HOME"] = str(model_store)
    return env
