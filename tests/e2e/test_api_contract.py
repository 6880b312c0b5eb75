"""The API's contract under generated input: schemathesis against the OpenAPI document of a real
`bentoml serve` (the session's Bento on the sample), every operation, bodies that match their
schema and bodies that break it, every check (no 5xx, status codes and bodies as documented,
valid bodies accepted, invalid ones refused). Bounded and seeded, so it fits CI time and a
failure reproduces."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.bento_server import BIN

pytestmark = pytest.mark.e2e
CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = 30
SEED = 17
OPERATIONS = 12  # eight POST operations, /healthz, /livez, /readyz, /metrics


def test_every_operation_keeps_its_contract_under_generated_input(bento_url, tmp_path):
    report = tmp_path / "report.json"
    command = [
        str(BIN / "schemathesis"),
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        f"{bento_url}/docs.json",
        "--url",
        bento_url,
        "--checks",
        "all",
        "--mode",
        "all",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--request-timeout",
        "60",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    print(output[-3000:])  # the counts, in the test's log
    assert result.returncode == 0, output[-12000:]
    assert f"{OPERATIONS} selected" in output or f"{OPERATIONS} total" in output, output[-3000:]
    assert report.exists() and json.loads(report.read_text())
