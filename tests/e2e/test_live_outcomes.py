"""Live outcomes for real: forecasts and rankings served by `bentoml serve` with the provider's
clock two days before the sample ends, the clock moved on, `score_outcomes` and `reports` through
`airflow dags test`, /accuracy read back over HTTP (session models, PostgreSQL, Redis)."""

from __future__ import annotations

import json

import httpx
import pandas as pd
import psycopg
import pytest
from psycopg.rows import dict_row

from candlecast.ohlcv import CandleStore
from candlecast.timeframes import TIMEFRAMES
from tests.support.bento_server import running_bento
from tests.support.webhook import WebhookSink

from .conftest import BIN, run_airflow

pytestmark = pytest.mark.e2e
END = pd.Timestamp("2025-09-19 23:00", tz="UTC")  # the sample's "now"
T0 = END - pd.Timedelta(days=2)
HOUR = TIMEFRAMES["1h"]
COINS = ("X:BTCUSDT", "X:ETHUSDT", "X:BNBUSDT", "X:SOLUSDT", "X:XRPUSDT")


def dag_test(env: dict, dag_id: str, now: pd.Timestamp) -> str:
    output = run_airflow({**env, "CANDLECAST_NOW": now.isoformat()}, "dags", "test", dag_id)
    assert f"dag_id={dag_id}" in output and "state=success" in output, output[-6000:]
    return output


def rows(url: str, sql: str, *args) -> list[dict]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(sql, args).fetchall()


RANKED_HORIZONS = (1, 6, 30)


@pytest.fixture(scope="module")
def at_t0(stack_environment, dag_runs, home) -> dict:
    """1h forecasts of the five coins, and the 1h rankings at RANKED_HORIZONS, served as of T0."""
    env = {**stack_environment, "CANDLECAST_NOW": T0.isoformat()}
    with running_bento(env, home / "bento-t0.log") as url:
        bodies, rankings = [], []
        for ticker in COINS:
            response = httpx.post(
                f"{url}/predict", json={"symbol": ticker, "timeframe": "1h"}, timeout=60
            )
            assert response.status_code == 200, response.text
            bodies.append(response.json())
        for horizon in RANKED_HORIZONS:
            response = httpx.post(
                f"{url}/rank", json={"timeframe": "1h", "horizon": horizon}, timeout=120
            )
            assert response.status_code == 200, response.text
            rankings.append(response.json())
    assert {pd.Timestamp(b["last_candle_at"]) for b in bodies} == {T0 - pd.Timedelta(hours=1)}
    return {"forecasts": bodies, "rankings": rankings}


@pytest.fixture(scope="module")
def served_at_t0(at_t0) -> list[dict]:
    return at_t0["forecasts"]


def ranking_outcomes(env: dict) -> dict[int, dict]:
    found = rows(
        env["DATABASE_URL"],
        "SELECT o.*, r.entries, r.target_at FROM ranking_outcomes o "
        "JOIN rankings r ON r.id = o.ranking_id WHERE o.timeframe = '1h'",
    )
    return {r["horizon"]: r for r in found}


def realised_spread(outcome: dict, closes: dict) -> float:
    """Top coin minus bottom coin (a fifth of five coins is one) of the stored ranking."""
    entries = sorted(outcome["entries"], key=lambda e: -e["relative_z"])
    target = pd.Timestamp(outcome["target_at"])
    change = [closes[e["symbol"]][target] / e["last_close"] - 1 for e in entries]
    return change[0] - change[-1]


def outcomes_of(env: dict, ids: list[str]) -> list[dict]:
    return rows(
        env["DATABASE_URL"],
        "SELECT o.*, s.ticker FROM prediction_outcomes o JOIN symbols s ON s.id = o.symbol_id "
        "WHERE o.prediction_id = ANY(%s::uuid[]) ORDER BY o.prediction_id, o.step",
        ids,
    )


