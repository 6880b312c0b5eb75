"""`bentoml build` offline into a temporary BentoML home, then `bentoml serve` of the built Bento.

The models are exported from the session's store and imported into the temporary one (rather
than building and serving against the session store), so the built Bento is served from a home
that holds nothing but the Bento and the serving models.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import httpx
import pytest
import yaml

from candlecast.modeling import model_name
from candlecast.timeframes import TIMEFRAMES
from tests.support.bento_server import BIN, PROJECT_DIR, running_bento

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
    """In a network namespace of its own (loopback only, down) where the machine allows it."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        return [unshare, "-rn", *command]
    return command


def bentoml(env: dict, *args: str, offline: bool = False, timeout: float = 600) -> str:
    command = [str(BIN / "bentoml"), *args]
    result = subprocess.run(
        _offline(command) if offline else command,
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"bentoml {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def built(stack_environment, dag_runs, tmp_path_factory) -> dict:
    """A Bento built without network into a temporary BentoML home outside the build context."""
    # BentoML 1.4 looks for uv on every build, even when it will not lock (and then never runs
    # it); without uv installed it tries to pip-install it from the network.
    assert (BIN / "uv").exists(), "uv must be installed in the venv (see requirements.txt)"
    work = tmp_path_factory.mktemp("bento-build")
    home = work / "bentoml"
    env = {
        **stack_environment,
        "BENTOML_HOME": str(home),
        # Any registry or lock service would be reached through these: nothing listens there.
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "UV_OFFLINE": "1",
    }
    for timeframe in TIMEFRAMES.values():
        archive = work / f"{model_name(timeframe)}.bentomodel"
        bentoml(
            stack_environment, "models", "export", f"{model_name(timeframe)}:latest", str(archive)
        )
        bentoml(env, "models", "import", str(archive))
    output = bentoml(env, "build", "-f", "bentofile.yaml", "-o", "tag", ".", offline=True)
    tag = re.search(r"__tag__:(\S+)", output).group(1)
    path = home / "bentos" / tag.replace(":", "/")
    models = {m["tag"] for m in json.loads(bentoml(env, "models", "list", "-o", "json"))}
    return {"tag": tag, "path": path, "env": env, "work": work, "models": models}


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
