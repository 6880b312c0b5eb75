"""Releases on many hosts, against the loopback S3 server and real PostgreSQL: the training gate
reads a champion this host never had from the object store; a promotion on a host without the
version points the replicas at it from its published manifest; prune removes the pruned
versions' published copies, never the champion's."""

from __future__ import annotations

import json

import pytest

from candlecast.modeling import ForecastModel, publish_model, releases, save_model
from candlecast.modeling.training.calibration import no_evidence
from candlecast.modeling.training.gate import champion_model
from candlecast.ops import db
from candlecast.ops.s3_client import ObjectStore
from candlecast.releasing import release_action
from candlecast.timeframes import TIMEFRAMES


def _published(local) -> str:
    """A real version (no learners), registered and published, then gone from this host."""
    model = ForecastModel({}, {}, "1h", [], "v2", no_evidence(), {"data_end": "2026-01-01"})
    with db.connect(local) as conn:
        tag = save_model(local, conn, model)
    publish_model(local, tag)
    releases.delete_from_store([tag])  # trained on another worker: only the object store has it
    return tag


@pytest.fixture
def hosts(settings, fresh_database_url, store_url):
    local = settings.model_copy(
        update={"database_url": fresh_database_url, "candlecast_store_url": store_url}
    )
    return {"local": local, "objects": ObjectStore(store_url + "/models")}


def test_the_gate_reads_a_champion_trained_elsewhere_from_the_object_store(hosts):
    local = hosts["local"]
    champion = _published(local)
    unshared = local.model_copy(update={"candlecast_store_url": None})
    with db.connect(local) as conn, pytest.raises(LookupError, match="model store"):
        champion_model(unshared, conn, TIMEFRAMES["1h"])  # no object store: nowhere to be had
    with db.connect(local) as conn:
        model = champion_model(local, conn, TIMEFRAMES["1h"])
    assert model.timeframe == "1h" and model.info["data_end"] == "2026-01-01"
    releases.delete_from_store([champion])


def test_a_promotion_on_another_host_points_at_the_published_version_and_prune_unpublishes(
    hosts,
):
    local, objects = hosts["local"], hosts["objects"]
    first, second, third, fourth = (_published(local) for _ in range(4))
    change = release_action(local, "promote", tag=second, reason="elsewhere", actor="cli:test")
    assert change["to_tag"] == second
    pointer = json.loads(objects.get("candlecast-1h/serving.json").data)
    assert pointer["tag"] == second  # from its manifest: this host never had the archive

    pruned = release_action(local, "prune", keep=1, actor="cli:test")
    assert pruned["pruned"] == [third] and pruned["unpublished"] == [third]
    names = set(objects.list("candlecast-1h"))
    for tag in (first, second, fourth):  # a former champion, the champion, the newest kept
        version = tag.partition(":")[2]
        assert {f"candlecast-1h/{version}.bentomodel", f"candlecast-1h/{version}.json"} <= names
    assert not any(third.partition(":")[2] in name for name in names)
