"""`candlecast bento build` (`make bento`) offline into a temporary BentoML home, then `bentoml
serve` of the built Bento: the release artifact, pinned to the champions of the moment.

The champions are exported from the session's store and imported into the temporary one (rather
than building and serving against the session store), so the built Bento is served from a home
that holds nothing but the Bento and the serving models; the promotion after the build happens
in a database of its own, so the session's champions stay as they were.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import tarfile
import uuid
from datetime import UTC, datetime
from importlib.metadata import packages_distributions
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import yaml
from psycopg.rows import dict_row

from candlecast.modeling import releases
from candlecast.ops import db, ensure_database, with_database
from candlecast.timeframes import TIMEFRAMES
from tests.support.bento_server import BIN, PROJECT_DIR, eventually, running_bento, workers

pytestmark = pytest.mark.e2e
SERVING_ENTRY_POINTS = ("bento/service.py",)
# Imported by name at run time, never by an import statement of ours.
RUNTIME_ONLY = {"keras": {"jax", "jaxlib"}, "psycopg": {"psycopg-binary"}}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _module_file(name: str) -> Path | None:
    base = PROJECT_DIR.joinpath(
        "include" if name.startswith("candlecast") else "", *name.split(".")
    )
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imported_names(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return names


def serving_closure() -> tuple[set[Path], set[str]]:
    """Our files serving can import (function-level imports too, and the migrations alembic
    runs), and the distributions of every third-party module they import."""
    migrations = PROJECT_DIR / "include/candlecast/ops/migrations"
    queue = [PROJECT_DIR / p for p in SERVING_ENTRY_POINTS] + list(migrations.rglob("*.py"))
    files, third_party = set(), set()
    while queue:
        path = queue.pop()
        if path in files:
            continue
        files.add(path)
        for name in _imported_names(path):
            top = name.partition(".")[0]
            if top in ("candlecast", "bento"):
                parts = name.split(".")
                found = (_module_file(".".join(parts[:i])) for i in range(1, len(parts) + 1))
                queue += [f for f in found if f is not None]
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
    distributions = packages_distributions()
    needed = {normalise(d) for top in third_party for d in distributions[top]}
    return files, needed | {
        d for top, extra in RUNTIME_ONLY.items() if top in needed for d in extra
    }


def pins(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        requirement = line.split("#")[0].strip()
        if "==" in requirement:
            name, version = requirement.split("==")
            found[normalise(name)] = version.strip()
    return found


def test_bentofile_lists_exactly_the_serving_packages_pinned_as_requirements():
    bentofile = yaml.safe_load((PROJECT_DIR / "bentofile.yaml").read_text())
    listed = pins(bentofile["python"]["packages"])
    _, needed = serving_closure()
    assert set(listed) == needed, (
        f"missing {sorted(needed - set(listed))}, unneeded {sorted(set(listed) - needed)}"
    )
    required = pins((PROJECT_DIR / "requirements.txt").read_text().splitlines())
    assert {n: v for n, v in listed.items() if required.get(n) != v} == {}
    assert bentofile["python"]["lock_packages"] is False


def _offline(command: list[str]) -> list[str]:
    """In a network namespace of its own (loopback only, down) where the machine allows it:
    as root a plain one (the embedded PostgreSQL's socket folder belongs to its own user), else
    one in a user namespace."""
    unshare = shutil.which("unshare")
    for flags in ("-n", "-rn"):
        if (
            unshare
            and subprocess.run([unshare, flags, "true"], capture_output=True).returncode == 0
        ):
            return [unshare, flags, *command]
    return command


# Run in the build's environment (and namespace): it must not reach an index or the internet.
_REACH = """
import sys, urllib.request
try:
    urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=10)
except OSError as error:
    sys.exit(f"unreachable: {error}")
