"""Releases in PostgreSQL: one champion per timeframe, promotion behind the gate, rollback to the
previous champion, pruning that keeps what it must, a history row for every change, the
migration of versions trained before releases, and when new candles make a timeframe due."""

from __future__ import annotations

import pandas as pd
import psycopg
import pytest
from psycopg.rows import dict_row

from candlecast.modeling import releases
from candlecast.ops import db
from candlecast.pipeline import training_due
from tests.support.synthetic_universe import synthetic_candles, write_store


def _connect(url: str) -> psycopg.Connection:
    db.ensure_schema(url)
    return psycopg.connect(url, row_factory=dict_row, autocommit=True)


def _add(conn, timeframe: str, version: str, trained_at: str, gate: dict | None = None) -> str:
    name = "candlecast-1mo" if timeframe == "1M" else f"candlecast-{timeframe}"
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO models (name, version, timeframe, algorithm, feature_set_version, "
            "trained_at, n_symbols, n_train_rows, data_end, universe_size) "
            "VALUES (%s, %s, %s, 'xgboost', 'v2', %s, 5, 100, %s, 5) RETURNING id",
            (name, version, timeframe, trained_at, trained_at),
        ).fetchone()
        releases.register(conn, row["id"], timeframe, "test")
    tag = f"{name}:{version}"
    if gate is not None:
        releases.record_gate(conn, tag, gate)
    return tag


def _stages(conn, timeframe: str) -> dict[str, str]:
    return {r["tag"]: r["stage"] for r in releases.versions(conn, timeframe)}


def _actions(conn, timeframe: str) -> list[tuple]:
    return [
        (r["action"], r["from_tag"], r["to_tag"], r["forced"])
        for r in reversed(releases.history(conn, timeframe))
    ]


@pytest.fixture
def release_conn(fresh_database_url):
    with _connect(fresh_database_url) as conn:
        yield conn


def test_first_version_is_champion_then_promote_rollback_with_history(release_conn):
    conn = release_conn
    v1 = _add(conn, "1h", "v1", "2026-01-01T00:00Z")
    v2 = _add(conn, "1h", "v2", "2026-01-02T00:00Z", {"verdict": "pass", "reasons": []})
    v3 = _add(conn, "1h", "v3", "2026-01-03T00:00Z", {"verdict": "fail", "reasons": ["h1: worse"]})
    assert _stages(conn, "1h") == {v1: "champion", v2: "challenger", v3: "challenger"}
    assert releases.champion_tags(conn) == {"1h": v1}

    assert releases.promote(conn, v2, "alice", "better").to_tag == v2
    assert releases.promote(conn, v2, "alice").action == "none"  # already champion: no change
    with pytest.raises(releases.ReleaseRefused, match="failed its gate.*h1: worse.*--force"):
        releases.promote(conn, v3, "alice")
    assert releases.champion_tags(conn) == {"1h": v2}
    assert releases.promote(conn, v3, "bob", "hotfix", force=True).forced
    assert _stages(conn, "1h") == {v1: "retired", v2: "retired", v3: "champion"}

    assert releases.rollback(conn, "1h", "carol", "bad outcomes").to_tag == v2
    assert releases.rollback(conn, "1h", "carol").to_tag == v1  # the one before that
    assert _stages(conn, "1h") == {v1: "champion", v2: "rolled_back", v3: "rolled_back"}
    with pytest.raises(releases.ReleaseRefused, match="no previous champion"):
        releases.rollback(conn, "1h", "carol")
    assert _actions(conn, "1h") == [
        ("first_champion", None, v1, False),
        ("register", None, v2, False),
        ("register", None, v3, False),
        ("promote", v1, v2, False),
        ("promote", v2, v3, True),
        ("rollback", v3, v2, False),
        ("rollback", v2, v1, False),
    ]
    reasons = [r["reason"] for r in releases.history(conn, "1h")]
    assert "hotfix" in reasons and "bad outcomes" in reasons
    with pytest.raises(psycopg.errors.UniqueViolation):  # never two champions
        conn.execute("UPDATE models SET stage = 'champion' WHERE version = 'v2'")


