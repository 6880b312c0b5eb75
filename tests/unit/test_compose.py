"""deploy/compose.yaml as docker-compose resolves it (`docker-compose config`, Debian's package,
installed by `make system-deps`, which .ci/run runs): Celery everywhere, the stores wherever
candlecast code runs, secrets only from the env file, healthchecks and restart policies on every
long-lived service, and an API closed to anonymous callers."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from candlecast.settings import Settings
from tests.conftest import PROJECT_DIR

DEPLOY = PROJECT_DIR / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / ".env.example"
AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
# Services that run candlecast code against the stores (tasks run on the workers; the Bento
# serves; init migrates; every Airflow component shares one environment).
STORE_USERS = AIRFLOW_SERVICES | {"bento", "flower"}
SECRETS = (
    "POSTGRES_PASSWORD",
    "AIRFLOW_DB_PASSWORD",
    "CANDLECAST_DB_PASSWORD",
    "REDIS_PASSWORD",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "AIRFLOW_FERNET_KEY",
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_API_SECRET_KEY",
    "AIRFLOW_ADMIN_PASSWORD",
)


@pytest.fixture(scope="module")
def docker_compose() -> str:
    """Installed before the tests (`make system-deps`, which .ci/run runs), never by a test."""
    found = shutil.which("docker-compose")
    if found is None:
        pytest.fail(
            "docker-compose is not installed: run `make system-deps` (Debian's docker-compose "
            "package, what .ci/run installs) or `apt-get install docker-compose`"
        )
    return found


def compose_config(
    docker_compose: str, env_file: Path, *profiles: str
) -> subprocess.CompletedProcess:
    argv = [docker_compose, "--env-file", str(env_file), "-f", str(COMPOSE)]
    for profile in profiles:
        argv += ["--profile", profile]
    # compose reads the calling shell's variables too: only the env file may speak here
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
    return subprocess.run([*argv, "config"], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def secret_values(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    values = {name: secrets.token_hex(12) for name in SECRETS}
    env_file = tmp_path_factory.mktemp("compose") / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return env_file, values


@pytest.fixture(scope="module")
def config(docker_compose, secret_values) -> dict:
    env_file, _ = secret_values
    result = compose_config(docker_compose, env_file, "flower")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_the_stack_has_every_component(config):
    assert set(config["services"]) == AIRFLOW_SERVICES | {
        "postgres",
        "redis",
        "object-store",
        "object-store-init",
        "flower",
        "bento",
    }


def test_airflow_runs_on_celery_with_redis_broker_and_postgres_results(config):
    for name in AIRFLOW_SERVICES | {"flower"}:
        env = config["services"][name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://"), name
        assert "@redis:6379/0" in env["AIRFLOW__CELERY__BROKER_URL"], name
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql"), name
        assert "@postgres:5432/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith(
            "http://airflow-apiserver:8080/"
        ), name
    worker = config["services"]["airflow-worker"]
    assert worker["command"][:3] == ["airflow", "celery", "worker"]
    assert "container_name" not in worker and "ports" not in worker  # --scale needs both gone


def test_every_service_running_candlecast_gets_the_stores(config, secret_values):
    _, values = secret_values
    for name in STORE_USERS:
        env = config["services"][name]["environment"]
        assert env["CANDLECAST_STORE_URL"].startswith("s3://"), name
        assert env["AWS_ENDPOINT_URL_S3"] == "http://minio:9000", name
        assert env["AWS_ACCESS_KEY_ID"] == values["S3_ACCESS_KEY_ID"], name
        assert env["AWS_SECRET_ACCESS_KEY"] == values["S3_SECRET_ACCESS_KEY"], name
        assert env["DATABASE_URL"].startswith("postgresql://candlecast:"), name
        assert "@postgres:5432/candlecast" in env["DATABASE_URL"], name
        assert env["REDIS_URL"] == f"redis://:{values['REDIS_PASSWORD']}@redis:6379/1", name
    minio = config["services"]["object-store"]
    assert "minio" in minio["networks"]["default"]["aliases"]
    assert minio["environment"]["MINIO_ROOT_PASSWORD"] == values["S3_SECRET_ACCESS_KEY"]


def test_long_lived_services_have_healthchecks_restarts_and_limits(config):
    one_shot = {"airflow-init", "object-store-init"}
    for name, service in config["services"].items():
        if name in one_shot:
            assert service.get("restart") == "no", name
            continue
        assert service["healthcheck"]["test"], name
        assert service["restart"] in ("always", "unless-stopped"), name
        assert service["deploy"]["resources"]["limits"]["memory"], name
    assert config["services"]["flower"]["profiles"] == ["flower"]
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        needs = config["services"][name]["depends_on"]
        assert needs["airflow-init"]["condition"] == "service_completed_successfully", name
        assert needs["postgres"]["condition"] == "service_healthy", name
    bento = config["services"]["bento"]
    assert bento["command"][:3] == ["bentoml", "serve", "bento.service:Candlecast"]
    assert bento["build"]["dockerfile"] == "Dockerfile"
    assert (Path(bento["build"]["context"]) / "Dockerfile").is_file()


def test_secrets_come_only_from_the_env_file(docker_compose, secret_values, tmp_path):
    env_file, values = secret_values
    text = COMPOSE.read_text()
    for value in values.values():
        assert value not in text
    # each secret the file names is required: leaving one out fails with its name
    for missing in ("REDIS_PASSWORD", "AIRFLOW_FERNET_KEY", "S3_SECRET_ACCESS_KEY"):
        partial = tmp_path / f"without-{missing}"
        partial.write_text("".join(f"{k}={v}\n" for k, v in values.items() if k != missing))
        result = compose_config(docker_compose, partial)
        assert result.returncode != 0 and missing in result.stderr, (missing, result.stderr)


def test_env_example_documents_every_variable_and_validates(docker_compose):
    code = "\n".join(
        line for line in COMPOSE.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    named = set(re.findall(r"(?<!\$)\$\{(\w+)", code))  # $${...} is the container's own
    documented = set(re.findall(r"^#?\s*(\w+)=", ENV_EXAMPLE.read_text(), flags=re.M))
    assert named - documented == set()
    assert compose_config(docker_compose, ENV_EXAMPLE).returncode == 0


def test_the_api_is_closed_to_anonymous_callers(config, docker_compose, monkeypatch):
    """Whether the env file leaves the setting out (the generated one) or sets it (the
    example): the Bento requires keys, as the service's Settings read it."""
    example = compose_config(docker_compose, ENV_EXAMPLE)
    assert example.returncode == 0, example.stderr
    for resolved in (config, yaml.safe_load(example.stdout)):
        value = resolved["services"]["bento"]["environment"]["CANDLECAST_REQUIRE_API_KEY"]
        monkeypatch.setenv("CANDLECAST_REQUIRE_API_KEY", str(value))
        assert Settings(_env_file=None).candlecast_require_api_key is True, value