print("reached")
"""


def assert_isolated(env: dict, offline: bool, work: Path) -> None:
    """Up front, in exactly the environment the build runs in: pip finds no package and an
    HTTPS request fails. If either gets through, the build would not prove it needs no network:
    fail loudly rather than run it with the network."""
    checks = {
        "pip download": [str(BIN / "pip"), "download", "--no-deps", "--dest", str(work), "pip"],
        "an HTTPS request": [str(BIN / "python"), "-c", _REACH],
    }
    for what, command in checks.items():
        result = subprocess.run(
            _offline(command) if offline else command,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode != 0, (
            f"the offline build is not isolated: {what} succeeded in its environment\n"
            f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )


def _run_tool(name: str, env: dict, args: tuple, offline: bool, timeout: float) -> str:
    command = [str(BIN / name), *args]
    result = subprocess.run(
        _offline(command) if offline else command,
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{name} {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


def bentoml(env: dict, *args: str, offline: bool = False, timeout: float = 600) -> str:
    return _run_tool("bentoml", env, args, offline, timeout)


def candlecast(env: dict, *args: str, offline: bool = False, timeout: float = 900) -> str:
    return _run_tool("candlecast", env, args, offline, timeout)


def champions(database_url: str) -> dict[str, str]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return releases.champion_tags(conn)


@pytest.fixture(scope="module")
def built(stack_environment, dag_runs, tmp_path_factory) -> dict:
    """`candlecast bento build` (what `make bento` runs) without network into a temporary
    BentoML home outside the build context, holding the session's champions and nothing else."""
    # BentoML 1.4 looks for uv on every build, even when it will not lock (and then never runs
    # it); without uv installed it tries to pip-install it from the network.
    assert (BIN / "uv").exists(), "uv must be installed in the venv (see requirements.txt)"
    work = tmp_path_factory.mktemp("bento-build")
    home = work / "bentoml"
    env = {
        **stack_environment,
        "BENTOML_HOME": str(home),
        # Any registry or lock service would be reached through these: nothing listens there.
        "PIP_NO_INDEX": "1",
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "UV_OFFLINE": "1",
    }
    pinned = champions(stack_environment["DATABASE_URL"])
    assert set(pinned) == set(TIMEFRAMES)
    for tag in pinned.values():
        archive = work / f"{tag.replace(':', '-')}.bentomodel"
        bentoml(stack_environment, "models", "export", tag, str(archive))
        bentoml(env, "models", "import", str(archive))
    # The build reads the champions from PostgreSQL: in a namespace without network when the
    # database is reached through a Unix socket (the embedded one), else with the proxies above.
    offline = urlsplit(stack_environment["DATABASE_URL"]).hostname is None
    assert_isolated(env, offline, work / "pip-probe")
    output = candlecast(env, "bento", "build", "--project-dir", str(PROJECT_DIR), offline=offline)
    result = json.loads(output[output.index("{") :])
    tag = result["bento"]
    path = home / "bentos" / tag.replace(":", "/")
    models = {m["tag"] for m in json.loads(bentoml(env, "models", "list", "-o", "json"))}
    return {"tag": tag, "path": path, "env": env, "work": work, "models": models, "pinned": pinned}


def test_the_build_holds_serving_code_and_models_only(built):
    source = built["path"] / "src"
    files, _ = serving_closure()
    for path in files:
        assert (source / path.relative_to(PROJECT_DIR)).exists(), f"missing {path}"
    packed = {p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()}
    assert not [p for p in packed if p.startswith(("tests/", "dags/", "bench/", ".candlecast/"))]
    assert not [p for p in packed if p.startswith("include/candlecast/modeling/training/")]
    assert not [p for p in packed if "__pycache__" in p or p.endswith((".pyc", ".log"))]
    requirements = (built["path"] / "env/python/requirements.txt").read_text()
    assert "apache-airflow" not in requirements and "bentoml==1.4.39" in requirements


