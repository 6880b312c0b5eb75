"""Every DAG file imports cleanly and lightly, without network, and follows the house rules.

The DAG files are read from the dags/ folder (each file is named after the DAG it defines), so a
new DAG cannot be left out of these checks."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
EXPECTED = {p.stem for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_")}
# What the scheduler must never import to parse a DAG file (seconds of import each, every parse).
HEAVY = (
    "pandas",
    "numpy",
    "pyarrow",
    "xgboost",
    "keras",
    "jax",
    "sklearn",
    "talib",
    "bentoml",
    "great_expectations",
    "psycopg",
    "matplotlib",
    "candlecast.modeling",
)


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dagbag):
    assert {"release_models", "train_models", "ohlcv_update", "replay"} <= EXPECTED  # folder read
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) >= EXPECTED
    assert {Path(d.fileloc).stem for d in dagbag.dags.values()} == EXPECTED


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_dag_follows_house_rules(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.tags and "candlecast" in dag.tags
    assert dag.doc_md and dag_id in dag.doc_md
    assert dag.max_active_runs == 1
    assert dag.on_failure_callback, "a failed run must alert"
    assert dag.catchup is False
    for task in dag.tasks:
        assert task.retries >= 2, f"{dag_id}.{task.task_id} retries"
        assert task.owner not in ("", "airflow"), f"{dag_id}.{task.task_id} owner"


def test_assets_chain_the_dags(dagbag):
    from airflow.sdk import Asset

    def outlets(dag_id):
        return {
            o.uri.rstrip("/")
            for t in dagbag.dags[dag_id].tasks
            for o in t.outlets
            if isinstance(o, Asset)
        }

    assert "candlecast://symbols" in outlets("symbol_sync")
    assert "candlecast://ohlcv" in outlets("ohlcv_update")
    assert "candlecast://symbols" in str(dagbag.dags["ohlcv_update"].timetable.asset_condition)
    assert "candlecast://ohlcv" in str(dagbag.dags["train_models"].timetable.asset_condition)
    assert "candlecast://ohlcv" in str(dagbag.dags["score_outcomes"].timetable.asset_condition)


PARSE = """
import importlib.util, json, sys
heavy = json.loads(sys.argv[1])
for path in sys.argv[2:]:
    spec = importlib.util.spec_from_file_location(path.rsplit("/", 1)[-1][:-3], path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
loaded = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))
print(json.dumps(loaded))
"""


def test_dag_files_import_no_heavy_module_at_parse_time():
    """Parse cost is import cost: every DAG file parsed in a fresh interpreter, and none of
    HEAVY (or a submodule of one) is in sys.modules afterwards (no clock read)."""
    files = [str(DAGS_DIR / f"{name}.py") for name in sorted(EXPECTED)]
    result = subprocess.run(
        [sys.executable, "-c", PARSE, json.dumps(HEAVY), *files],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == [], f"imported at parse time: {loaded}"


def test_replay_dag_takes_the_cli_questions_as_params(dagbag):
    params = dagbag.dags["replay"].params
    assert {"timeframe", "start", "end", "every", "top", "symbols", "fee"} <= set(params.keys())
    assert params["every"] == "24h"
    assert params["fee"] == 0.001
