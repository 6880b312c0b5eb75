"""The prediction API over real `bentoml serve` (sample provider, the session's models, real
PostgreSQL and Redis): every endpoint's answers and errors."""

from __future__ import annotations

import json

import httpx
import pandas as pd
import pytest

from candlecast import __version__
from candlecast.api import headline_metrics
from candlecast.modeling import ForecastModel, model_row_id
from candlecast.ohlcv import CandleStore
from candlecast.serving import NO_OUTCOMES, SERVING_CANDLES, make_forecast, persist_forecast
from candlecast.timeframes import TIMEFRAME_CODES, TIMEFRAMES

pytestmark = pytest.mark.e2e
SAMPLE_BY_VOLUME = ["X:BTCUSDT", "X:ETHUSDT"]  # the two largest of the sample universe


def call(url: str, route: str, body) -> httpx.Response:
    content = body if isinstance(body, str) else json.dumps(body)
    return httpx.post(
        f"{url}{route}", content=content, headers={"Content-Type": "application/json"}, timeout=60
    )


def count_predictions(conn) -> int:
    return conn.execute("SELECT count(*) AS n FROM predictions").fetchone()["n"]


def test_predict_answers_with_context(bento_url, conn):
    response = call(bento_url, "/predict", {"symbol": "bnbusdt", "timeframe": "4h", "steps": 12})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["symbol"] == "X:BNBUSDT" and len(body["steps"]) == 12
    assert body["model"] == f"{body['model_name']}:{body['model_version']}"
    assert body["model_name"] == "candlecast-4h"
    assert body["persisted"] is True and body["cached"] is False and body["stale"] is False
    last = pd.Timestamp(body["last_candle_at"])
    assert body["data_age_seconds"] == pytest.approx(
        (pd.Timestamp("2025-09-19 23:00", tz="UTC") - (last + pd.Timedelta(hours=4))).seconds
    )
    confidences = [s["confidence"] for s in body["steps"]]
    assert body["mean_confidence"] == pytest.approx(sum(confidences) / 12)
    assert body["indicators"] and all(isinstance(k, str) for k in body["indicators"])
    assert all(s["close_low_80"] <= s["close"] <= s["close_high_80"] for s in body["steps"])
    pd.Timestamp(body["generated_at"])  # a timestamp
    row = conn.execute(
        "SELECT stale, data_age_seconds, indicators, cache_key FROM predictions WHERE id = %s",
        (body["prediction_id"],),
    ).fetchone()
    assert row["stale"] is False and row["data_age_seconds"] == pytest.approx(
        body["data_age_seconds"]
    )
    assert row["indicators"] == body["indicators"] and "X:BNBUSDT:4h:12" in row["cache_key"]


@pytest.mark.parametrize("timeframe", TIMEFRAME_CODES)
def test_every_step_says_whether_it_has_skill_and_never_names_a_side_below_one_half(
    bento_url, conn, timeframe
):
    body = call(bento_url, "/predict", {"symbol": "X:BTCUSDT", "timeframe": timeframe}).json()
    steps, evidence = body["steps"], body["skill"]
    assert [e["horizon"] for e in evidence] == [s["step"] for s in steps] == list(range(1, 31))
    recorded = conn.execute(
        "SELECT metrics -> 'skill_by_horizon' AS skill FROM models "
        "WHERE name || ':' || version = %s",
        (body["model"],),
    ).fetchone()["skill"]
    assert [e["skill"] for e in evidence] == [r["skill"] for r in recorded]
    for step, figures in zip(steps, evidence, strict=True):
        assert step["skill"] == figures["skill"]
        assert 0.5 <= step["confidence"] <= 1.0
        if step["skill"] == "none":
            assert step["confidence"] == 0.5
        if step["skill"] == step["relative_skill"] == "none":
            assert step["close"] == pytest.approx(body["last_close"])
        else:
            assert figures["rank_ic_low"] > 0
            assert figures["direction_accuracy"] > figures["best_naive_accuracy"]
        assert step["high"] >= max(step["open"], step["close"])
        assert step["low"] <= min(step["open"], step["close"])
    stored = call(bento_url, "/predictions/get", {"prediction_id": body["prediction_id"]}).json()
    assert [s["skill"] for s in stored["steps"]] == [s["skill"] for s in steps]
    assert stored["skill"] == evidence


