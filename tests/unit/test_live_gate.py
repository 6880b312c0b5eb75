"""The live gate on real PostgreSQL: a champion's forecasts and a challenger's shadows of the same
requests written by hand (as the API stores them) on a synthetic hourly store, scored by the real
`score_outcomes` pass; then the gate, through `run_score_outcomes` and through the release path
(`release_action("decide")`, what `candlecast models decide` and the release_models DAG run):
a challenger better on its shadows is promoted, a worse one keeps the champion and is rejected
at its deadline, one short of the outcomes waits; the evidence is shown by the listing and the
report. Times come from the provider's frozen clock and the rows, never from a wall clock."""

from __future__ import annotations

import numpy as np
import pandas as pd
from psycopg.types.json import Jsonb

from candlecast.ops import db
from candlecast.pipeline import run_report, run_score_outcomes
from candlecast.releasing import release_action
from tests.support.served import add_model, serve
from tests.unit import test_monitoring as served

market = served.market  # the fixture: six coins' random walks, their symbols, a webhook sink
COINS, T0 = served.COINS, served.T0
TIMES = [T0 + pd.Timedelta(hours=h) for h in (0, 6, 12)]
NOW = T0 + pd.Timedelta(hours=50)  # every step of every forecast has closed
PAIRED = len(TIMES) * len(COINS) * 30
GATE = {"candlecast_live_gate_min_outcomes": 500}


def _versions(conn) -> tuple[int, int]:
    champion = add_model(conn, "champion", {"direction_accuracy": 0.52})
    challenger = add_model(conn, "challenger", {"direction_accuracy": 0.53})
    conn.execute("UPDATE models SET stage = 'champion' WHERE id = %s", (champion,))
    conn.execute(
        "UPDATE models SET gate = %s WHERE id = %s",
        (Jsonb({"verdict": "pass", "reasons": []}), challenger),
    )
    return champion, challenger


def _forecast(market, ticker, at, skilled: bool, seed: int):
    """(last close, closes, sides): 1 % off the truth on its side, or a coin flip's noise."""
    last = served.close_at(market, ticker, at)
    truth = served.actual_closes(market, ticker, at)
    if skilled:
        return last, truth * 1.01, list(np.where(truth >= last, "up", "down"))
    closes = last * np.exp(np.random.default_rng(seed).normal(0, 0.02, 30))
    return last, closes, list(np.where(closes >= last, "up", "down"))


def _serve_pairs(market, champion_skilled: bool, challenger_skilled: bool) -> tuple[int, int]:
    """The champion's forecast and the challenger's shadow of the same request, each time and
    coin; a skilled model calls every side right, an unskilled one at random."""
    with db.connect(market["at"](T0)) as conn:
        champion, challenger = _versions(conn)
        for k, at in enumerate(TIMES):
            for i, ticker in enumerate(COINS):
                symbol = market["symbols"][ticker]
                last, closes, sides = _forecast(market, ticker, at, champion_skilled, 100 * k + i)
                shown = serve(conn, champion, symbol, at, last, closes, sides, 0.6)
                last, closes, sides = _forecast(market, ticker, at, challenger_skilled, 7 + k + i)
                serve(conn, challenger, symbol, at, last, closes, sides, 0.6, shadow_of=shown)
    return champion, challenger


def _stages(settings) -> dict[str, str]:
    with db.connect(settings) as conn:
        rows = conn.execute("SELECT version, stage FROM models").fetchall()
    return {r["version"]: r["stage"] for r in rows}


def _history(settings) -> list[tuple]:
    with db.connect(settings) as conn:
        rows = conn.execute(
            "SELECT action, actor, reason, gate FROM model_releases ORDER BY id"
        ).fetchall()
    return [(r["action"], r["actor"], r["reason"], r["gate"]) for r in rows]


def _live(settings, version: str) -> dict:
    with db.connect(settings) as conn:
        return conn.execute(
            "SELECT live_gate FROM models WHERE version = %s", (version,)
        ).fetchone()["live_gate"]


def test_a_challenger_better_on_its_shadows_is_promoted_after_the_scoring_pass(market):
    _serve_pairs(market, champion_skilled=False, challenger_skilled=True)
    settings = market["at"](NOW, **GATE)
    result = run_score_outcomes(settings)
    assert result["scored"] == 2 * PAIRED
    gate = result["live_gate"]
    assert gate["promoted"] == [("candlecast-1h:champion", "candlecast-1h:challenger")]
    assert _stages(settings) == {"champion": "retired", "challenger": "champion"}
    action, actor, reason, recorded = _history(settings)[-1]
    assert (action, actor) == ("auto_promote", "score_outcomes")
    assert reason.startswith("live gate passed: direction accuracy +")
    live = recorded["live"]
    assert live["n"] == PAIRED and live["verdict"] == "pass"
    direction = live["direction_accuracy"]
    assert direction["challenger"] == 1.0 and 0.3 < direction["champion"] < 0.7
    assert direction["ci95"][0] > 0  # measurably better, not merely not worse
    assert live["rank_ic"]["difference"] > 0 and live["rank_ic"]["groups"] > 10
    assert _live(settings, "challenger")["decision"] == "promoted"
    again = run_score_outcomes(settings)  # nothing left to decide
    assert again["live_gate"] == {"evaluated": {}, "promoted": [], "rejected": []}


