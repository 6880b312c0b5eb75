"""A worker follows the champion: versions saved into the real model store and registered in a
database of their own; a promotion is swapped in by the next check, a rollback too, a champion
that cannot be loaded (gone from the store) leaves the served version in place, and an answer
that had already read the served model keeps it. A pinned worker's watcher reads the champions
and names a later one once, never swapping."""

from __future__ import annotations

import logging

from candlecast.modeling import ForecastModel, load_version, releases, save_model
from candlecast.modeling.training.calibration import no_evidence
from candlecast.ops import ConnectionPool, db
from candlecast.serving import ChampionWatcher, Forecaster, LoadedModel


def _version(local) -> str:
    """A real version (no learners: the random walk, as a model without skill serves)."""
    model = ForecastModel({}, {}, "1h", [], "v2", no_evidence(), {"data_end": "2026-01-01"})
    with db.connect(local) as conn:
        return save_model(local, conn, model)


def test_a_worker_swaps_to_each_new_champion_and_keeps_serving_when_one_cannot_load(
    settings, fresh_database_url
):
    local = settings.model_copy(update={"database_url": fresh_database_url})
    first, second = _version(local), _version(local)
    pool = ConnectionPool(local)
    with pool.connection() as conn:
        assert releases.champion_tags(conn) == {"1h": first}
    forecaster = Forecaster({"1h": LoadedModel(first, load_version(first))}, None, pool, None)
    watcher = ChampionWatcher(forecaster, poll_seconds=0)
    assert watcher.check_once() == []  # the champion is served: nothing to do
    in_flight = forecaster.models["1h"]

    with db.connect(local) as conn:
        releases.promote(conn, second, "test")
    assert watcher.check_once() == [second]
    assert forecaster.models["1h"].tag == second
    assert in_flight.tag == first  # a request that read the model before keeps its version

    with db.connect(local) as conn:
        releases.rollback(conn, "1h", "test")
    assert watcher.check_once() == [first] and forecaster.models["1h"].tag == first

    third = _version(local)
    with db.connect(local) as conn:
        releases.promote(conn, third, "test")
    releases.delete_from_store([third])  # the champion's files are gone
    assert watcher.check_once() == []
    assert forecaster.models["1h"].tag == first  # still served, and no exception


def test_a_replica_worker_imports_a_new_champion_from_the_object_store(
    settings, fresh_database_url, store_url
):
    from functools import partial

    from candlecast.modeling import publish_model, pull_version

    local = settings.model_copy(
        update={"database_url": fresh_database_url, "candlecast_store_url": store_url}
    )
    first, second = _version(local), _version(local)
    publish_model(local, second)
    releases.delete_from_store([second])  # this host never had it: the object store has
    pool = ConnectionPool(local)
    forecaster = Forecaster({"1h": LoadedModel(first, load_version(first))}, None, pool, None)
    with db.connect(local) as conn:
        releases.promote(conn, second, "test")
    assert ChampionWatcher(forecaster, poll_seconds=0).check_once() == []  # cannot load it
    assert forecaster.models["1h"].tag == first
    fetching = ChampionWatcher(forecaster, poll_seconds=0, fetch=partial(pull_version, local))
    assert fetching.check_once() == [second]
    assert forecaster.models["1h"].tag == second and load_version(second) is not None


def test_a_pinned_worker_names_a_later_champion_once_and_keeps_its_version(
    settings, fresh_database_url, caplog
):
    local = settings.model_copy(update={"database_url": fresh_database_url})
    first, second = _version(local), _version(local)
    pool = ConnectionPool(local)
    served = {"1h": LoadedModel(first, load_version(first))}
    forecaster = Forecaster(served, None, pool, None, pinned_bento="candlecast:pinned")
    watcher = ChampionWatcher(forecaster, poll_seconds=0, pinned=True)
    with db.connect(local) as conn:
        releases.promote(conn, second, "test")
    with caplog.at_level(logging.WARNING, logger="candlecast.serving.champion_watcher"):
        assert [watcher.check_once() for _ in range(3)] == [[], [], []]
    assert watcher.polls == 3 and forecaster.models["1h"].tag == first
    named = [r.getMessage() for r in caplog.records if "champion is now" in r.getMessage()]
    assert named == [
        f"1h: champion is now {second}; the pinned Bento candlecast:pinned keeps serving {first}"
    ]
