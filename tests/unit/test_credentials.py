"""Keys travel in headers only and never reach a log: what a query string or a body that carries
one looks like, and the log filter that masks one anywhere in a message or a traceback."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from candlecast.api import KeysInHeaders, RequestContract, key_in_body, key_in_query, redact
from candlecast.api.credentials import RedactKeys, redact_keys_in_logs
from candlecast.api.keys import key_prefix, new_key

# A key of new_key's shape, fixed: parametrized test ids are the same in every pytest process.
KEY = "cc_5eedc0ffee12_OD9S-6cYhFePh1scLxKsoSr1FbXoFtOjFpa8W9GH1Bc"
PREFIX = KEY.split("_")[1]


def test_the_fixed_key_has_the_shape_of_a_new_one():
    prefix, fresh = new_key()
    assert key_prefix(KEY) == PREFIX and key_prefix(fresh) == prefix
    assert len(KEY) == len(fresh) and KEY[:3] == fresh[:3]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (f"api_key={KEY}", "api_key"),
        ("key=whatever", "key"),
        ("token=", "token"),
        ("Api-Key=x", "Api-Key"),
        ("access_token=x&a=1", "access_token"),
        (f"a=1&q={KEY}", "q"),  # shaped like a key, whatever the name
        (f"a=1&{KEY}", KEY),
        ("a=1&symbol=btcusdt", None),
        ("", None),
    ],
)
def test_a_key_in_the_query_string_is_found(query, field):
    assert key_in_query(query.encode()) == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"symbol": "X:BTCUSDT", "api_key": "x"}', "api_key"),
        ('{"Token": "x"}', "Token"),
        ('{"apiKey": 1}', "apiKey"),
        (f'{{"model": "{KEY}"}}', "model"),
        (f'{{"filters": {{"deep": ["{KEY}"]}}}}', "filters"),
        (f'["{KEY}"]', "body"),
        (f'{{"symbol": "{KEY}"', "body"),  # not JSON
        ('{"symbol": "X:BTCUSDT", "timeframe": "1d"}', None),
        ("", None),
        ("not json", None),
    ],
)
def test_a_key_in_the_body_is_found(body, field):
    assert key_in_body(body.encode()) == field


def test_redact_keeps_the_prefix_and_masks_the_secret():
    text = redact(f"GET /predict/{KEY}?x=1 and again {KEY}")
    assert KEY not in text and KEY.split("_", 2)[2] not in text
    assert text.count(f"cc_{PREFIX}_<redacted>") == 2
    assert redact("candlecast-1d:20250919t230000z X:BTCUSDT") == (
        "candlecast-1d:20250919t230000z X:BTCUSDT"
    )


def test_the_log_filter_masks_messages_and_tracebacks(tmp_path):
    logger = logging.getLogger("test_credentials.redaction")
    logger.propagate = False
    handler = logging.FileHandler(tmp_path / "service.log")
    logger.addHandler(handler)
    try:
        redact_keys_in_logs("test_credentials.redaction")
        redact_keys_in_logs("test_credentials.redaction")  # once per handler
        assert sum(isinstance(f, RedactKeys) for f in handler.filters) == 1
        logger.warning("request path=/predict/%s", KEY)
        try:
            raise ValueError(f"cannot parse {KEY}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
        handler.close()
    text = (tmp_path / "service.log").read_text()
    assert f"path=/predict/cc_{PREFIX}_<redacted>" in text
    assert "ValueError: cannot parse cc_" in text and "Traceback" in text
    assert KEY not in text and KEY.split("_", 2)[2] not in text


async def _endpoint(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def _post(app, url: str, body: dict) -> httpx.Response:
    async def send():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bento") as client:
            return await client.post(url, json=body)

    return asyncio.run(send())


def test_the_middleware_refuses_a_key_in_the_url_or_the_body_naming_the_header():
    app = KeysInHeaders(RequestContract(_endpoint))
    forecast = {"symbol": "X:BTCUSDT", "timeframe": "1d"}
    in_url = _post(app, f"/predict?api_key={KEY}", forecast)
    in_body = _post(app, "/predict", {**forecast, "token": KEY})
    for response, field, where in ((in_url, "api_key", "query string"), (in_body, "token", "body")):
        assert response.status_code == 400
        assert response.json() == {
            "error": f"an API key is accepted only in a header, never in the {where}: send it "
            "as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            "field": field,
        }
    assert _post(app, "/predict?symbol=x", forecast).status_code == 200
    assert _post(app, "/predict", forecast).status_code == 200