def test_served_forecasts_are_scored_once_read_back_and_reported(
    served_at_t0, stack_environment, bento_url, settings
):
    env = stack_environment
    ids = [b["prediction_id"] for b in served_at_t0]
    t1 = T0 + pd.Timedelta(hours=12)
    dag_test(env, "score_outcomes", t1)
    first = outcomes_of(env, ids)
    # Steps 1-12 target the candles 23:00 … 10:00, which closed by T0 + 12 h.
    assert len(first) == 5 * 12 and {o["step"] for o in first} == set(range(1, 13))
    store = CandleStore(settings.store_dir)
    closes = {t: store.read(t, HOUR).set_index("timestamp")["close"] for t in COINS}
    for outcome in first:
        actual = closes[outcome["ticker"]][pd.Timestamp(outcome["target_at"])]
        assert outcome["actual_close"] == pytest.approx(actual) and outcome["source"] == "store"
        no_call = actual == outcome["last_close"] or outcome["confidence"] <= 0.5  # no side
        assert outcome["hit"] == (
            None if no_call else (outcome["direction"] == "up") == (actual > outcome["last_close"])
        )

    ranked = ranking_outcomes(env)  # h1 and h6 closed by T0 + 12 h, h30 not yet
    assert set(ranked) == {1, 6}
    for outcome in ranked.values():
        assert outcome["coins"] == 5 and -1 <= outcome["rank_ic"] <= 1
        assert outcome["spread"] == pytest.approx(realised_spread(outcome, closes))

    dag_test(env, "score_outcomes", t1)  # a re-run: nothing written twice
    assert outcomes_of(env, ids) == first
    assert ranking_outcomes(env) == ranked

    dag_test(env, "score_outcomes", END)  # the clock moved on: the rest of the steps closed
    scored = outcomes_of(env, ids)
    assert len(scored) == 5 * 30
    assert [o for o in scored if o["step"] <= 12] == first

    # /accuracy reads the rolling figures: h1 of the served version over the 7 days to END.
    tag = served_at_t0[0]["model"]
    day = str(END.date())
    body = httpx.post(
        f"{bento_url}/accuracy",
        json={"timeframe": "1h", "model": tag, "horizon": "h1", "start": day, "end": day},
        timeout=60,
    ).json()
    (row,) = body["rows"]
    h1 = [o for o in scored if o["step"] == 1]
    moved = [o for o in h1 if o["hit"] is not None]
    assert row["n"] == len(h1) == 5 and row["predictions"] == 5 and row["coins"] == 5
    assert row["calls"] == len(moved)
    assert row["direction_accuracy"] == (
        pytest.approx(sum(o["hit"] for o in moved) / len(moved)) if moved else None
    )
    assert row["interval_80_coverage"] == pytest.approx(sum(o["inside_80"] for o in h1) / 5)
    buckets = httpx.post(
        f"{bento_url}/accuracy", json={"timeframe": "1h", "model": tag}, timeout=60
    ).json()["rows"]
    assert [r["horizon"] for r in buckets] == ["h1", "h6", "h30", "all"]
    assert buckets[-1]["n"] == 150 and all(r["day"] == day for r in buckets)
    assert set(ranking_outcomes(env)) == set(RANKED_HORIZONS)
    early = str((T0 + pd.Timedelta(hours=1)).date())  # the day the h1 and h6 targets closed
    ranked_rows = httpx.post(
        f"{bento_url}/accuracy",
        json={"timeframe": "1h", "model": tag, "start": early, "end": early},
        timeout=60,
    ).json()["rankings"]
    assert sorted(r["horizon"] for r in ranked_rows) == [1, 6]
    for row in ranked_rows:
        assert row["rankings"] == 1 and row["coins"] == 5
        assert row["spread"] == pytest.approx(ranked[row["horizon"]]["spread"])
        assert row["spread_net"] == pytest.approx(row["spread"] - 4 * row["fee"])
    none = httpx.post(f"{bento_url}/accuracy", json={"timeframe": "1w"}, timeout=60).json()
    assert none["rows"] == [] and "score_outcomes" in none["note"]

    # The evening report: sent once to the webhook, saved with its plot.
    evening = END.replace(hour=19)
    with WebhookSink() as sink:
        slack = json.dumps({"conn_type": "http", "password": sink.url})
        reporting = {**env, "AIRFLOW_CONN_CANDLECAST_SLACK": slack}
        dag_test(reporting, "reports", evening)
        dag_test(reporting, "reports", evening)
    (message,) = sink.messages
    saved = settings.reports_dir / f"daily-{evening:%Y%m%dT%H%MZ}"
    assert message["text"] == saved.with_suffix(".txt").read_text()
    assert saved.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    assert f"1h {tag}: n=" in message["text"] and "Paper ledger" in message["text"]
    assert f"1h {tag}: 1 ranking(s) of ~5 coins" in message["text"]  # h30 closed that day
    cli = subprocess_report(env, day)
    assert cli.startswith("candlecast daily report: 2025-09-19 00:00 → 2025-09-20 00:00 UTC")
    assert f"1h {tag}: n=" in cli


def subprocess_report(env: dict, day: str) -> str:
    import subprocess

    result = subprocess.run(
        [str(BIN / "candlecast"), "report", "daily", "--date", day],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout
