"""Shadow forecasts on real PostgreSQL, Redis, the model store and the sample provider: a
sampled request stores the champion's forecast and the challenger's shadow of it (same request,
same candles), answers with the champion, and no user read ever finds the shadow; the watcher
keeps each timeframe's newest challenger loaded and lets a promoted one go."""

from __future__ import annotations

import pytest

from candlecast.api import NotFound
from candlecast.marketdata import SampleProvider
from candlecast.modeling import ForecastModel, load_version, releases, save_model
from candlecast.modeling.training.calibration import no_evidence
from candlecast.ops import ConnectionPool, GuardedRedis, db, serving_redis_client
from candlecast.serving import (
    ChampionWatcher,
    Forecaster,
    FreshCandles,
    LoadedModel,
    PredictionCache,
    in_sample,
    reads,
)
from candlecast.settings import SAMPLE_DATA_DIR
from candlecast.timeframes import TIMEFRAMES
from tests.support.served import add_symbol

H1 = TIMEFRAMES["1h"]
TICKER = "X:BTCUSDT"


def _version(local) -> str:
    """A real version (no learners: the random walk, as a model without skill serves)."""
    model = ForecastModel({}, {}, "1h", [], "v2", no_evidence(), {"data_end": "2026-01-01"})
    with db.connect(local) as conn:
        return save_model(local, conn, model)


@pytest.fixture
def local(settings, fresh_database_url):
    local = settings.model_copy(update={"database_url": fresh_database_url})
    with db.connect(local) as conn:
        add_symbol(conn, TICKER)
        conn.commit()
    return local


def _forecaster(local, fraction: float, cache_seconds: int = 900) -> Forecaster:
    redis = GuardedRedis(serving_redis_client(local))
    candles = FreshCandles(SampleProvider(SAMPLE_DATA_DIR), redis, 3600, 300)
    forecaster = Forecaster(
        {},
        candles,
        ConnectionPool(local),
        PredictionCache(redis, cache_seconds),
        shadow_fraction=fraction,
    )
    with db.connect(local) as conn:
        champions = releases.champion_tags(conn)
    forecaster.models = {
        code: LoadedModel(tag, load_version(tag)) for code, tag in champions.items()
    }
    return forecaster


def _rows(local) -> list[dict]:
    with db.connect(local) as conn:
        return conn.execute(
            "SELECT p.id::text AS id, p.shadow, p.shadow_of::text AS shadow_of, p.steps, "
            "p.last_candle_at, p.last_close, p.cache_key, p.generated_at, "
            "m.name || ':' || m.version AS model, "
            "(SELECT count(*) FROM prediction_steps st WHERE st.prediction_id = p.id) AS n_steps "
            "FROM predictions p JOIN models m ON m.id = p.model_id ORDER BY p.shadow, p.id"
        ).fetchall()


def test_a_sampled_request_stores_the_challengers_shadow_and_answers_with_the_champion(local):
    champion, challenger = _version(local), _version(local)
    forecaster = _forecaster(local, fraction=1.0)
    ChampionWatcher(forecaster, poll_seconds=0).check_once()
    assert {c: m.tag for c, m in forecaster.shadows.items()} == {"1h": challenger}

    answer = forecaster.predict(TICKER, H1, steps=6)
    forecaster.shadow_queue.join()
    assert answer.model == champion and answer.persisted and not answer.cached
    first, shadow = _rows(local)
    assert (first["id"], first["model"], first["shadow"]) == (answer.prediction_id, champion, False)
    assert (shadow["shadow"], shadow["shadow_of"], shadow["model"]) == (
        True,
        answer.prediction_id,
        challenger,
    )
    # The same request on the same candles, with its own id and its own (never used) cache key.
    assert shadow["id"] != answer.prediction_id
    assert shadow["last_candle_at"] == first["last_candle_at"] == answer.last_candle_at
    assert shadow["last_close"] == first["last_close"] == answer.last_close
    assert shadow["steps"] == shadow["n_steps"] == first["n_steps"] == 6
    assert challenger in shadow["cache_key"] and champion in first["cache_key"]
    assert shadow["generated_at"] > first["generated_at"]

    # The cached answer is the champion's again and makes no second shadow.
    again = forecaster.predict(TICKER, H1, steps=6)
    forecaster.shadow_queue.join()
    assert again.cached and again.prediction_id == answer.prediction_id
    assert len(_rows(local)) == 2 and forecaster.shadow_queue.submitted == 1

    # No user read finds the shadow, though it is the newest forecast of the coin.
    with pytest.raises(NotFound):
        reads.prediction_by_id(forecaster, shadow["id"])
    assert reads.prediction_by_id(forecaster, answer.prediction_id).model == champion
    latest = reads.latest_prediction(forecaster, TICKER, "1h")
    assert latest.prediction_id == answer.prediction_id and latest.model == champion


