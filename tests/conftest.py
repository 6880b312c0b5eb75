"""Shared fixtures: a throw-away CANDLECAST_HOME with real PostgreSQL and Redis.

DATABASE_URL / REDIS_URL, when set, point at servers to use (a fresh database is created per
run); otherwise the embedded servers start under the temporary home and stop at the end.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from candlecast.ops import embedded, ensure_database, with_database
from candlecast.settings import Settings

# Before anything imports airflow: a private AIRFLOW_HOME, no example DAGs, no analytics.
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="cc-airflow-home-")
atexit.register(shutil.rmtree, os.environ["AIRFLOW_HOME"], ignore_errors=True)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")
# Before OpenMP (XGBoost, scikit-learn) loads, as the stack sets it: trainings overlap (this
# process's, its stacks'), and idle OpenMP threads must not spin on the cores others need.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

PROJECT_DIR = Path(__file__).resolve().parents[1]

# pytest-timeout's default (pyproject: 900 s, fixture setup included) is for a test that hangs;
# a test using a fixture that trains models (once per session or module, in the first test that
# asks) may legitimately run long on 2 busy cores, and gets this instead.
TRAINING_FIXTURES = {
    "dag_runs",
    "releases_home",
    "planted",
    "absent",
    "celery_chain",
    "pipeline",
    "synthetic_models",
}
TRAINING_TIMEOUT_SECONDS = 3600


# pytest-xdist (`make test` runs `-n 2`): each module is one unit of work, so its module fixtures
# are built once; every module that uses the session's Airflow stack and Bento is one unit with
# the others, so that stack is trained and served once. The units go out longest first.
STACK_FIXTURES = ("stack_environment", "dag_runs", "bento_url")
STACK_GROUP = "session-stack"


@functools.cache
def work_unit(module: str) -> str:
    """The unit of work of a test module (its path as in node ids): read from its text, since
    the scheduler, in pytest's main process, sees node ids and no fixtures."""
    text = (PROJECT_DIR / module).read_text()
    return STACK_GROUP if re.search(rf"\b({'|'.join(STACK_FIXTURES)})\b", text) else module


def _longest_first(unit: str, training_units: set[str]) -> int:
    if unit == STACK_GROUP:
        return 0
    if unit.startswith("tests/e2e/"):
        return 1
    return 2 if unit in training_units else 3


def pytest_collection_modifyitems(items) -> None:
    training_units = set()
    for item in items:
        if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
            training_units.add(work_unit(item.nodeid.split("::")[0]))
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(TRAINING_TIMEOUT_SECONDS))
    items.sort(
        key=lambda item: _longest_first(work_unit(item.nodeid.split("::")[0]), training_units)
    )


def pytest_xdist_make_scheduler(config, log):
    """Scopes are work units (xdist's own `xdist_group` marks rename node ids, which pytest 9's
    ids no longer allow); handed out in the collection's order (`--no-loadscope-reorder`)."""
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnits(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid.split("::")[0])

    return WorkUnits(config, log)


@pytest.fixture(scope="session")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cchome")


@pytest.fixture(scope="session")
def database_url(home):
    external = os.environ.get("DATABASE_URL")
    if external:
        name = f"candlecast_test_{uuid.uuid4().hex[:8]}"
        ensure_database(external, name)
        yield with_database(external, name)
        with psycopg.connect(external, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    yield embedded.start_postgres(home)
    embedded.stop_postgres(home)


def worker_database(redis_url: str) -> str:
    """Under pytest-xdist, a Redis database of each process's own on a shared server (tests
    flush theirs): gw0 the one given, gwN the Nth after it."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    parts = urlsplit(redis_url)
    given = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(given + worker) % 16}"))


@pytest.fixture(scope="session")
def redis_url(home):
    external = os.environ.get("REDIS_URL")
    if external:
        yield worker_database(external)
        return
    yield embedded.start_redis(home)
    embedded.stop_redis(home)


@pytest.fixture(scope="session")
def settings(home, database_url, redis_url) -> Settings:
    return Settings(
        candlecast_home=home,
        database_url=database_url,
        redis_url=redis_url,
        polygon_api_key=None,
        candlecast_provider="sample",
    )


@pytest.fixture
def conn(settings):
    from candlecast.ops import db

    with db.connect(settings) as connection:
        yield connection


@pytest.fixture
def fresh_database_url(database_url):
    """A database of its own on the tests' server (migrated by the first component that
    connects), for tests whose symbols must not meet other tests' symbols."""
    name = f"candlecast_t_{uuid.uuid4().hex[:10]}"
    ensure_database(database_url, name)
    yield with_database(database_url, name)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def s3(home):
    """A loopback S3-API server (moto server mode); its AWS variables are set for the session,
    so every client this process and its children create reach it."""
    from tests.support.s3_server import S3Server

    with S3Server(home / "moto.log") as server:
        saved = {k: os.environ.get(k) for k in server.env}
        os.environ.update(server.env)
        yield server
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def synthetic_models(tmp_path_factory):
    """Synthetic universes' 1h trainings, each once per session (test_power, test_skill_served)."""
    from tests.support.synthetic_models import SyntheticModels

    return SyntheticModels(tmp_path_factory.mktemp("synthetic-models"))


@pytest.fixture
def store_url(s3) -> str:
    """A bucket of its own on the loopback S3 server, with a prefix (as in production)."""
    return s3.create_bucket(f"cc-{uuid.uuid4().hex[:12]}") + "/candlecast"
