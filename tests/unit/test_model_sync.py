"""Models through the object store (a real moto server): a version published from one model store
is imported, checksum verified, into another that shares no disk with it; the pointer only moves
forward; a damaged archive is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from candlecast.ops.objectstore import ObjectStore

_SCRIPT = """
import json, sys
from pathlib import Path
from candlecast.settings import Settings
from candlecast.modeling import publish_model, pull_models, use_model_store
settings = Settings(_env_file=None)
use_model_store(settings)
import bentoml
if sys.argv[1] == "create":  # each version given, in order
    for version in sys.argv[2:]:
        with bentoml.models.create("candlecast-1d:" + version, labels={"timeframe": "1d"}) as m:
            Path(m.path, "weights.bin").write_bytes(bytes(range(256)) * 64)
        publish_model(settings, "candlecast-1d:" + version)
    print("{}")
else:  # pull twice, as two workers of a Bento starting one after the other would
    first, second = pull_models(settings), pull_models(settings)
    sizes = [Path(bentoml.models.get(t).path, "weights.bin").stat().st_size for t in first]
    print(json.dumps({"first": first, "second": second, "sizes": sizes}))
"""


def run(home, store_url: str, *args: str) -> dict:
    env = {
        **os.environ,
        "CANDLECAST_HOME": str(home),
        "BENTOML_HOME": str(home / "bentoml"),
        "CANDLECAST_STORE_URL": store_url,
    }
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_published_model_reaches_a_replica_with_no_shared_disk(store_url, tmp_path):
    # the newer version, then an older one published late: the pointer only moves forward
    run(tmp_path / "trainer", store_url, "create", "20250101t000000000000", "20240101t000000000000")
    objects = ObjectStore(store_url + "/models")
    served = json.loads(objects.get("candlecast-1d/serving.json").data)
    assert served["tag"] == "candlecast-1d:20250101t000000000000"
    assert objects.list("candlecast-1d") == [
        "candlecast-1d/20240101t000000000000.bentomodel",
        "candlecast-1d/20250101t000000000000.bentomodel",
        "candlecast-1d/serving.json",
    ]
    pulled = run(tmp_path / "replica", store_url, "pull")
    assert pulled == {"first": [served["tag"]], "second": [], "sizes": [256 * 64]}

    # a damaged archive is refused, never imported
    objects.put("candlecast-1d/20250101t000000000000.bentomodel", b"not the archive")
    with pytest.raises(AssertionError, match="does not match the SHA-256"):
        run(tmp_path / "second-replica", store_url, "pull")