def test_a_cached_answer_is_the_same_prediction_and_adds_no_rows(bento_url, conn):
    request = {"symbol": "X:SOLUSDT", "timeframe": "1h", "steps": 7}
    first = call(bento_url, "/predict", request).json()
    before = count_predictions(conn)
    again = [call(bento_url, "/predict", request).json() for _ in range(3)]
    assert count_predictions(conn) == before
    assert {a["prediction_id"] for a in again} == {first["prediction_id"]}
    assert all(a["cached"] for a in again) and not first["cached"]
    assert [s["close"] for s in again[0]["steps"]] == [s["close"] for s in first["steps"]]
    other = call(bento_url, "/predict", {**request, "steps": 8}).json()
    assert other["prediction_id"] != first["prediction_id"]
    assert count_predictions(conn) == before + 1


def test_predict_until_is_turned_into_steps(bento_url):
    last = pd.Timestamp(call(bento_url, "/predict", {"symbol": "X:XRPUSDT", "timeframe": "1d"})
                        .json()["last_candle_at"])  # fmt: skip
    until = (last + pd.Timedelta(days=5, hours=6)).isoformat()
    body = call(
        bento_url, "/predict", {"symbol": "X:XRPUSDT", "timeframe": "1d", "predict_until": until}
    ).json()
    assert len(body["steps"]) == 5
    assert pd.Timestamp(body["steps"][-1]["timestamp"]) == last + pd.Timedelta(days=5)


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [  # 400: the body breaks its schema; 422: a valid body that cannot be served now
        ({"predict_until": "2020-01-01T00:00:00Z"}, 422, "in the past"),
        ({"predict_until": "2030-01-01T00:00:00Z"}, 422, "more than 30"),
        ({"predict_until": "2025-09-25T00:00:00Z", "steps": 3}, 400, "not both"),
        ({"predict_until": "next tuesday"}, 400, "predict_until"),
    ],
)
def test_bad_predict_until_is_refused_naming_the_field(bento_url, conn, body, status, needle):
    before = count_predictions(conn)
    response = call(bento_url, "/predict", {"symbol": "X:BTCUSDT", "timeframe": "1d", **body})
    assert response.status_code == status, response.text
    assert needle in response.text and response.json()["field"] == "predict_until"
    assert count_predictions(conn) == before


def test_unknown_symbol_is_a_404_with_close_matches(bento_url):
    response = call(bento_url, "/predict", {"symbol": "X:BTCUSDC", "timeframe": "1d"})
    assert response.status_code == 404
    body = response.json()
    assert body["field"] == "symbol" and "X:BTCUSDT" in body["matches"]
    assert "X:BTCUSDC" in body["error"]


def test_symbol_search_ranks_active_by_volume(bento_url, conn):
    by_ticker = call(bento_url, "/symbols/search", {"query": "btc"}).json()
    assert by_ticker["matches"][0]["ticker"] == "X:BTCUSDT"
    by_name = call(bento_url, "/symbols/search", {"query": "ethereum"}).json()
    assert [m["ticker"] for m in by_name["matches"]] == ["X:ETHUSDT"]
    everything = call(bento_url, "/symbols/search", {"query": "usdt", "limit": 2}).json()
    assert [m["ticker"] for m in everything["matches"]] == SAMPLE_BY_VOLUME
    ranked = conn.execute(
        "SELECT ticker FROM symbols WHERE active ORDER BY usd_volume_24h DESC LIMIT 2"
    ).fetchall()
    assert [r["ticker"] for r in ranked] == SAMPLE_BY_VOLUME
    wildcard = call(bento_url, "/symbols/search", {"query": "%"}).json()
    assert wildcard["matches"] == []