def test_prune_keeps_champions_former_champions_and_the_newest_challengers(release_conn):
    conn = release_conn
    tags = [_add(conn, "4h", f"p{i}", f"2026-02-0{i + 1}T00:00Z") for i in range(5)]
    releases.promote(conn, tags[1], "test")  # p0 retired, p1 champion; p2..p4 challengers
    daily = _add(conn, "1d", "d0", "2026-02-01T00:00Z")
    pruned = releases.prune(conn, 1, "test")
    assert pruned == [tags[3], tags[2]]  # the newest challenger (p4) kept
    assert _stages(conn, "4h") == {
        tags[0]: "retired",
        tags[1]: "champion",
        tags[2]: "pruned",
        tags[3]: "pruned",
        tags[4]: "challenger",
    }
    assert _stages(conn, "1d") == {daily: "champion"}
    assert releases.prune(conn, 1, "test") == []  # idempotent
    with pytest.raises(releases.ReleaseRefused, match="pruned"):
        releases.promote(conn, tags[2], "test")
    assert [a[0] for a in _actions(conn, "4h")].count("prune") == 2


def test_versions_trained_before_releases_keep_the_newest_served(fresh_database_url):
    db.migrate(fresh_database_url, "0004")
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        for version, day in (("old", 1), ("new", 2)):
            conn.execute(
                "INSERT INTO models (name, version, timeframe, algorithm, feature_set_version, "
                "trained_at, n_symbols, n_train_rows) VALUES ('candlecast-1d', %s, '1d', 'x', "
                "'v2', %s, 5, 100)",
                (version, f"2025-01-0{day}T00:00Z"),
            )
    db.migrate(fresh_database_url)
    with _connect(fresh_database_url) as conn:
        assert _stages(conn, "1d") == {
            "candlecast-1d:new": "champion",
            "candlecast-1d:old": "challenger",
        }
        assert [a[0] for a in _actions(conn, "1d")] == ["register", "first_champion"]


def test_an_asset_event_retrains_only_past_the_new_candle_threshold(
    settings, fresh_database_url, tmp_path
):
    candles = synthetic_candles(coins=3, hours=300)
    local = settings.model_copy(
        update={"candlecast_home": tmp_path, "database_url": fresh_database_url}
    )
    write_store(local.store_dir, candles)
    last = candles["SYN00USDT"]["timestamp"].iloc[-1]
    assert training_due(local, "1h", "scheduled")["due"]
    assert training_due(local, "1h", "asset_triggered")["due"]  # no champion yet
    with _connect(fresh_database_url) as conn:
        _add(conn, "1h", "due-a", str(last - pd.Timedelta(hours=10)))
        not_yet = training_due(local, "1h", "asset_triggered")
        assert not not_yet["due"] and not_yet["new_candles"] == 10
        assert "10 new 1h candles" in not_yet["reason"] and "168" in not_yet["reason"]
        conn.execute(
            "UPDATE models SET data_end = %s WHERE version = 'due-a'",
            (last - pd.Timedelta(hours=168),),
        )
        due = training_due(local, "1h", "asset_triggered")
        assert due["due"] and due["new_candles"] == 168
        # a champion trained on fewer series than the store now holds (a listing; or trained
        # mid-update on a partial store) retrains whatever the candle count
        conn.execute(
            "UPDATE models SET data_end = %s, universe_size = 2 WHERE version = 'due-a'", (last,)
        )
        grown = training_due(local, "1h", "asset_triggered")
    assert grown["due"] and "3 1h series in the store" in grown["reason"]
    assert "trained on 2" in grown["reason"]


def test_a_run_that_names_its_timeframes_retrains_only_those(settings):
    assert training_due(settings, "1M", "manual", ["1w", "1M"])["due"]
    skipped = training_due(settings, "1h", "manual", ["1w", "1M"])
    assert not skipped["due"] and skipped["reason"] == "this run retrains 1w, 1M"
    assert not training_due(settings, "1h", "asset_triggered", [])["due"]
    assert training_due(settings, "1h", "manual", None)["due"]  # no list: every timeframe
