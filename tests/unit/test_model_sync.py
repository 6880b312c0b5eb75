"""Models through the object store (a real moto server): a version published from one model store
is imported, checksum verified, into another that shares no disk with it; each timeframe's
pointer names its champion and never goes back to an older release decision; a replica imports
the champion PostgreSQL names (the pointers when PostgreSQL cannot say); a damaged archive is
refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg
import pytest

from candlecast.ops.s3_client import ObjectStore

NEW, OLD = "candlecast-1d:20250101t000000000000", "candlecast-1d:20240101t000000000000"
UNREACHABLE = "postgresql://127.0.0.1:1/none"

_SCRIPT = """
import json, sys
from pathlib import Path
from candlecast.settings import Settings
from candlecast.modeling import point_at, publish_model, pull_models, use_model_store
settings = Settings(_env_file=None)
use_model_store(settings)
import bentoml
if sys.argv[1] == "create":  # each version given, in order, published
    for tag in sys.argv[2:]:
        with bentoml.models.create(tag, labels={"timeframe": "1d"}) as m:
            Path(m.path, "weights.bin").write_bytes(bytes(range(256)) * 64)
        publish_model(settings, tag)
    print("{}")
elif sys.argv[1] == "point":  # tag, the time of its release decision
    print(json.dumps({"points": point_at(settings, sys.argv[2], sys.argv[3])}))
else:  # pull twice, as two workers of a Bento starting one after the other would
    first, second = pull_models(settings), pull_models(settings)
    sizes = [Path(bentoml.models.get(t).path, "weights.bin").stat().st_size for t in first]
    print(json.dumps({"first": first, "second": second, "sizes": sizes}))
"""


def run(home, store_url: str, *args: str, database_url: str = UNREACHABLE) -> dict:
    env = {
        **os.environ,
        "CANDLECAST_HOME": str(home),
        "BENTOML_HOME": str(home / "bentoml"),
        "CANDLECAST_STORE_URL": store_url,
        "DATABASE_URL": database_url,
    }
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_champion_reaches_a_replica_with_no_shared_disk(store_url, tmp_path, fresh_database_url):
    run(tmp_path / "trainer", store_url, "create", NEW, OLD)
    objects = ObjectStore(store_url + "/models")
    assert objects.get("candlecast-1d/serving.json") is None  # published is not served
    assert run(tmp_path / "trainer", store_url, "point", NEW, "2025-01-02T00:00:00Z")["points"]
    # an older decision arriving late leaves the pointer alone
    late = run(tmp_path / "trainer", store_url, "point", OLD, "2025-01-01T00:00:00Z")
    assert late == {"points": False}
    served = json.loads(objects.get("candlecast-1d/serving.json").data)
    assert served["tag"] == NEW and served["decided_at"] == "2025-01-02T00:00:00Z"
    assert objects.list("candlecast-1d") == [
        "candlecast-1d/20240101t000000000000.bentomodel",
        "candlecast-1d/20240101t000000000000.json",
        "candlecast-1d/20250101t000000000000.bentomodel",
        "candlecast-1d/20250101t000000000000.json",
        "candlecast-1d/serving.json",
    ]
    # PostgreSQL unreachable: the pointer's champion, imported once
    pulled = run(tmp_path / "replica", store_url, "pull")
    assert pulled == {"first": [NEW], "second": [], "sizes": [256 * 64]}

    # PostgreSQL's champion wins over the pointer (a rollback whose pointer switch was lost)
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        from candlecast.ops import db

        db.migrate(fresh_database_url)
        conn.execute(
            "INSERT INTO models (name, version, timeframe, algorithm, feature_set_version, "
            "trained_at, n_symbols, n_train_rows, stage) VALUES ('candlecast-1d', %s, '1d', "
            "'x', 'v2', now(), 5, 100, 'champion')",
            (OLD.partition(":")[2],),
        )
    told = run(tmp_path / "replica-2", store_url, "pull", database_url=fresh_database_url)
    assert told["first"] == [OLD]

    # a damaged archive is refused, never imported
    objects.put("candlecast-1d/20250101t000000000000.bentomodel", b"not the archive")
    with pytest.raises(AssertionError, match="does not match the SHA-256"):
        run(tmp_path / "replica-3", store_url, "pull")
