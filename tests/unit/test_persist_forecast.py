"""A forecast and its steps are written by one statement: all or nothing, once per id."""

from __future__ import annotations

import psycopg
import pytest

from candlecast.api import Forecast, ForecastStep
from candlecast.api import examples as api_examples
from candlecast.serving import persist_forecast


@pytest.fixture
def ids(conn):
    symbol = conn.execute(
        "INSERT INTO symbols (ticker, name, base, quote) VALUES ('X:PERSISTUSD', 'p', 'P', 'USD') "
        "ON CONFLICT (ticker) DO UPDATE SET name = excluded.name RETURNING id"
    ).fetchone()["id"]
    model = conn.execute(
        "INSERT INTO models (name, version, timeframe, algorithm, feature_set_version, "
        "trained_at, n_symbols, n_train_rows) VALUES ('persist-test', 'v1', '1d', 'xgboost', "
        "'v2', now(), 1, 1) ON CONFLICT (name, version) DO UPDATE SET n_symbols = 1 RETURNING id"
    ).fetchone()["id"]
    conn.commit()
    return symbol, model


def forecast(prediction_id: str, steps: int = 30) -> Forecast:
    body = dict(api_examples.FORECAST, prediction_id=prediction_id)
    step = ForecastStep(**api_examples.FORECAST_STEP)
    body["steps"] = [step.model_copy(update={"step": k}) for k in range(1, steps + 1)]
    return Forecast(**body)


def rows(conn, prediction_id: str) -> tuple[int, int]:
    predictions = conn.execute(
        "SELECT count(*) AS n FROM predictions WHERE id = %s", (prediction_id,)
    ).fetchone()["n"]
    steps = conn.execute(
        "SELECT count(*) AS n FROM prediction_steps WHERE prediction_id = %s", (prediction_id,)
    ).fetchone()["n"]
    return predictions, steps


def test_a_forecast_is_stored_once_with_every_step(conn, ids):
    made = forecast("6f1c1e0a-5b7e-4d2a-9a52-000000000001")
    for _ in range(2):
        persist_forecast(conn, made, *ids, cache_key="k")
        conn.commit()
    assert rows(conn, made.prediction_id) == (1, 30)
    stored = conn.execute(
        "SELECT step, close, direction FROM prediction_steps WHERE prediction_id = %s "
        "ORDER BY step",
        (made.prediction_id,),
    ).fetchall()
    assert [r["step"] for r in stored] == list(range(1, 31))
    assert stored[0]["close"] == made.steps[0].close and stored[0]["direction"] == "up"


def test_a_bad_step_stores_nothing_of_the_forecast(conn, ids):
    made = forecast("6f1c1e0a-5b7e-4d2a-9a52-000000000002")
    made.steps[-1] = made.steps[-1].model_copy(update={"confidence": 1.5})
    with pytest.raises(psycopg.errors.CheckViolation, match="confidence"):
        persist_forecast(conn, made, *ids)
    conn.rollback()
    assert rows(conn, made.prediction_id) == (0, 0)


def test_a_shadow_is_stored_paired_with_the_forecast_it_shadows(conn, ids):
    served = forecast("6f1c1e0a-5b7e-4d2a-9a52-000000000003")
    shadow = forecast("6f1c1e0a-5b7e-4d2a-9a52-000000000004")
    persist_forecast(conn, served, *ids, cache_key="k")
    persist_forecast(conn, shadow, *ids, cache_key="k2", shadow_of=served.prediction_id)
    conn.commit()
    stored = conn.execute(
        "SELECT id::text, shadow, shadow_of::text FROM predictions WHERE id = ANY(%s::uuid[]) "
        "ORDER BY shadow",
        ([served.prediction_id, shadow.prediction_id],),
    ).fetchall()
    assert [tuple(r.values()) for r in stored] == [
        (served.prediction_id, False, None),
        (shadow.prediction_id, True, served.prediction_id),
    ]
    assert rows(conn, shadow.prediction_id) == (1, 30)
    with pytest.raises(psycopg.errors.CheckViolation, match="shadow_paired"):
        conn.execute(
            "UPDATE predictions SET shadow_of = NULL WHERE id = %s", (shadow.prediction_id,)
        )
    conn.rollback()
