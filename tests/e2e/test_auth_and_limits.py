"""API keys and rate limits on a real `bentoml serve`: open without keys, then keys enforced."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import httpx
import pytest

from candlecast.settings import Settings
from tests.support.bento_server import eventually, keys_command, running_bento

pytestmark = pytest.mark.e2e
KEY_CACHE_SECONDS = 1
FORECAST = {"symbol": "X:BTCUSDT", "timeframe": "1d", "steps": 5}


@pytest.fixture(scope="module")
def server(stack_environment, dag_runs, home):
    env = {**stack_environment, "CANDLECAST_API_KEY_CACHE_SECONDS": str(KEY_CACHE_SECONDS)}
    with running_bento(env, home / "bento-auth.log") as url:
        yield url


@pytest.fixture(scope="module")
def cli(stack_environment) -> Callable[..., subprocess.CompletedProcess]:
    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = keys_command(stack_environment, *args)
        assert not check or result.returncode == 0, result.stderr
        return result

    return run


@pytest.fixture(scope="module")
def key_cleanup(conn_factory):
    """Every key this module makes is deleted at the end: other modules share the database,
    and their servers trust their copy of the key set for the default window."""
    yield
    with conn_factory() as conn:
        conn.execute("DELETE FROM api_keys WHERE name LIKE 'e2e %%'")
    time.sleep(Settings().candlecast_api_key_cache_seconds + 0.5)


@pytest.fixture(scope="module")
def conn_factory(settings):
    from candlecast.ops import db

    return lambda: db.connect(settings)


@pytest.fixture(scope="module")
def make_key(cli, key_cleanup) -> Callable[..., tuple[str, str]]:
    def create(name: str, *limits: str) -> tuple[str, str]:
        result = cli("create", "--name", name, *limits)
        key = result.stdout.strip()
        assert key.startswith("cc_") and len(key.splitlines()) == 1
        every_worker_reloads_its_keys()
        return key, key.split("_")[1]

    return create


def every_worker_reloads_its_keys() -> None:
    """Each Bento worker trusts its copy of the key set for the key window and reloads it on
    its next request after that: past the window, every worker answers with the new set."""
    time.sleep(KEY_CACHE_SECONDS + 0.5)


def predict(url: str, headers: dict | None = None) -> httpx.Response:
    return httpx.post(f"{url}/predict", json=FORECAST, headers=headers or {}, timeout=60)


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def test_open_access_while_no_key_exists(server, conn_factory):
    with conn_factory() as conn:
        assert conn.execute("SELECT count(*) AS n FROM api_keys").fetchone()["n"] == 0
    response = predict(server)
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def app_key(server, make_key) -> str:
    key, _ = make_key("e2e app", "--rate-per-minute", "6000", "--burst", "100")
    assert [predict(server).status_code for _ in range(4)] == [401] * 4  # on every worker
    return key


def test_missing_key_is_401_with_a_bearer_challenge(server, app_key):
    response = predict(server)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "missing API key" in response.json()["error"]


def test_bearer_and_x_api_key_are_accepted(server, app_key):
    response = predict(server, bearer(app_key))
    assert response.status_code == 200, response.text
    assert len(response.json()["steps"]) == 5
    assert predict(server, {"X-API-Key": app_key}).status_code == 200


@pytest.mark.parametrize("scheme", ["Bearer", "X-API-Key"])
def test_unknown_key_is_401_without_echo(server, app_key, scheme):
    wrong = app_key[:-4] + ("AAAA" if not app_key.endswith("AAAA") else "BBBB")
    headers = bearer(wrong) if scheme == "Bearer" else {"X-API-Key": wrong}
    response = predict(server, headers)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid or revoked API key"}
    assert wrong not in response.text and wrong[3:15] not in response.text


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/healthz", "/metrics", "/docs.json", "/"])
def test_probes_and_docs_stay_open(server, app_key, path):
    response = httpx.get(f"{server}{path}", timeout=30)
    assert response.status_code != 401, path
    if path != "/healthz":  # health may report degraded parts; it must answer all the same
        assert response.status_code == 200, (path, response.status_code, response.text[:300])


def test_burst_then_429_with_retry_after(server, make_key, app_key):
    key, _ = make_key("e2e tight", "--rate-per-minute", "1", "--burst", "2")
    assert [predict(server, bearer(key)).status_code for _ in range(2)] == [200, 200]
    refused = predict(server, bearer(key))
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "rate limit" in refused.json()["error"]
    assert predict(server, bearer(app_key)).status_code == 200  # other keys are unaffected


def test_revoked_key_is_refused_after_the_cache_window(server, make_key, cli, app_key):
    key, prefix = make_key("e2e revoked")
    assert [predict(server, bearer(key)).status_code for _ in range(4)] == [200] * 4
    cli("revoke", prefix)
    every_worker_reloads_its_keys()
    refused = [predict(server, bearer(key)) for _ in range(4)]
    assert [r.status_code for r in refused] == [401] * 4
    assert {r.json()["error"] for r in refused} == {"invalid or revoked API key"}


def test_keys_list_shows_use_but_no_secret(server, cli, app_key, conn_factory):
    predict(server, bearer(app_key))
    with conn_factory() as conn:
        hashes = [r["key_hash"] for r in conn.execute("SELECT key_hash FROM api_keys").fetchall()]
    secret = app_key.split("_", 2)[2]

    def listing_shows_last_use() -> bool:
        line = next(x for x in cli("list").stdout.splitlines() if x.startswith("e2e app"))
        return not line.rstrip().endswith("-")

    eventually(listing_shows_last_use, "last use recorded with the next key reload")
    listing = cli("list").stdout
    assert "e2e revoked" in listing and "e2e tight" in listing
    assert secret not in listing and not any(h in listing for h in hashes)


def test_cli_refuses_unknown_prefix(cli, key_cleanup):
    result = cli("revoke", "ffffffffffff", check=False)
    assert result.returncode == 2 and "no API key has the prefix" in result.stderr