def test_a_worse_challenger_keeps_the_champion_and_is_rejected_at_its_deadline(market):
    _serve_pairs(market, champion_skilled=True, challenger_skilled=False)
    settings = market["at"](NOW, **GATE)
    result = run_score_outcomes(settings)
    line = result["live_gate"]["evaluated"]["candlecast-1h:challenger"]
    assert f"n={PAIRED}/500" in line and "worse" in line and "decide by" in line
    assert _stages(settings) == {"champion": "champion", "challenger": "challenger"}
    live = _live(settings, "challenger")
    assert live["verdict"] == "worse" and live["direction_accuracy"]["ci95"][1] < 0
    assert live["decision"] == "waits"
    # the release path decides the same while the deadline is ahead ...
    assert release_action(settings, "decide", actor="cli:test")["promoted"] == []
    # ... and rejects it once the deadline has passed (14 days after it became challenger)
    with db.connect(settings) as conn:
        conn.execute(
            "UPDATE models SET stage_changed_at = %s WHERE version = 'challenger'",
            (NOW - pd.Timedelta(days=15),),
        )
    decided = release_action(settings, "decide", actor="cli:test")
    assert decided["rejected"] == ["candlecast-1h:challenger"]
    assert _stages(settings) == {"champion": "champion", "challenger": "rejected"}
    action, actor, reason, recorded = _history(settings)[-1]
    assert (action, actor) == ("reject", "cli:test")
    assert "live shadows worse than the champion: direction accuracy lower by" in reason
    assert recorded["live"]["verdict"] == "worse"


def test_the_release_path_promotes_what_a_person_left_waiting_and_shows_the_evidence(market):
    _serve_pairs(market, champion_skilled=False, challenger_skilled=True)
    manual = market["at"](NOW, candlecast_auto_promote=False, **GATE)
    result = run_score_outcomes(manual)  # auto-promotion off: evidence only
    assert result["live_gate"]["promoted"] == []
    assert _live(manual, "challenger")["decision"] == "waits for a person"
    listing = release_action(manual, "list", timeframe="1h")
    shown = listing["live"]["candlecast-1h:challenger"]
    assert f"live vs candlecast-1h:champion: n={PAIRED}/500 · direction +" in shown
    assert "over 540 calls" in shown and "rank IC +" in shown and "pass" in shown
    text = run_report(manual, "weekly", NOW)["report"]
    assert "Live gate (challenger shadows" in text and shown in text

    decided = release_action(market["at"](NOW, **GATE), "decide", actor="release_models:r1")
    assert decided["promoted"] == [["candlecast-1h:champion", "candlecast-1h:challenger"]]
    assert _stages(manual) == {"champion": "retired", "challenger": "champion"}
    assert _history(manual)[-1][:2] == ("auto_promote", "release_models:r1")


def test_too_few_paired_outcomes_wait_and_a_failed_training_gate_is_never_auto_promoted(market):
    _, challenger = _serve_pairs(market, champion_skilled=False, challenger_skilled=True)
    short = market["at"](NOW, candlecast_live_gate_min_outcomes=PAIRED + 1)
    run_score_outcomes(short)
    live = _live(short, "challenger")
    assert live["verdict"] == "accumulating"
    assert live["reasons"] == [f"{PAIRED} of {PAIRED + 1} paired outcomes scored"]
    assert _stages(short)["challenger"] == "challenger"
    with db.connect(short) as conn:
        conn.execute(
            "UPDATE models SET gate = %s WHERE id = %s",
            (Jsonb({"verdict": "fail", "reasons": ["h1: worse"]}), challenger),
        )
    decided = release_action(market["at"](NOW, **GATE), "decide")
    assert decided["promoted"] == [] and _stages(short)["challenger"] == "challenger"
    assert _live(short, "challenger")["verdict"] == "pass"  # live evidence alone is not enough


def test_a_report_whose_post_failed_is_sent_by_the_next_run_exactly_once(market):
    from candlecast.pipeline import run_due_reports

    sink = market["sink"]
    first_end = T0 + pd.Timedelta(hours=19)  # a Monday: daily reports only
    settings = market["at"](first_end)
    sink.fail_next = 1  # the webhook is down for the first post
    first = run_due_reports(settings, first_end)
    assert first["retried"] == [] and [r["sent"] for r in first["reports"]] == [False]
    assert sink.messages == [] and len(sink.refused) == 1
    with db.connect(settings) as conn:
        row = conn.execute("SELECT status, attempts, delivered_at FROM sent_reports").fetchone()
    assert (row["status"], row["attempts"], row["delivered_at"]) == ("failed", 1, None)
    refused_text = sink.refused[0]["text"]

    second = run_due_reports(settings, first_end + pd.Timedelta(hours=12))
    assert [r["sent"] for r in second["retried"]] == [True]
    assert [r["sent"] for r in second["reports"]] == [True]
    third = run_due_reports(settings, first_end + pd.Timedelta(hours=24))
    assert third["retried"] == []
    texts = [m["text"] for m in sink.messages]
    assert texts.count(refused_text) == 1 and len(texts) == 3  # retried once, then the new ones
    with db.connect(settings) as conn:
        rows = conn.execute(
            "SELECT status, attempts FROM sent_reports ORDER BY period_end"
        ).fetchall()
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 2), ("sent", 1), ("sent", 1)]


def test_a_report_refused_twice_is_not_retried_a_third_time(market):
    from candlecast.pipeline import run_due_reports

    sink, end = market["sink"], T0 + pd.Timedelta(hours=19)
    sink.fail_next = 2
    settings = market["at"](end)
    run_due_reports(settings, end)
    retry = run_due_reports(settings, end + pd.Timedelta(hours=12))  # the retry refused too
    assert [r["sent"] for r in retry["retried"]] == [False]
    later = run_due_reports(settings, end + pd.Timedelta(hours=24))
    assert later["retried"] == []  # two attempts made: no third
    assert len(sink.refused) == 2 and len(sink.messages) == 2  # the next two reports