def test_the_built_bento_serves_the_same_api(built, bento_url):
    include = built["path"] / "src" / "include"
    env = {**built["env"], "PYTHONPATH": str(include)}
    for name in ("PIP_INDEX_URL", "HTTPS_PROXY", "HTTP_PROXY"):
        env.pop(name)
    where = subprocess.run(
        [sys.executable, "-c", "import candlecast; print(candlecast.__file__)"],
        env=env,
        cwd=built["work"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(include)  # the Bento's copy, not ours
    with running_bento(env, built["work"] / "serve.log", built["tag"], cwd=built["work"]) as url:
        response = httpx.post(
            f"{url}/predict", json={"symbol": "X:BTCUSDT", "timeframe": "1d"}, timeout=60
        )
        assert response.status_code == 200, response.text
        assert len(response.json()["steps"]) == 30
        assert response.json()["model"] in built["models"]
        bad = httpx.post(f"{url}/predict", json={"symbol": "X:BTCUSDT"}, timeout=60)
        assert bad.status_code == 400 and "timeframe" in bad.text
        built_paths = httpx.get(f"{url}/docs.json", timeout=30).json()["paths"]
    source_paths = httpx.get(f"{bento_url}/docs.json", timeout=30).json()["paths"]
    assert set(built_paths) == set(source_paths)


def copy_as_new_version(home: Path, tag: str) -> str:
    """Another version of `tag`'s model in the store at `home`: its files under a new version
    (what a retraining registers, without the minutes of training); returns the new tag."""
    name, _, version = tag.partition(":")
    now = datetime.now(UTC)
    new_version = now.strftime("%Y%m%dt%H%M%S%f")
    source, target = home / "models" / name / version, home / "models" / name / new_version
    shutil.copytree(source, target)
    info = yaml.safe_load((target / "model.yaml").read_text())
    info.update(version=new_version, creation_time=now.isoformat())
    (target / "model.yaml").write_text(yaml.safe_dump(info, sort_keys=False))
    return f"{name}:{new_version}"


def release_database(session_url: str, champion: str, challenger: str) -> str:
    """A database of its own holding the session's symbols and versions, and `challenger`
    registered as a challenger beside `champion` (its row copied under the new version)."""
    name = f"pinned_{uuid.uuid4().hex[:8]}"
    ensure_database(session_url, name)
    url = with_database(session_url, name)
    db.migrate(url)
    with psycopg.connect(session_url) as source, psycopg.connect(url) as target:
        for table in ("symbols", "models"):
            with (
                source.cursor().copy(f"COPY {table} TO STDOUT") as out,
                target.cursor().copy(f"COPY {table} FROM STDIN") as into,
            ):
                for data in out:
                    into.write(data)
        model, _, version = champion.partition(":")
        target.execute(
            "CREATE TEMP TABLE copied AS SELECT * FROM models WHERE name = %s AND version = %s",
            (model, version),
        )
        target.execute(
            "UPDATE copied SET id = (SELECT max(id) + 1 FROM models), version = %s, "
            "stage = 'challenger', trained_at = now()",
            (challenger.partition(":")[2],),
        )
        target.execute("INSERT INTO models SELECT * FROM copied")
        target.execute("SELECT setval(pg_get_serial_sequence('models', 'id'), max(id)) FROM models")
    return url


def test_the_pinned_bento_carries_the_champions(built):
    pinned = built["pinned"]
    info = yaml.safe_load((built["path"] / "bento.yaml").read_text())
    assert {m["tag"] for m in info["models"]} == set(pinned.values())
    for tag in pinned.values():
        name, _, version = tag.partition(":")
        assert info["labels"][name] == version
    # The release artifact: the exported Bento's models folder holds exactly those versions.
    archive = built["work"] / "release.tar"
    bentoml(built["env"], "export", built["tag"], str(archive))
    with tarfile.open(archive) as exported:
        packed = {
            "{}:{}".format(*Path(member).parts[-3:-1])
            for member in exported.getnames()
            if Path(member).name == "model.yaml" and "models" in Path(member).parts
        }
    assert packed == set(pinned.values())


POLL_SECONDS = 1


def test_the_pinned_bento_keeps_its_versions_after_a_later_promotion(built, stack_environment):
    champion = built["pinned"]["1d"]
    home = Path(built["env"]["BENTOML_HOME"])
    challenger = copy_as_new_version(home, champion)
    database_url = release_database(stack_environment["DATABASE_URL"], champion, challenger)
    include = built["path"] / "src" / "include"
    env = {
        **built["env"],
        "PYTHONPATH": str(include),
        "DATABASE_URL": database_url,
        "CANDLECAST_RELEASE_POLL_SECONDS": str(POLL_SECONDS),
        "CANDLECAST_PREDICTION_CACHE_SECONDS": "0",
    }
    for name in ("PIP_INDEX_URL", "HTTPS_PROXY", "HTTP_PROXY"):
        env.pop(name)
    log = built["work"] / "serve-pinned.log"
    with running_bento(env, log, built["tag"], cwd=built["work"]) as url:
        listed = httpx.post(f"{url}/models", json={}, timeout=30).json()
        assert (listed["pinned"], listed["bento"]) == (True, built["tag"])
        assert {m["timeframe"]: m["model"] for m in listed["models"]} == built["pinned"]
        cli_env = {**stack_environment, "DATABASE_URL": database_url, "BENTOML_HOME": str(home)}
        candlecast(cli_env, "models", "promote", challenger, "--reason", "after the build")
        assert champions(database_url)["1d"] == challenger
        # Every worker polls past the promotion and names the new champion once, keeping its
        # own version (a follower would swap on that poll: the version is in its store).
        named = f"1d: champion is now {challenger};"
        eventually(
            lambda: log.read_text().count(named) >= workers(env),
            f"every worker of the pinned Bento polls past the promotion ({named})",
            seconds=120,
        )
        assert log.read_text().count(named) == workers(env)
        listed = httpx.post(f"{url}/models", json={}, timeout=30).json()
        served = {m["timeframe"]: m for m in listed["models"]}
        assert {code: m["model"] for code, m in served.items()} == built["pinned"]
        assert served["1d"]["stage"] == "retired" and listed["pinned"] is True
        forecast = httpx.post(
            f"{url}/predict", json={"symbol": "X:BTCUSDT", "timeframe": "1d"}, timeout=60
        )
        assert forecast.status_code == 200, forecast.text
        assert forecast.json()["model"] == champion
    assert "now serving champion" not in log.read_text()
