"""The live gate's decisions, after each scoring pass (`score_outcomes`) and on demand
(`candlecast models decide`, the `release_models` DAG's `decide`): every challenger's live
comparison with its timeframe's champion (`live_gate.evidence`) is recorded on its row
(`models.live_gate`, what /models, the CLI and the reports show), and, with auto-promotion on:

- a challenger whose training-time gate passed and whose live verdict is `pass` is promoted
  (`auto_promote`, the evidence in its `model_releases` row); one per timeframe and pass, the
  others are compared with the new champion from the next pass on;
- a challenger not promoted by its `decide_by` (`max_days` after it became challenger) is
  rejected (stage `rejected`, action `reject`, the reason and the evidence recorded).

Auto-promotion off: the evidence is recorded and shown, a person decides.
"""

from __future__ import annotations

import json

import pandas as pd
import psycopg

from candlecast.modeling import releases
from candlecast.monitoring.live_gate import LiveGateRules, evidence

CHALLENGERS = """
    SELECT id, name || ':' || version AS tag, timeframe, stage_changed_at, gate
    FROM models WHERE stage = 'challenger' ORDER BY timeframe, trained_at DESC, id DESC
"""
CHAMPIONS = (
    "SELECT id, name || ':' || version AS tag, timeframe FROM models WHERE stage = 'champion'"
)


def _decide(conn: psycopg.Connection, row: dict, live: dict, now: pd.Timestamp, actor: str) -> str:
    """Promote, reject, or leave waiting; returns what was done."""
    trained_gate = (row["gate"] or {}).get("verdict")
    if live["verdict"] == "pass" and trained_gate == "pass":
        reason = "live gate passed: " + "; ".join(live["reasons"])
        change = releases.promote(conn, row["tag"], actor, reason, auto=True, live=live)
        if change.to_tag == row["tag"]:
            return "promoted"
    if now >= pd.Timestamp(live["decide_by"]):
        if trained_gate != "pass":
            why = f"its training-time gate says {trained_gate or 'nothing'}"
        elif live["verdict"] == "worse":
            why = "live shadows worse than the champion: " + "; ".join(live["reasons"])
        else:
            why = "not enough live evidence: " + "; ".join(live["reasons"])
        reason = f"not promoted by {live['decide_by']} (live gate): {why}"
        if releases.reject(conn, row["tag"], actor, reason, live):
            return "rejected"
    return "waits"


def run_live_gate(
    conn: psycopg.Connection,
    now: pd.Timestamp,
    rules: LiveGateRules,
    auto_promote: bool,
    actor: str,
) -> dict:
    """One pass over every challenger; returns the evidence per challenger and the changes
    (`promoted`: [(from, to)], for the object store's pointers once committed)."""
    conn.commit()  # each decision below is a transaction of its own
    champions = {r["timeframe"]: r for r in conn.execute(CHAMPIONS).fetchall()}
    challengers = conn.execute(CHALLENGERS).fetchall()
    done: dict = {"evaluated": {}, "promoted": [], "rejected": []}
    changed: set[str] = set()
    for row in challengers:
        champion = champions.get(row["timeframe"])
        if champion is None or row["timeframe"] in changed:
            continue
        live = evidence(conn, row, champion, rules, now)
        decision = _decide(conn, row, live, now, actor) if auto_promote else "waits for a person"
        live["decision"] = decision
        conn.execute(
            "UPDATE models SET live_gate = %s WHERE id = %s", (json.dumps(live), row["id"])
        )
        conn.commit()
        done["evaluated"][row["tag"]] = summary(live)
        if decision == "promoted":
            changed.add(row["timeframe"])
            done["promoted"].append((champion["tag"], row["tag"]))
        elif decision == "rejected":
            done["rejected"].append(row["tag"])
    return done


def _figure(name: str, figure: dict) -> str:
    if figure.get("difference") is None:
        return f"{name} n/a"
    ci = figure.get("ci95")
    shown = f" [{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci else " (no interval)"
    return f"{name} {figure['difference']:+.4f}{shown}"


def summary(live: dict) -> str:
    """One line of a challenger's live comparison: n, the differences with their intervals,
    the verdict, and when it will be decided (or what was decided)."""
    if not live:
        return "live gate: not evaluated yet"
    decided = live.get("decision", "waits")
    when = (
        f"decide by {live['decide_by'][:16]}Z"
        if decided in ("waits", "waits for a person")
        else decided
    )
    return (
        f"live vs {live['champion']}: n={live['n']}/{live['min_outcomes']} · "
        f"{_figure('direction', live['direction_accuracy'])} over "
        f"{live['direction_accuracy'].get('calls', 0)} calls · "
        f"{_figure('rank IC', live['rank_ic'])} · {live['verdict']} · {when}"
    )