def test_candles_come_through_the_fresh_candle_path(bento_url):
    response = call(bento_url, "/candles", {"symbol": "X:ETHUSDT", "timeframe": "1w", "limit": 10})
    assert response.status_code == 200, response.text
    body = response.json()
    stamps = [pd.Timestamp(c["timestamp"]) for c in body["candles"]]
    assert len(stamps) == 10 and stamps == sorted(stamps)
    assert (
        stamps[-1] == pd.Timestamp(body["last_candle_at"]) == pd.Timestamp("2025-09-08", tz="UTC")
    )
    assert body["stale"] is False
    assert all(c["low"] <= min(c["open"], c["close"]) for c in body["candles"])
    most = call(bento_url, "/candles", {"symbol": "X:ETHUSDT", "timeframe": "1h", "limit": 1000})
    assert len(most.json()["candles"]) == 1000


def test_models_lists_the_serving_version_per_timeframe(bento_url, conn):
    body = call(bento_url, "/models", {}).json()
    assert [m["timeframe"] for m in body["models"]] == list(TIMEFRAME_CODES)
    for model in body["models"]:
        name, version = model["model"].split(":")
        row = conn.execute(
            "SELECT metrics, algorithm FROM models WHERE name = %s AND version = %s",
            (name, version),
        ).fetchone()
        assert row is not None and model["algorithm"] == row["algorithm"]
        assert model["headline"] == headline_metrics(row["metrics"])
        assert [e["horizon"] for e in model["skill"]] == list(range(1, 31))
        assert [e["skill"] for e in model["skill"]] == [
            e["skill"] for e in row["metrics"]["skill_by_horizon"]
        ]


def test_stored_predictions_can_be_read_back(bento_url):
    made = call(bento_url, "/predict", {"symbol": "X:ETHUSDT", "timeframe": "1d", "steps": 4})
    made = made.json()
    got = call(bento_url, "/predictions/get", {"prediction_id": made["prediction_id"]}).json()
    assert got["prediction_id"] == made["prediction_id"] and got["persisted"] is True
    assert [s["close"] for s in got["steps"]] == pytest.approx([s["close"] for s in made["steps"]])
    assert got["indicators"] == made["indicators"] and got["model"] == made["model"]
    latest = call(bento_url, "/predictions/latest", {"symbol": "ethusdt", "timeframe": "1d"})
    assert latest.json()["prediction_id"] == made["prediction_id"]


@pytest.mark.parametrize(
    ("route", "body", "status", "needle"),
    [
        (
            "/predictions/get",
            {"prediction_id": "0b8f8a4e-1f3c-4d7e-9a52-3f1d2c4b5a6e"},
            404,
            "no prediction",
        ),
        ("/predictions/get", {"prediction_id": "not-a-uuid"}, 400, "prediction_id"),
        ("/predictions/get", {}, 400, "prediction_id"),
        ("/predictions/latest", {"symbol": "X:XRPUSDT", "timeframe": "1w"}, 404, "X:XRPUSDT"),
        ("/predictions/latest", {"symbol": "X:XRPUSDT", "timeframe": "5m"}, 400, "timeframe"),
        ("/candles", {"symbol": "X:ETHUSDT", "timeframe": "1d", "limit": 1001}, 400, "limit"),
        ("/candles", {"symbol": "X:ETHUSDT", "timeframe": "1d", "limit": 0}, 400, "limit"),
        ("/candles", {"symbol": "X:NOPEUSDT", "timeframe": "1d"}, 404, "X:NOPEUSDT"),
        ("/candles", {"symbol": ["X:ETHUSDT"], "timeframe": "1d"}, 400, "symbol"),
        ("/symbols/search", {"query": ""}, 400, "query"),
        ("/symbols/search", {"query": "b" * 41}, 400, "query"),
        ("/symbols/search", {"query": "btc", "limit": 51}, 400, "limit"),
        ("/symbols/search", {"query": None}, 400, "query"),
        ("/accuracy", {"timeframe": "1y"}, 400, "timeframe"),
        ("/accuracy", {"horizon": "h2"}, 400, "horizon"),
        ("/accuracy", {"start": "2025-09-10", "end": "2025-09-01"}, 422, "after end"),
        ("/predict", {"symbol": "X:BTCUSDT", "timeframe": "1d", "steps": -3}, 400, "steps"),
        ("/predict", {"symbol": "X:BTCUSDT", "timeframe": "1d", "steps": 2.5}, 400, "steps"),
        ("/predict", {"symbol": "X:BTCUSDT", "timeframe": 1}, 400, "timeframe"),
        ("/predict", {"symbol": "X:BTCUSDT", "timeframe": "1d" * 100}, 400, "timeframe"),
        ("/predict", {"symbol": "X:" + "B" * 100_000, "timeframe": "1d"}, 400, "symbol"),
        ("/predict", [1, 2, 3], 400, "object"),
        ("/predict", "null", 400, ""),
        ("/predict", '{"symbol": "X:BTCUSDT", "timeframe": "1d"', 400, "json"),
    ],
)
def test_bad_input_is_a_clear_4xx(bento_url, route, body, status, needle):
    response = call(bento_url, route, body)
    assert response.status_code == status, response.text
    assert needle.lower() in response.text.lower()


