"""The environment every process of a local stack shares: URLs, Airflow and BentoML homes."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from candlecast.ops.db import database_url as resolve_database_url
from candlecast.ops.db import sqlalchemy_url
from candlecast.ops.redis_conn import redis_url as resolve_redis_url
from candlecast.settings import Settings

AIRFLOW_DATABASE = "airflow"


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def ensure_database(url: str, database: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')


def stack_env(
    settings: Settings, project_dir: Path, airflow_database: str = AIRFLOW_DATABASE
) -> dict[str, str]:
    """Airflow's metadata lives in its own database on the same server, unless
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN says otherwise."""
    database_url, redis_url = resolve_database_url(settings), resolve_redis_url(settings)
    airflow_url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    if not airflow_url:
        ensure_database(database_url, airflow_database)
        airflow_url = sqlalchemy_url(with_database(database_url, airflow_database))
    home = settings.home
    # the data set the sample provider serves (make up DATA=universe: the 50-pair universe)
    offline = {"CANDLECAST_SAMPLE_DIR": str(Path(settings.candlecast_sample_dir).resolve())}
    return {
        **offline,
        "CANDLECAST_HOME": str(home),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "BENTOML_HOME": str(settings.bentoml_home),
        "BENTOML_DO_NOT_TRACK": "True",
        "GX_ANALYTICS_ENABLED": "false",
        "KERAS_BACKEND": "jax",
        # XGBoost's and scikit-learn's OpenMP threads sleep when idle instead of spinning: the
        # executor runs several trainings at once on the same cores, and spinning threads took
        # the cores the others needed (bench/bench_concurrent_training.py)
        "OMP_WAIT_POLICY": "PASSIVE",
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(project_dir / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(project_dir / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_url,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": airflow_url,
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }
