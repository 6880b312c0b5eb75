"""The release workflows the `candlecast models` commands, the `release_models` DAG and the
`score_outcomes` pass run: list (with each challenger's live comparison), promote, rollback,
prune (the published copies too) and decide (the live gate). With CANDLECAST_STORE_URL set, a
change is followed, once committed, by the timeframe's pointer in the object store."""

from __future__ import annotations

import json

import pandas as pd

from candlecast.marketdata import get_provider
from candlecast.ops import db
from candlecast.settings import Settings
from candlecast.timeframes import parse_timeframe

ACTIONS = ("list", "promote", "rollback", "prune", "decide")


def live_rules(settings: Settings):
    from candlecast.monitoring.live_gate import LiveGateRules

    return LiveGateRules(
        settings.candlecast_live_gate_min_outcomes, settings.candlecast_live_gate_max_days
    )


def decide_live(settings: Settings, conn, now: pd.Timestamp, actor: str) -> dict:
    """The live gate over every challenger (see `monitoring.live_release`); each promotion, once
    committed, points the object store at its new champion."""
    from candlecast.monitoring.live_release import run_live_gate

    auto = settings.candlecast_auto_promote
    result = run_live_gate(conn, now, live_rules(settings), auto, actor)
    for _, to_tag in result["promoted"]:
        _point(settings, to_tag)
    return result


def _listing(conn, timeframe: str | None) -> dict:
    from candlecast.modeling import releases
    from candlecast.monitoring.live_release import summary

    code = None if timeframe is None else parse_timeframe(timeframe).code
    versions = releases.versions(conn, code)
    live = {v["tag"]: summary(v["live_gate"]) for v in versions if v["stage"] == "challenger"}
    return json.loads(json.dumps({"versions": versions, "live": live}, default=str))


def release_action(
    settings: Settings,
    action: str,
    timeframe: str | None = None,
    tag: str | None = None,
    reason: str = "",
    force: bool = False,
    keep: int = 3,
    actor: str = "cli",
) -> dict:
    """One release action: list, promote, rollback, prune or decide."""
    from candlecast.modeling import releases

    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected {', '.join(ACTIONS)}")
    with db.connect(settings) as conn:
        if action == "list":
            return _listing(conn, timeframe)
        if action == "decide":
            now = get_provider(settings).now()
            return json.loads(json.dumps(decide_live(settings, conn, now, actor), default=str))
        if action == "promote":
            if not tag:
                raise ValueError("promote needs a tag such as candlecast-1h:20260101t000000000000")
            change = releases.promote(conn, tag, actor, reason, force)
        elif action == "rollback":
            if not timeframe:
                raise ValueError("rollback needs a timeframe (1h, 4h, 1d, 1w or 1M)")
            change = releases.rollback(conn, parse_timeframe(timeframe).code, actor, reason)
        else:
            pruned = releases.prune(conn, keep, actor)
    if action == "prune":  # rows first: a version marked pruned that is still stored is harmless
        return _remove_pruned(settings, pruned, keep)
    if change.to_tag and change.action != "none":  # committed: now the replicas' pointer
        _point(settings, change.to_tag)
    return change.as_dict()


def _remove_pruned(settings: Settings, pruned: list[str], keep: int) -> dict:
    from candlecast.modeling import releases, unpublish, use_model_store

    use_model_store(settings)
    releases.delete_from_store(pruned)
    return {
        "pruned": pruned,
        "unpublished": unpublish(settings, pruned),
        "kept_challengers_per_timeframe": keep,
    }


def _point(settings: Settings, tag: str) -> None:
    """The timeframe's pointer in the object store names `tag` (CANDLECAST_STORE_URL set); the
    version need not be in this host's model store when it was published."""
    from candlecast.modeling import point_at, use_model_store

    if settings.candlecast_store_url:
        use_model_store(settings)
        point_at(settings, tag)
