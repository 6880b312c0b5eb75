"""Skill end to end, through the real path: a synthetic universe served by the sample provider is
synced and stored by the `candlecast` CLI into its own home, its 1h model (the training
test_power examines, once per session; `candlecast train` itself runs in test_releases) is
registered there, and `bentoml serve` serves it, the only model of that home (other timeframes
answer 503 naming why). With a planted signal
the served steps carry it (skill flags, points off the last close, confidence above 0.5 and as
the model's validation calibration says); without it every step says 'none' at 0.5."""

from __future__ import annotations

import math
import subprocess
import uuid

import httpx
import pytest

from candlecast.ops import ensure_database, with_database
from tests.support.bento_server import BIN, PROJECT_DIR, running_bento
from tests.support.synthetic_models import register
from tests.support.synthetic_universe import synthetic_candles, write_universe

pytestmark = pytest.mark.e2e
COINS = ("X:SYN00USDT", "X:SYN07USDT", "X:SYN21USDT", "X:SYN42USDT")


def run(env: dict, *args: str, timeout: float = 900) -> str:
    result = subprocess.run(
        args, env=env, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}{result.stderr}"[-5000:]
    return result.stdout


def served_universe(stack_environment, tmp_path_factory, synthetic_models, signal: float) -> dict:
    """A home of its own holding the synthetic universe's 1h model."""
    work = tmp_path_factory.mktemp(f"skill-{signal}")
    folder = write_universe(work / "universe", synthetic_candles(signal=signal))
    database = f"skill_{uuid.uuid4().hex[:8]}"
    ensure_database(stack_environment["DATABASE_URL"], database)
    env = {
        **stack_environment,
        "CANDLECAST_HOME": str(work / "home"),
        "BENTOML_HOME": str(work / "home" / "bentoml"),
        "DATABASE_URL": with_database(stack_environment["DATABASE_URL"], database),
        "CANDLECAST_PROVIDER": "sample",
        "CANDLECAST_SAMPLE_DIR": str(folder),
        "CANDLECAST_PREDICTION_CACHE_SECONDS": "0",
    }
    candlecast = str(BIN / "candlecast")
    run(env, candlecast, "sync-symbols")
    run(env, candlecast, "update", "--timeframe", "1h")
    model, _, _ = synthetic_models.trained(signal)
    return {"env": env, "work": work, "tag": register(model, work / "model", env)}


def forecasts(url: str) -> list[dict]:
    answers = [
        httpx.post(f"{url}/predict", json={"symbol": coin, "timeframe": "1h"}, timeout=60)
        for coin in COINS
    ]
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    return [a.json() for a in answers]


@pytest.fixture(scope="module")
def planted(stack_environment, tmp_path_factory, synthetic_models):
    return served_universe(stack_environment, tmp_path_factory, synthetic_models, 0.08)


@pytest.fixture(scope="module")
def absent(stack_environment, tmp_path_factory, synthetic_models):
    return served_universe(stack_environment, tmp_path_factory, synthetic_models, 0.0)


def test_a_planted_signal_is_served_with_its_skill(planted):
    with running_bento(planted["env"], planted["work"] / "bento.log") as url:
        answers = forecasts(url)
        listed = httpx.post(f"{url}/models", json={}, timeout=30).json()["models"]
        weekly = httpx.post(
            f"{url}/predict", json={"symbol": COINS[0], "timeframe": "1w"}, timeout=60
        )
    assert weekly.status_code == 503 and "no 1w model is served" in weekly.json()["error"]
    assert [m["timeframe"] for m in listed] == ["1h"]  # served without the untrained ones
    hourly = listed[0]
    assert hourly["model"] == planted["tag"]
    h1 = hourly["skill"][0]
    assert h1["skill"] == "validated" and h1["rank_ic_low"] > 0
    assert h1["relative_skill"] == "validated" and h1["signal"]  # the ranking, and who serves it
    assert h1["best_naive_ranker"] and h1["rank_ic"] >= h1["best_naive_ranker_ic"]
    assert h1["test_rank_ic"] is not None and not h1["test_below_zero"]
    for body in answers:
        assert body["model"] == planted["tag"]
        first = body["steps"][0]
        assert first["skill"] == "validated" and first["relative_skill"] == "validated"
        assert first["close"] != pytest.approx(body["last_close"], rel=1e-9)  # the point moves
        assert first["confidence"] > 0.5
        assert (first["close"] > body["last_close"]) == (first["direction"] == "up")
        for step in body["steps"]:
            assert step["confidence"] >= 0.5
            if step["skill"] == "none":
                assert step["confidence"] == 0.5
            if step["skill"] == step["relative_skill"] == "none":
                assert step["close"] == pytest.approx(body["last_close"])
    confidences = [body["steps"][0]["confidence"] for body in answers]
    assert len({round(c, 6) for c in confidences}) > 1  # per coin, not one constant
    assert max(confidences) < 0.75  # a weak signal (IC ~0.08) is not served as a certainty
    assert not math.isnan(sum(confidences))


