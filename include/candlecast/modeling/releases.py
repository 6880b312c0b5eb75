"""Releases: which version of each timeframe is served (its `champion`), which wait beside it
(`challenger`s), and the history of every change (`model_releases`).

A stage lives in the `models` row (one champion per timeframe, a unique index says so) and, for
`bentoml models list`, as the version's `stage` label in the model store. Every change takes the
timeframe's advisory lock and writes its history row in the same transaction, so two release
managers (or the CLI and the DAG) never leave two champions or a change without its row.

    champion   served; the first version of a timeframe becomes it at registration
    challenger a newer version waiting for its gates (training-time, then live) and a promotion
    retired    a former champion (a rollback returns to the newest of them)
    rolled_back a champion a rollback stepped back from (never a rollback target again)
    rejected   a challenger the live gate did not promote by its deadline (never a target)
    pruned     gone from the model store; the row (and its forecasts) stay
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import psycopg

from candlecast.modeling.model_store import STAGE_LABEL, delete_from_store, set_store_label
from candlecast.timeframes import TIMEFRAME_CODES, Timeframe

log = logging.getLogger(__name__)

__all__ = ["STAGE_LABEL", "delete_from_store", "set_store_label"]  # the model store's side


class ReleaseRefused(ValueError):
    """A release action that cannot be done as asked (the message says why and what to do)."""


@dataclass(frozen=True)
class Change:
    timeframe: str
    action: str
    from_tag: str | None
    to_tag: str | None
    forced: bool = False

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def _lock(conn: psycopg.Connection, timeframe: str) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"candlecast-release-{timeframe}",))


def _tag(row: dict | None) -> str | None:
    return None if row is None else f"{row['name']}:{row['version']}"


def _model(conn: psycopg.Connection, tag: str) -> dict:
    name, _, version = tag.partition(":")
    row = conn.execute(
        "SELECT id, name, version, timeframe, stage, gate, trained_at, data_end FROM models "
        "WHERE name = %s AND version = %s",
        (name, version),
    ).fetchone()
    if row is None:
        raise ReleaseRefused(f"no model {tag!r} in the models table (see `candlecast models list`)")
    return row


def _champion_row(conn: psycopg.Connection, timeframe: str) -> dict | None:
    return conn.execute(
        "SELECT id, name, version, timeframe, stage, gate, trained_at, data_end, universe_size "
        "FROM models "
        "WHERE timeframe = %s AND stage = 'champion'",
        (timeframe,),
    ).fetchone()


def _set_stage(conn: psycopg.Connection, model_id: int, stage: str) -> None:
    conn.execute(
        "UPDATE models SET stage = %s, stage_changed_at = clock_timestamp(), "
        "pruned_at = CASE WHEN %s = 'pruned' THEN clock_timestamp() ELSE pruned_at END "
        "WHERE id = %s",
        (stage, stage, model_id),
    )


def _history(
    conn: psycopg.Connection,
    timeframe: str,
    action: str,
    from_id: int | None,
    to_id: int | None,
    actor: str,
    reason: str,
    forced: bool = False,
    gate: dict | None = None,
) -> None:
    conn.execute(
        "INSERT INTO model_releases (timeframe, action, from_model_id, to_model_id, actor, "
        "reason, forced, gate) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (timeframe, action, from_id, to_id, actor, reason, forced, json.dumps(gate or {})),
    )


def register(conn: psycopg.Connection, model_id: int, timeframe: str, actor: str) -> str:
    """A new version's stage: champion when its timeframe has none (a fresh install serves at
    once), otherwise challenger. Call inside the transaction that inserts its row."""
    _lock(conn, timeframe)
    champion = _champion_row(conn, timeframe)
    stage = "champion" if champion is None else "challenger"
    _set_stage(conn, model_id, stage)
    action = "first_champion" if champion is None else "register"
    reason = "no champion yet" if champion is None else "trained; waits for its gate"
    _history(conn, timeframe, action, None, model_id, actor, reason)
    return stage


def record_gate(conn: psycopg.Connection, tag: str, gate: dict) -> None:
    conn.execute(
        "UPDATE models SET gate = %s WHERE id = %s", (json.dumps(gate), _model(conn, tag)["id"])
    )


def promote(
    conn: psycopg.Connection,
    tag: str,
    actor: str,
    reason: str = "",
    force: bool = False,
    auto: bool = False,
    live: dict | None = None,
) -> Change:
    """Make `tag` its timeframe's champion; the former one retires. A failed gate refuses it
    unless `force` (recorded); promoting the champion changes nothing. `live`: the live gate's
    evidence (an automatic promotion), recorded with it; it promotes only a challenger still
    compared with the champion it names."""
    with conn.transaction():
        target = _model(conn, tag)
        timeframe = target["timeframe"]
        _lock(conn, timeframe)
        target = _model(conn, tag)
        current = _champion_row(conn, timeframe)
        if target["stage"] == "champion" or (
            live is not None
            and (target["stage"] != "challenger" or _tag(current) != live.get("champion"))
        ):  # already served; or, for the live gate, decided meanwhile by someone else
            return Change(timeframe, "none", _tag(current), _tag(current))
        if target["stage"] == "pruned":
            raise ReleaseRefused(f"{tag} was pruned: it is no longer in the model store")
        verdict = (target["gate"] or {}).get("verdict")
        if verdict == "fail" and not force:
            raise ReleaseRefused(
                f"{tag} failed its gate ({'; '.join(target['gate'].get('reasons', []))}); "
                "promote it anyway with --force (recorded)"
            )
        if current is not None:
            _set_stage(conn, current["id"], "retired")
        _set_stage(conn, target["id"], "champion")
        _history(
            conn,
            timeframe,
            "auto_promote" if auto else "promote",
            None if current is None else current["id"],
            target["id"],
            actor,
            reason or ("gate passed" if auto else ""),
            forced=force and verdict == "fail",
            gate=target["gate"] if live is None else {**(target["gate"] or {}), "live": live},
        )
    change = Change(timeframe, "promote", _tag(current), tag, force and verdict == "fail")
    _label(conn, [change.from_tag, change.to_tag])
    return change


def rollback(conn: psycopg.Connection, timeframe: str, actor: str, reason: str = "") -> Change:
    """Back to the previous champion (the newest retired version); the current one becomes
    `rolled_back` and is never a rollback target again."""
    with conn.transaction():
        _lock(conn, timeframe)
        current = _champion_row(conn, timeframe)
        previous = conn.execute(
            "SELECT id, name, version FROM models WHERE timeframe = %s AND stage = 'retired' "
            "ORDER BY stage_changed_at DESC, id DESC LIMIT 1",
            (timeframe,),
        ).fetchone()
        if previous is None:
            raise ReleaseRefused(f"{timeframe} has no previous champion to roll back to")
        if current is not None:
            _set_stage(conn, current["id"], "rolled_back")
        _set_stage(conn, previous["id"], "champion")
        _history(
            conn,
            timeframe,
            "rollback",
            None if current is None else current["id"],
            previous["id"],
            actor,
            reason,
        )
    change = Change(timeframe, "rollback", _tag(current), _tag(previous))
    _label(conn, [change.from_tag, change.to_tag])
    return change


def reject(conn: psycopg.Connection, tag: str, actor: str, reason: str, live: dict) -> bool:
    """Retire a challenger the live gate did not promote by its deadline (stage `rejected`,
    reason and evidence recorded); False when it is no longer a challenger."""
    with conn.transaction():
        target = _model(conn, tag)
        _lock(conn, target["timeframe"])
        target = _model(conn, tag)
        if target["stage"] != "challenger":
            return False
        _set_stage(conn, target["id"], "rejected")
        gate = {**(target["gate"] or {}), "live": live}
        _history(conn, target["timeframe"], "reject", target["id"], None, actor, reason, gate=gate)
    _label(conn, [tag])
    return True


def prune(conn: psycopg.Connection, keep: int, actor: str) -> list[str]:
    """Mark `pruned` every challenger but the newest `keep` of each timeframe; champions and
    former champions (retired, rolled back) stay. The rows stay; the caller removes the
    returned versions from the model store once this transaction has committed."""
    if keep < 0:
        raise ReleaseRefused(f"--keep {keep}: keep at least 0 challengers")
    pruned: list[str] = []
    for timeframe in TIMEFRAME_CODES:
        with conn.transaction():
            _lock(conn, timeframe)
            rows = conn.execute(
                "SELECT id, name, version FROM models WHERE timeframe = %s AND stage = "
                "'challenger' ORDER BY trained_at DESC, id DESC OFFSET %s",
                (timeframe, keep),
            ).fetchall()
            for row in rows:
                pruned.append(_tag(row))
                _set_stage(conn, row["id"], "pruned")
                _history(conn, timeframe, "prune", row["id"], None, actor, f"keep {keep}")
    return pruned


def release_trained(
    conn: psycopg.Connection, tag: str, gate: dict | None, auto_promote: bool, actor: str
) -> dict:
    """After a new version is registered: its gate recorded. A first version (no gate) is
    already champion; a passing one waits as challenger for the live gate (auto-promotion on,
    see `candlecast.monitoring.live_gate`) or for a person."""
    if gate is None:
        return {"stage": _model(conn, tag)["stage"], "gate": None}
    record_gate(conn, tag, gate)
    waits = ""
    if gate["verdict"] == "pass":
        waits = " (waits for the live gate)" if auto_promote else " (auto-promotion off)"
    return {
        "stage": _model(conn, tag)["stage"],
        "gate": gate["verdict"] + waits,
        "gate_reasons": gate.get("reasons", []),
    }


def champion_tags(conn: psycopg.Connection) -> dict[str, str]:
    """{timeframe code: champion tag} for the timeframes that have one."""
    rows = conn.execute(
        "SELECT timeframe, name, version FROM models WHERE stage = 'champion'"
    ).fetchall()
    return {row["timeframe"]: _tag(row) for row in rows}


def challenger_tags(conn: psycopg.Connection) -> dict[str, str]:
    """{timeframe code: its newest challenger's tag} for the timeframes that have one (what
    the API shadows)."""
    rows = conn.execute(
        "SELECT DISTINCT ON (timeframe) timeframe, name, version FROM models "
        "WHERE stage = 'challenger' ORDER BY timeframe, trained_at DESC, id DESC"
    ).fetchall()
    return {row["timeframe"]: _tag(row) for row in rows}


def champion_row(conn: psycopg.Connection, timeframe: Timeframe) -> dict | None:
    return _champion_row(conn, timeframe.code)


def versions(conn: psycopg.Connection, timeframe: str | None = None) -> list[dict]:
    """Every version (pruned ones too) with its stage and gate, newest first per timeframe."""
    return conn.execute(
        "SELECT name || ':' || version AS tag, timeframe, stage, trained_at, data_end, "
        "stage_changed_at, gate, live_gate FROM models WHERE %(tf)s::text IS NULL OR timeframe = %(tf)s "
        "ORDER BY timeframe, trained_at DESC, id DESC",
        {"tf": timeframe},
    ).fetchall()


def history(conn: psycopg.Connection, timeframe: str | None = None, limit: int = 50) -> list[dict]:
    return conn.execute(
        """
        SELECT r.created_at, r.timeframe, r.action, f.name || ':' || f.version AS from_tag,
               t.name || ':' || t.version AS to_tag, r.actor, r.reason, r.forced,
               r.gate ->> 'verdict' AS verdict
        FROM model_releases r
        LEFT JOIN models f ON f.id = r.from_model_id LEFT JOIN models t ON t.id = r.to_model_id
        WHERE %(tf)s::text IS NULL OR r.timeframe = %(tf)s
        ORDER BY r.created_at DESC, r.id DESC LIMIT %(limit)s
        """,
        {"tf": timeframe, "limit": limit},
    ).fetchall()


def newest_challenger(conn: psycopg.Connection, timeframe: str) -> dict | None:
    return conn.execute(
        "SELECT name || ':' || version AS tag, trained_at, gate, live_gate FROM models "
        "WHERE timeframe = %s AND stage = 'challenger' ORDER BY trained_at DESC, id DESC LIMIT 1",
        (timeframe,),
    ).fetchone()


# The model store's side: a `stage` label on each version, for `bentoml models list`.


def _label(conn: psycopg.Connection, tags: list[str | None]) -> None:
    for tag in filter(None, tags):
        try:
            set_store_label(tag, _model(conn, tag)["stage"])
        except (OSError, ValueError) as error:  # the table is the truth; labels are a view
            log.warning("stage label of %s not updated: %s", tag, error)