def test_accuracy_without_outcomes_says_so(bento_url):
    body = call(bento_url, "/accuracy", {"timeframe": "4h"}).json()
    assert body["rows"] == [] and body["note"] == NO_OUTCOMES


def test_accuracy_scores_forecasts_whose_candles_have_closed(bento_url, conn, settings):
    """A forecast made as of 40 days before the data ends, stored by the serving code, is
    scored by the monitoring workflow against the Parquet store (all 30 targets have closed)
    and /accuracy reads the figures back."""
    from candlecast.pipeline import run_score_outcomes
    from candlecast.serving import CandleWindow

    timeframe = TIMEFRAMES["1d"]
    # The served version, read from the store's folder: importing bentoml here would pin this
    # test process to one model store for every later test.
    (served,) = [
        m for m in call(bento_url, "/models", {}).json()["models"] if m["timeframe"] == "1d"
    ]
    model = ForecastModel.load(
        settings.bentoml_home / "models" / served["model_name"] / served["model_version"]
    )
    store = CandleStore(settings.store_dir)
    history = store.read("X:SOLUSDT", timeframe)
    past = history.iloc[: len(history) - 40].iloc[-SERVING_CANDLES:].reset_index(drop=True)
    now = timeframe.next_open(past["timestamp"].iloc[-1])
    window = CandleWindow("X:SOLUSDT", timeframe, past, now, False, "cache")
    # The model's market context (BTC, ETH) as the store held it at the same moment.
    benchmarks = {
        base: CandleWindow(
            ticker, timeframe, _until(store.read(ticker, timeframe), now), now, False, "cache"
        )
        for base, ticker in model.market.items()
    }
    forecast = make_forecast(model, served["model"], window, 30, market_windows=benchmarks)
    symbol_id = conn.execute("SELECT id FROM symbols WHERE ticker = 'X:SOLUSDT'").fetchone()["id"]
    persist_forecast(conn, forecast, symbol_id, model_row_id(conn, served["model"]))
    conn.commit()
    assert run_score_outcomes(settings)["scored"] >= 30
    last_close_day = (pd.Timestamp(forecast.steps[-1].timestamp) + pd.Timedelta(days=1)).date()
    request = {
        "timeframe": "1d",
        "model": served["model"],
        "horizon": "all",
        "window_days": 30,
        "start": str(last_close_day),
        "end": str(last_close_day),
    }
    body = call(bento_url, "/accuracy", request).json()
    (row,) = body["rows"]
    assert row["model"] == served["model"] and row["n"] == 30 and row["predictions"] == 1
    actual = history.set_index("timestamp")["close"]
    calls = [  # a step without skill (confidence 0.5) names no side: no hit or miss
        s
        for s in forecast.steps
        if s.confidence > 0.5 and actual[pd.Timestamp(s.timestamp)] != forecast.last_close
    ]
    expected_hits = [
        (s.direction == "up") == (actual[pd.Timestamp(s.timestamp)] > forecast.last_close)
        for s in calls
    ]
    assert row["calls"] == len(calls)
    assert row["direction_accuracy"] == (
        pytest.approx(sum(expected_hits) / len(calls)) if calls else None
    )
    assert 0 <= row["interval_80_coverage"] <= 1 and row["mae_ratio_to_random_walk"] > 0
    assert row["test"]["direction_accuracy"] == pytest.approx(
        served_test_accuracy(conn, served["model"])
    )


