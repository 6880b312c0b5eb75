"""The import contracts of pyproject.toml hold on the code, and they can fail: in a copy of the
project with one import pointing back up a layer, lint-imports names the broken contract."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
LINT_IMPORTS = PROJECT_DIR / ".venv" / "bin" / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{root / 'include'}{os.pathsep}{root}"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def project_copy(tmp_path: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(PROJECT_DIR / "include", tmp_path / "include", ignore=ignore)
    shutil.copytree(PROJECT_DIR / "bento", tmp_path / "bento", ignore=ignore)
    shutil.copy(PROJECT_DIR / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def with_import(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}  # reversed on purpose\n")


def test_the_contracts_hold():
    result = lint_imports(PROJECT_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_store_importing_serving_breaks_the_layers(tmp_path):
    root = project_copy(tmp_path)
    with_import(
        root / "include/candlecast/ohlcv/parquet_store.py", "from candlecast.serving import reads"
    )
    result = lint_imports(root)
    assert result.returncode != 0
    assert "Data and imports flow one way" in result.stdout and "BROKEN" in result.stdout
    assert "candlecast.ohlcv.parquet_store -> candlecast.serving" in result.stdout


def test_serving_importing_training_breaks_the_serving_contract(tmp_path):
    root = project_copy(tmp_path)
    with_import(
        root / "include/candlecast/serving/forecast.py",
        "from candlecast.modeling.training import train_timeframe",
    )
    result = lint_imports(root)
    assert result.returncode != 0
    assert "candlecast.serving is not allowed to import candlecast.modeling.training" in (
        result.stdout
    )


def test_api_schemas_importing_serving_break_the_wire_contract(tmp_path):
    root = project_copy(tmp_path)
    with_import(root / "include/candlecast/api/schemas.py", "import candlecast.serving.codec")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "candlecast.api is not allowed to import candlecast.serving" in result.stdout
