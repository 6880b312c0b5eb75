"""`as_of` end to end over a real `bentoml serve`: a home of its own (the bundled sample's hourly
candles in the store, a naive model per timeframe in the model store and PostgreSQL, so no
training is waited for). An as-of /predict and /rank answer from the store's candles closed then,
each closed step beside its realised close, not from the prediction cache (a live forecast of
the same coin cached just before), and store nothing: the predictions, steps and rankings are
counted before and after. The served OpenAPI document describes the new fields."""

from __future__ import annotations

import os
import uuid

import httpx
import pandas as pd
import psycopg
import pytest

from candlecast.marketdata import SampleProvider
from candlecast.modeling import save_model
from candlecast.ohlcv import CandleStore
from candlecast.ops import db, ensure_database, with_database
from candlecast.settings import Settings
from candlecast.timeframes import TIMEFRAMES
from tests.support.bento_server import BIN, running_bento
from tests.support.naive_model import naive_ranker_model

pytestmark = pytest.mark.e2e
SAMPLE = SampleProvider(Settings().candlecast_sample_dir)
PAIRS = SAMPLE.pairs()
H1 = TIMEFRAMES["1h"]
TABLES = ("predictions", "prediction_steps", "rankings")


@pytest.fixture(scope="module")
def served(settings, database_url, tmp_path_factory):
    home = tmp_path_factory.mktemp("as-of-home")
    name = f"candlecast_asof_{uuid.uuid4().hex[:8]}"  # a database of its own
    ensure_database(database_url, name)
    fresh_database_url = with_database(database_url, name)
    local = settings.model_copy(
        update={"candlecast_home": home, "database_url": fresh_database_url}
    )
    store = CandleStore(home / "store")
    now = SAMPLE.now()
    for pair in PAIRS:
        frame = SAMPLE.fetch_candles(f"X:{pair}", H1, now - pd.Timedelta(days=60), now)
        store.write(f"X:{pair}", H1, frame)
    with db.connect(local) as conn:
        for rank, pair in enumerate(PAIRS, start=1):
            conn.execute(
                "INSERT INTO symbols (ticker, name, base, quote, active, volume_rank) "
                "VALUES (%s, %s, %s, 'USDT', true, %s)",
                (f"X:{pair}", pair, pair.removesuffix("USDT"), rank),
            )
        conn.commit()
        tags = {
            code: save_model(local, conn, naive_ranker_model(-1.0, code)) for code in TIMEFRAMES
        }
    env = {
        **os.environ,
        "CANDLECAST_HOME": str(home),
        "DATABASE_URL": fresh_database_url,
        "REDIS_URL": local.redis_url,
        "BENTOML_HOME": os.environ["BENTOML_HOME"],  # where save_model put them
        "CANDLECAST_PROVIDER": "sample",
        "CANDLECAST_API_WORKERS": "1",
        "CANDLECAST_SHADOW_FRACTION": "0",
        "KERAS_BACKEND": "jax",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("POLYGON_API_KEY", None)
    with running_bento(env, home / "bento-as-of.log") as url:
        yield url, local, store, tags
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def counts(local) -> dict[str, int]:
    with db.connect(local) as conn:
        return {t: conn.execute(f"SELECT count(*) AS n FROM {t}").fetchone()["n"] for t in TABLES}


def test_as_of_answers_from_the_store_and_stores_nothing(served):
    url, local, store, tags = served
    live = httpx.post(f"{url}/predict", json={"symbol": "btcusdt", "timeframe": "1h"}, timeout=60)
    assert live.status_code == 200 and live.json()["persisted"], live.text
    before = counts(local)
    as_of = SAMPLE.now() - pd.Timedelta(hours=12)
    body = {"symbol": "btcusdt", "timeframe": "1h", "as_of": as_of.isoformat()}
    first = httpx.post(f"{url}/predict", json=body, timeout=60)
    again = httpx.post(f"{url}/predict", json=body, timeout=60)
    ranked = httpx.post(
        f"{url}/rank",
        json={"timeframe": "1h", "horizon": 6, "as_of": as_of.isoformat()},
        timeout=60,
    )
    assert counts(local) == before  # nothing stored: no forecast, no steps, no ranking
    assert first.status_code == 200, first.text
    assert "x-candlecast-answer" not in first.headers  # not the cached live answer
    forecast = first.json()
    assert pd.Timestamp(forecast["as_of"]) == as_of and forecast["persisted"] is False
    assert forecast["model"] == tags["1h"]  # the only version: champion only since the test began
    assert forecast["model_chosen"] == "current champion: no 1h version was champion at as_of"
    assert pd.Timestamp(forecast["last_candle_at"]) == as_of - pd.Timedelta(hours=1)
    closes = store.read("X:BTCUSDT", H1).set_index("timestamp")["close"]
    assert forecast["last_close"] == closes[as_of - pd.Timedelta(hours=1)]
    actual = [s["actual"] for s in forecast["steps"]]
    assert actual[:12] == [closes[pd.Timestamp(s["timestamp"])] for s in forecast["steps"][:12]]
    assert actual[12:] == [None] * 18  # not closed yet at the provider's now
    assert all(s["inside_80"] is not None for s in forecast["steps"][:12])
    repeat = again.json()
    assert {**repeat, "generated_at": None} == {**forecast, "generated_at": None}
    assert ranked.status_code == 200, ranked.text
    ranking = ranked.json()
    assert ranking["ranking_id"] is None and ranking["universe_size"] == len(PAIRS)
    assert ranking["model_chosen"] and ranking["universe_chosen"].startswith("today's ranking")
    assert all(c["realised_return"] is not None for c in ranking["coins"])


def test_a_bad_as_of_is_refused_naming_the_field(served):
    url = served[0]
    for as_of, status in (("2099-01-01T00:00:00Z", 422), ("2019-01-01T00:00:00Z", 422),
                          ("last tuesday", 400)):  # fmt: skip
        for route, body in (("/predict", {"symbol": "btcusdt", "timeframe": "1h"}),
                            ("/rank", {"timeframe": "1h", "horizon": 1})):  # fmt: skip
            answer = httpx.post(f"{url}{route}", json={**body, "as_of": as_of}, timeout=60)
            assert answer.status_code == status, (route, as_of, answer.text)
            assert answer.json()["field"] == "as_of", answer.text


def test_the_openapi_document_describes_as_of(served):
    spec = httpx.get(f"{served[0]}/docs.json", timeout=30).json()
    schemas = spec["components"]["schemas"]
    for request in ("PredictRequest", "RankRequest"):
        assert schemas[request]["properties"]["as_of"]["format"] == "date-time", request
    assert {"actual", "hit", "inside_80"} <= set(schemas["ForecastStep"]["properties"])
    assert {"as_of", "model_chosen"} <= set(schemas["Forecast"]["properties"])
    assert {"as_of", "model_chosen", "universe_chosen"} <= set(schemas["Ranking"]["properties"])
    for route in ("/predict", "/rank"):  # a refused as_of is a documented answer
        assert "422" in spec["paths"][route]["post"]["responses"], route
