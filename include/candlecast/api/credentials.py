"""Where an API key may travel: in the `Authorization: Bearer` or `X-API-Key` header only. A key
in the query string or in the body is refused (400, naming the header to use): URLs end up in
proxies' logs, browsers' histories and caches, and a body is easily logged with an error. And
nowhere in our logs: a filter on the service's log handlers masks anything shaped like a key
(BentoML's access line prints the path, which a client may have put a key in; tracebacks print
messages)."""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import parse_qsl

# The names a client would give a key (compared lowercase, with '-' read as '_').
CREDENTIAL_NAMES = frozenset(
    {"api_key", "apikey", "key", "token", "access_token", "x_api_key", "authorization", "bearer"}
)
KEY_SHAPE = re.compile(r"cc_([0-9a-f]{12})_[A-Za-z0-9_-]{8,}")
USE_A_HEADER = "send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"


def _credential_name(name: str) -> bool:
    return name.strip().lower().replace("-", "_") in CREDENTIAL_NAMES


def key_in_query(query_string: bytes) -> str | None:
    """The query parameter that carries a key (by its name or its value's shape), or None."""
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if _credential_name(name) or KEY_SHAPE.search(value) or KEY_SHAPE.search(name):
            return name
    return None


def key_in_body(body: bytes) -> str | None:
    """The body field that carries a key (a top-level field named like one, or any field whose
    value is shaped like one), or None; `body` when the key is not in a field of an object."""
    try:
        document = json.loads(body or b"{}")
    except ValueError:  # not JSON: the body check answers that, but never with the key
        return "body" if KEY_SHAPE.search(body.decode("latin-1")) else None
    if isinstance(document, dict):
        for name, value in document.items():
            if _credential_name(name) or KEY_SHAPE.search(json.dumps(value)):
                return name
        return None
    return "body" if KEY_SHAPE.search(body.decode("latin-1")) else None


def misplaced_key(where: str, field: str) -> dict:
    """The 400's body, in the API's error shape."""
    return {
        "error": f"an API key is accepted only in a header, never in the {where}: {USE_A_HEADER}",
        "field": field,
    }


def redact(text: str) -> str:
    """Every key-shaped token masked, its public prefix kept: `cc_3f9c0a1b2d4e_<redacted>`."""
    return KEY_SHAPE.sub(lambda match: f"cc_{match.group(1)}_<redacted>", text)


class RedactKeys(logging.Filter):
    """On a handler: the record's message and traceback, formatted now and masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = redact(message), ()
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def redact_keys_in_logs(*logger_names: str) -> None:
    """The filter on every handler of the root logger and of `logger_names` (BentoML's own do
    not propagate), once per handler: call after logging is configured."""
    for name in (None, *logger_names):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactKeys) for f in handler.filters):
                handler.addFilter(RedactKeys())
