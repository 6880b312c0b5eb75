"""The API closed to anonymous callers, on a real `bentoml serve` with CANDLECAST_REQUIRE_API_KEY:
every operation the OpenAPI document lists but the probes wants a key, also while none exists;
a revoked key is refused once the key window has passed; keys travel in headers only; hostile
strings in every string field are a 4xx or an answer that matches nothing, never a 5xx; and the
server's output of the whole run (access log, service log, tracebacks) holds no key."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from candlecast.settings import Settings
from tests.support.bento_server import eventually, keys_command, running_bento

pytestmark = pytest.mark.e2e
KEY_CACHE_SECONDS = 1
PROBES = {"/livez", "/readyz"}
DOCS = ("/", "/docs.json", "/static_content/swagger-ui.css")
HOSTILE = ("'; DROP TABLE symbols; --", "%", "_", "\\", "../../etc/passwd", "X:BTC/../")
UNKNOWN_KEY = "cc_000000000000_" + "A" * 43  # key-shaped, never created
REFUSED_WITHIN = KEY_CACHE_SECONDS + 15  # the key window, and room for a loaded machine
MADE: list[str] = []  # every key this module created, looked for in the server's log


@pytest.fixture(scope="module")
def server_log(home):
    return home / "bento-security.log"


@pytest.fixture(scope="module")
def server(stack_environment, dag_runs, server_log):
    env = {
        **stack_environment,
        "CANDLECAST_REQUIRE_API_KEY": "true",
        "CANDLECAST_API_KEY_CACHE_SECONDS": str(KEY_CACHE_SECONDS),
    }
    with running_bento(env, server_log) as url:
        yield url


@pytest.fixture(scope="module")
def spec(server) -> dict:
    response = httpx.get(f"{server}/docs.json", timeout=30)  # the docs are public
    assert response.status_code == 200, response.text[:300]
    return response.json()


@pytest.fixture(scope="module")
def conn_factory(settings):
    from candlecast.ops import db

    return lambda: db.connect(settings)


@pytest.fixture(scope="module")
def keys_cli(stack_environment, conn_factory) -> Callable[..., str]:
    """`candlecast keys ...` as an operator runs it; every key made is deleted at the end (other
    modules share the database, and their servers trust their key copy for the default window)."""

    def run(*args: str) -> str:
        result = keys_command(stack_environment, *args)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    yield run
    with conn_factory() as conn:
        conn.execute("DELETE FROM api_keys WHERE name LIKE 'e2e security%%'")
    time.sleep(Settings().candlecast_api_key_cache_seconds + 0.5)


def make_key(keys_cli, name: str) -> str:
    key = keys_cli(
        "create", "--name", f"e2e security {name}", "--rate-per-minute", "60000", "--burst", "1000"
    )
    assert key.startswith("cc_") and len(key.splitlines()) == 1
    MADE.append(key)
    return key


def headers(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def resolve(spec: dict, schema: dict) -> dict:
    ref = schema.get("$ref")
    return spec["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else schema


def request_schema(spec: dict, operation: dict) -> dict | None:
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    return resolve(spec, body["schema"]) if body else None


def operations(spec: dict) -> list[tuple[str, str, dict | None]]:
    """(method, path, example body) of every operation the document lists but the probes."""
    listed = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if path not in PROBES:
                schema = request_schema(spec, operation)
                listed.append((method.upper(), path, schema["example"] if schema else None))
    return listed


def call(url: str, method: str, path: str, body: dict | None, key: str | None = None):
    return httpx.request(
        method, f"{url}{path}", json=body, headers=headers(key) if key else {}, timeout=60
    )


def accepted_everywhere(check: Callable[[], bool], what: str) -> None:
    """Each worker keeps its own key copy: the answer holds for several requests in a row
    (new connections, so any worker may take them), within the key window and some room."""
    eventually(lambda: all(check() for _ in range(4)), what, seconds=REFUSED_WITHIN)


def test_closed_while_no_key_exists(server, spec, conn_factory):
    with conn_factory() as conn:
        active = conn.execute("SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL")
        assert active.fetchone()["n"] == 0
    listed = operations(spec)
    assert {"/predict", "/healthz", "/metrics", "/models"} <= {path for _, path, _ in listed}
    for method, path, body in listed:
        for key in (None, UNKNOWN_KEY):
            response = call(server, method, path, body, key)
            assert response.status_code == 401, (method, path, response.text[:300])
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert "candlecast keys create" in response.json()["error"], response.text


def test_the_probes_and_the_docs_stay_public(server):
    for path in (*PROBES, *DOCS):
        response = httpx.get(f"{server}{path}", timeout=30)
        assert response.status_code == 200, (path, response.text[:300])


def test_the_document_offers_no_anonymous_access(spec):
    for method, path, _ in operations(spec):
        operation = spec["paths"][path][method.lower()]
        assert operation["security"] == [{"bearer": []}, {"apiKey": []}], path
        assert "401" in operation["responses"], path
    for path in PROBES:
        assert "security" not in spec["paths"][path]["get"], path
    assert "CANDLECAST_REQUIRE_API_KEY" in spec["info"]["description"]


@pytest.fixture(scope="module")
def key(server, keys_cli) -> str:
    made = make_key(keys_cli, "app")
    accepted_everywhere(
        lambda: call(server, "POST", "/models", {}, made).status_code == 200,
        "the new key accepted by every worker",
    )
    return made


def test_a_key_opens_every_operation_and_health_says_closed(server, spec, key):
    for method, path, body in operations(spec):
        response = call(server, method, path, body, key)
        assert response.status_code not in (401, 403), (path, response.text[:300])
        assert response.status_code < 500 or path == "/healthz", (path, response.text[:300])
    health = call(server, "GET", "/healthz", None, key)
    assert health.json()["access"] == "closed"


def test_a_revoked_key_is_refused_after_the_key_window(server, keys_cli, key):
    revoked = make_key(keys_cli, "revoked")
    accepted_everywhere(
        lambda: call(server, "POST", "/models", {}, revoked).status_code == 200,
        "the key accepted by every worker",
    )
    keys_cli("revoke", revoked.split("_")[1])
    accepted_everywhere(
        lambda: call(server, "POST", "/models", {}, revoked).status_code == 401,
        f"the revoked key refused by every worker within {REFUSED_WITHIN} s",
    )
    refused = call(server, "POST", "/models", {}, revoked)
    assert refused.json()["error"].startswith("invalid or revoked API key")
    assert call(server, "POST", "/models", {}, key).status_code == 200  # others unaffected


@pytest.mark.parametrize("name", ["api_key", "key", "token", "apiKey", "q"])
def test_a_key_in_the_query_string_is_refused(server, key, name):
    forecast = {"symbol": "X:BTCUSDT", "timeframe": "1d", "steps": 3}
    for sent_as in (headers(key), {}):  # with or without a key in its header
        response = httpx.post(
            f"{server}/predict", params={name: key}, json=forecast, headers=sent_as, timeout=60
        )
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["field"] == name and "Authorization: Bearer" in body["error"]
        assert key not in response.text
    health = httpx.get(f"{server}/healthz", params={name: key}, timeout=30)
    assert health.status_code == 400 and health.json()["field"] == name


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/predict", {"symbol": "X:BTCUSDT", "timeframe": "1d", "api_key": "{key}"}, "api_key"),
        ("/models", {"token": "{key}"}, "token"),
        ("/models", {"key": "not-even-a-key"}, "key"),
        ("/accuracy", {"model": "{key}"}, "model"),
    ],
)
def test_a_key_in_the_body_is_refused(server, key, path, body, field):
    sent = {name: value.replace("{key}", key) for name, value in body.items()}
    for key_header in (key, None):
        response = call(server, "POST", path, sent, key_header)
        assert response.status_code == 400, response.text
        assert response.json()["field"] == field
        assert "X-API-Key" in response.json()["error"] and key not in response.text


def string_fields(spec: dict, schema: dict) -> list[str]:
    fields = []
    for name, prop in schema.get("properties", {}).items():
        kinds = [resolve(spec, p).get("type") for p in [prop, *prop.get("anyOf", [])]]
        if "string" in kinds:
            fields.append(name)
    return fields


def matches_nothing(body) -> bool:
    """An answer whose lists (matches, rows, steps, candles) are all empty."""
    lists = [value for value in body.values() if isinstance(value, list)]
    return bool(lists) and not any(lists)


def test_hostile_strings_are_refused_or_match_nothing(server, spec, key, conn_factory):
    with conn_factory() as conn:
        symbols = conn.execute("SELECT count(*) AS n FROM symbols").fetchone()["n"]
    tried, wrong = 0, []
    for method, path, example in operations(spec):
        schema = request_schema(spec, spec["paths"][path][method.lower()])
        for field in string_fields(spec, schema) if schema else []:
            for value in HOSTILE:
                response = call(server, method, path, {**example, field: value}, key)
                tried += 1
                refused = 400 <= response.status_code < 500 and response.status_code != 429
                if not refused and not (
                    response.status_code == 200 and matches_nothing(response.json())
                ):
                    wrong.append((path, field, value, response.status_code, response.text[:200]))
    assert tried >= 10 * len(HOSTILE)  # symbol, timeframe, query, model, prediction_id, ...
    assert wrong == []
    found = call(server, "POST", "/symbols/search", {"query": "btc"}, key).json()["matches"]
    assert "X:BTCUSDT" in [m["ticker"] for m in found]
    with conn_factory() as conn:
        assert conn.execute("SELECT count(*) AS n FROM symbols").fetchone()["n"] == symbols


def test_path_traversal_is_not_served(server, key):
    for path in (
        "/static_content/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static_content/..%2f..%2f..%2f..%2fetc%2fpasswd",
    ):
        response = httpx.get(f"{server}{path}", headers=headers(key), timeout=30)
        assert 400 <= response.status_code < 500, (path, response.status_code)
        assert "root:" not in response.text


def test_the_server_log_of_the_whole_run_holds_no_key(server, server_log, key):
    # A client that puts its key in the path: the access log prints paths.
    assert call(server, "GET", f"/predict/{key}", None).status_code == 401
    masked = f"path=/predict/cc_{key.split('_')[1]}_<redacted>"
    eventually(lambda: masked in server_log.read_text(), "the access line, key masked")
    log = server_log.read_text()
    assert "path=/predict" in log and "status=401" in log and "status=400" in log
    assert len(MADE) >= 2
    for made in [*MADE, UNKNOWN_KEY]:
        secret = made.split("_", 2)[2]
        assert made not in log and secret not in log, f"key {made[:15]}... in {server_log}"