def test_fraction_zero_shadows_nothing_and_holds_no_challenger(local):
    _version(local), _version(local)
    forecaster = _forecaster(local, fraction=0.0, cache_seconds=0)
    ChampionWatcher(forecaster, poll_seconds=0).check_once()
    assert forecaster.shadows == {}
    for _ in range(3):
        forecaster.predict(TICKER, H1, steps=3)
    forecaster.shadow_queue.join()
    rows = _rows(local)
    assert len(rows) == 3 and not any(r["shadow"] for r in rows)
    assert forecaster.shadow_queue.submitted == 0


def test_only_the_sampled_request_keys_are_shadowed(local):
    _version(local), _version(local)
    forecaster = _forecaster(local, fraction=1.0, cache_seconds=0)
    ChampionWatcher(forecaster, poll_seconds=0).check_once()
    forecaster.shadow_fraction = 0.5
    sampled = []
    for steps in range(1, 11):
        answer = forecaster.predict(TICKER, H1, steps=steps)
        key = next(r["cache_key"] for r in _rows(local) if r["id"] == answer.prediction_id)
        sampled.append(in_sample(key, 0.5))
    forecaster.shadow_queue.join()
    shadows = [r for r in _rows(local) if r["shadow"]]
    assert len(shadows) == sum(sampled) == forecaster.shadow_queue.submitted
    assert 0 < len(shadows) < 10  # these ten keys fall on both sides of one half


def test_the_sample_is_the_fraction_of_request_keys_and_always_the_same():
    keys = [
        f"candlecast:prediction:X:C{i}USDT:1h:30:candlecast-1h:v:20250601T1000" for i in range(4000)
    ]
    assert not any(in_sample(k, 0.0) for k in keys) and all(in_sample(k, 1.0) for k in keys)
    share = sum(in_sample(k, 0.1) for k in keys) / len(keys)
    assert 0.085 < share < 0.115
    assert [in_sample(k, 0.1) for k in keys] == [in_sample(k, 0.1) for k in keys]


def test_the_watcher_keeps_the_newest_challenger_and_lets_a_promoted_one_go(local):
    champion, older = _version(local), _version(local)
    forecaster = _forecaster(local, fraction=0.1)
    watcher = ChampionWatcher(forecaster, poll_seconds=0)

    def shadow_tags() -> dict[str, str]:
        return {code: served.tag for code, served in forecaster.shadows.items()}

    watcher.check_once()
    assert shadow_tags() == {"1h": older}
    newest = _version(local)
    watcher.check_once()
    assert shadow_tags() == {"1h": newest}
    loaded = forecaster.shadows["1h"]

    with db.connect(local) as conn:
        releases.promote(conn, newest, "test", force=True)
    assert watcher.check_once() == [newest]
    assert forecaster.models["1h"] is loaded  # the shadow's model, swapped in without a load
    assert shadow_tags() == {"1h": older}  # the promoted one left; the other challenger remains

    broken = _version(local)
    releases.delete_from_store([broken])  # the newest challenger cannot load
    assert watcher.check_once() == []
    assert shadow_tags() == {} and forecaster.models["1h"] is loaded  # logged, nothing fails

    forecaster.shadow_fraction = 0.0
    with db.connect(local) as conn:
        conn.execute(
            "UPDATE models SET stage = 'pruned' WHERE name || ':' || version = %s", (broken,)
        )
        conn.commit()
    watcher.check_once()
    assert shadow_tags() == {}  # no shadows asked for: no challenger held
    forecaster.shadow_fraction = 0.1
    watcher.check_once()
    assert shadow_tags() == {"1h": older}
    assert champion not in shadow_tags().values()