def test_without_a_signal_every_served_step_says_none(absent):
    with running_bento(absent["env"], absent["work"] / "bento.log") as url:
        answers = forecasts(url)
    for body in answers:
        assert all(e["skill"] == e["relative_skill"] == "none" for e in body["skill"])
        assert all(s["skill"] == "none" and s["confidence"] == 0.5 for s in body["steps"])
        assert all(s["relative_skill"] == "none" for s in body["steps"])
        assert all(s["close"] == pytest.approx(body["last_close"]) for s in body["steps"])


def ranking(url: str, horizon: int) -> dict:
    answer = httpx.post(f"{url}/rank", json={"timeframe": "1h", "horizon": horizon}, timeout=300)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_planted_signal_is_ranked_as_the_forecasts_say(planted):
    with running_bento(planted["env"], planted["work"] / "bento-rank.log") as url:
        ranked = ranking(url, 1)
        again = ranking(url, 1)  # the universe computed once, then read (any worker)
        answers = forecasts(url)
    printed = run(
        planted["env"], str(BIN / "candlecast"), "rank", "--timeframe", "1h", "--horizon", "1",
        "--top", "5",
    ).splitlines()  # fmt: skip
    assert printed[0].startswith(f"{planted['tag']} 1h h1 at ") and "universe 50" in printed[0]
    assert [line.split()[:2] for line in printed[2:]] == [
        [str(c["rank"]), c["symbol"]] for c in ranked["coins"][:5]
    ]  # the same universe (read from Redis), the same order
    assert ranked["model"] == planted["tag"] and ranked["relative_skill"] == "validated"
    assert ranked["universe_size"] == 50 and not ranked["unranked"]
    assert ranked["evidence"]["test_spread"] > 0  # top fifth above bottom fifth, out of sample
    assert ranked["evidence"]["test_spread_net"] == pytest.approx(
        ranked["evidence"]["test_spread"] - 0.004
    )
    assert again["cached"] and again["ranking_id"] == ranked["ranking_id"]
    coins = {c["symbol"]: c for c in ranked["coins"]}
    assert [c["rank"] for c in ranked["coins"]] == list(range(1, 51))
    p = [c["p_outperform"] for c in ranked["coins"]]
    assert p == sorted(p, reverse=True) and p[0] > 0.5 > p[-1]
    for body in answers:  # the same candle: the same numbers, as /predict serves them
        coin, step = coins[body["symbol"]], body["steps"][0]
        assert body["last_candle_at"] == ranked["last_candle_at"]
        assert body["universe_size"] == 50
        assert step["relative_z"] == pytest.approx(coin["relative_z"], abs=1e-12)
        assert step["percentile"] == coin["percentile"]
        assert step["p_outperform"] == coin["p_outperform"]


def test_without_a_signal_nothing_is_ranked_and_every_p_outperform_is_one_half(absent):
    with running_bento(absent["env"], absent["work"] / "bento-rank.log") as url:
        ranked = ranking(url, 1)
        answers = forecasts(url)
    assert ranked["relative_skill"] == "none" and len(ranked["coins"]) == 50
    assert all(c["rank"] is None and c["percentile"] is None for c in ranked["coins"])
    assert all(c["p_outperform"] == 0.5 for c in ranked["coins"])
    for body in answers:
        assert all(s["p_outperform"] == 0.5 and s["percentile"] is None for s in body["steps"])
