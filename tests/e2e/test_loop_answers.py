"""Live /predict answered ahead of BentoML's route (serving.loop_answers), on a real
`bentoml serve` of one worker: a repeat from the cache on the event loop, a miss computed on the
worker's threads and stored, both behind the same body check, API keys, rate limits and
connection spread; a bad body and an as_of question go to the endpoint. Answers carry
`x-candlecast-answer: cache` or `computed`."""

from __future__ import annotations

import json
import subprocess
import time

import httpx
import pandas as pd
import pytest

from candlecast.ops import db
from candlecast.settings import Settings
from tests.support.bento_server import BIN, running_bento

pytestmark = pytest.mark.e2e
KEY_CACHE_SECONDS = 1
REQUEST = {"symbol": "X:ETHUSDT", "timeframe": "4h", "steps": 3}  # asked by no other module
FROM_LOOP = "x-candlecast-answer"


@pytest.fixture(scope="module")
def computed(bento_url) -> bytes:
    """REQUEST computed (and cached) by the session's server: this module's worker has never
    checked the symbol, so its first repeat is answered by the endpoint."""
    response = post(bento_url, REQUEST)
    assert response.status_code == 200 and response.json()["cached"] is False, response.text
    return response.content


@pytest.fixture(scope="module")
def server(stack_environment, computed, home):
    env = {
        **stack_environment,
        "CANDLECAST_API_WORKERS": "1",
        "CANDLECAST_API_KEY_CACHE_SECONDS": str(KEY_CACHE_SECONDS),
        "CANDLECAST_ACCESS_LOG": "false",
    }
    with running_bento(env, home / "bento-loop-answers.log") as url:
        yield url


def post(url: str, body, headers: dict | None = None, client=httpx) -> httpx.Response:
    return client.post(f"{url}/predict", json=body, headers=headers or {}, timeout=60)


def test_a_repeat_from_the_loop_is_the_computed_answer_byte_for_byte(server, computed):
    first = post(server, REQUEST)  # this worker checks the symbol, then answers from the cache
    from_loop = post(server, REQUEST)
    assert first.headers[FROM_LOOP] == "computed" and first.json()["cached"] is True
    assert from_loop.headers[FROM_LOOP] == "cache"
    assert from_loop.content == first.content  # the sample's clock: data age equal too
    assert json.loads(from_loop.content) == {**json.loads(computed), "cached": True}
    for name in ("content-type", "content-length", "server"):
        assert from_loop.headers[name] == first.headers[name]
    assert from_loop.headers["content-type"] == "application/json"
    assert set(from_loop.headers) == set(first.headers)
    assert "x-bentoml-request-id" not in from_loop.headers  # BentoML's span id: not its route
    normalised = post(server, {**REQUEST, "symbol": " ethusdt"})  # read as the endpoint reads it
    assert normalised.headers[FROM_LOOP] == "cache" and normalised.content == from_loop.content


def test_a_miss_is_computed_and_stored_a_bad_body_goes_to_the_endpoint(server, computed, conn):
    before = conn.execute("SELECT count(*) AS n FROM predictions").fetchone()["n"]
    miss = post(server, {**REQUEST, "steps": 2})
    assert miss.status_code == 200 and miss.headers[FROM_LOOP] == "computed"
    assert miss.json()["cached"] is False and miss.json()["persisted"] is True
    assert conn.execute("SELECT count(*) AS n FROM predictions").fetchone()["n"] == before + 1
    assert post(server, {**REQUEST, "steps": 2}).headers[FROM_LOOP] == "cache"
    bad = post(server, {**REQUEST, "steps": "3"})  # strict: a string is not a number of steps
    assert bad.status_code == 400 and FROM_LOOP not in bad.headers
    assert bad.json()["field"] == "steps" and "IODescriptor" not in bad.text
    unknown = post(server, {**REQUEST, "symbol": "X:ETHUSDC"})  # the endpoint's error answer
    assert unknown.status_code == 404 and unknown.json()["field"] == "symbol"
    assert unknown.headers[FROM_LOOP] == "computed"
    both = {**REQUEST, "predict_until": "2030-01-01T00:00:00Z"}
    assert post(server, both).status_code == 400
    as_of = pd.Timestamp(json.loads(computed)["last_candle_at"]) - pd.Timedelta(days=2)
    past = post(server, {**REQUEST, "as_of": as_of.isoformat()})
    assert past.status_code == 200 and FROM_LOOP not in past.headers  # BentoML's route
    assert past.json()["persisted"] is False


def test_answers_from_the_loop_are_spread_over_connections(server, computed):
    """ConnectionSpread counts them: one answer in every 100 closes its connection."""
    with httpx.Client(timeout=60) as client:
        answers = [post(server, REQUEST, client=client) for _ in range(100)]
    assert all(a.headers.get(FROM_LOOP) == "cache" for a in answers)
    assert [a.headers.get("connection") for a in answers].count("close") == 1


@pytest.fixture
def tight_key(stack_environment, settings):
    """A key of burst 3 and 1 request a minute; every key is deleted afterwards, and the other
    servers of the session get past their copy of the key set."""
    result = subprocess.run(
        [str(BIN / "candlecast"), "keys", "create", "--name", "e2e loop answers"]
        + ["--rate-per-minute", "1", "--burst", "3"],
        env=stack_environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    time.sleep(KEY_CACHE_SECONDS + 0.5)  # the worker reloads its keys
    yield result.stdout.strip()
    with db.connect(settings) as conn:
        conn.execute("DELETE FROM api_keys WHERE name = 'e2e loop answers'")
    time.sleep(Settings().candlecast_api_key_cache_seconds + 0.5)


def test_a_repeat_from_the_loop_needs_a_key_and_counts_against_its_limit(server, tight_key):
    missing = post(server, REQUEST)
    assert missing.status_code == 401 and FROM_LOOP not in missing.headers
    wrong = post(server, REQUEST, {"Authorization": f"Bearer {tight_key[:-4]}AAAA"})
    assert wrong.status_code == 401
    keyed = [post(server, REQUEST, {"Authorization": f"Bearer {tight_key}"}) for _ in range(4)]
    assert [r.status_code for r in keyed] == [200, 200, 200, 429]
    assert all(r.headers[FROM_LOOP] == "cache" for r in keyed[:3])
    assert "rate limit" in keyed[3].json()["error"] and "retry-after" in keyed[3].headers


def test_the_access_log_is_a_setting(server, computed, home):
    """The session's server logs a line per request (the default); this one runs with
    CANDLECAST_ACCESS_LOG=false and logs none, though it answered every test of the module."""
    post(server, REQUEST)
    assert "path=/predict" in (home / "bento-test.log").read_text()
    served = (home / "bento-loop-answers.log").read_text()
    assert "Service candlecast initialized" in served and "path=/predict" not in served