def _until(candles: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
    return candles[candles["timestamp"] < now].reset_index(drop=True)


def served_test_accuracy(conn, tag: str) -> float:
    return conn.execute(
        "SELECT (metrics -> 'test' -> 'all' ->> 'direction_accuracy')::float8 AS a FROM models "
        "WHERE name || ':' || version = %s",
        (tag,),
    ).fetchone()["a"]


def test_health_reports_every_dependency(bento_url):
    response = httpx.get(f"{bento_url}/healthz", timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["access"] == "open"
    assert {body[k]["status"] for k in ("postgres", "redis", "models", "provider")} == {"ok"}
    for route in ("/livez", "/readyz", "/metrics"):
        assert httpx.get(f"{bento_url}{route}", timeout=30).status_code == 200


API_ROUTES = (
    "/predict", "/symbols/search", "/candles", "/models", "/predictions/get",
    "/predictions/latest", "/accuracy", "/rank",
)  # fmt: skip


def resolve(spec: dict, schema: dict) -> dict:
    ref = schema.get("$ref")
    return spec["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else schema


def test_openapi_documents_every_endpoint_with_examples_and_errors(bento_url):
    text = httpx.get(f"{bento_url}/docs.json", timeout=30).text
    for boilerplate in ("IODescriptor", "created with BentoML", "BentoML Team", "Service APIs"):
        assert boilerplate not in text, boilerplate
    spec = json.loads(text)
    assert spec["info"]["title"] == "candlecast" and spec["info"]["version"] == __version__
    for needle in ("Authorization: Bearer", '"error"', "`stale", "`skill`", "422"):
        assert needle in spec["info"]["description"], needle
    assert set(spec["paths"]) == set(API_ROUTES) | {"/healthz", "/livez", "/readyz", "/metrics"}
    assert spec["paths"]["/healthz"]["get"]["responses"]["503"]
    assert "example" in spec["components"]["schemas"]["Health"]
    for route in API_ROUTES:
        operation = spec["paths"][route]["post"]
        answer = resolve(
            spec, operation["responses"]["200"]["content"]["application/json"]["schema"]
        )
        assert "example" in answer, route
        assert operation["description"] and operation["summary"], route
        request = resolve(spec, operation["requestBody"]["content"]["application/json"]["schema"])
        assert "example" in request and request["additionalProperties"] is False, route
        for status in ("400", "401", "429", "503"):
            error = operation["responses"][status]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/Error"}, (route, status)
    predict = spec["paths"]["/predict"]["post"]
    request = resolve(spec, predict["requestBody"]["content"]["application/json"]["schema"])
    assert request["not"] == {"required": ["steps", "predict_until"]}
    assert {"404", "422"} <= set(predict["responses"]) and "500" not in predict["responses"]
    assert set(spec["components"]["schemas"]["Error"]["properties"]) >= {"error", "field"}


def test_swagger_try_it_out_examples_are_answered(bento_url):
    """What Swagger UI sends from each documented example: an answer, not an error, except
    the example prediction id, which names no stored forecast."""
    spec = httpx.get(f"{bento_url}/docs.json", timeout=30).json()
    for route in API_ROUTES:
        request = spec["paths"][route]["post"]["requestBody"]["content"]["application/json"]
        example = resolve(spec, request["schema"])["example"]
        response = call(bento_url, route, example)
        expected = 404 if route == "/predictions/get" else 200
        assert response.status_code == expected, (route, response.text[:500])
    page = httpx.get(f"{bento_url}/", timeout=30).text
    assert "swagger-ui" in page and "<title>candlecast API</title>" in page
    assert "googletagmanager" not in page and "bentoml" not in page.lower()
