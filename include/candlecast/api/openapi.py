"""The OpenAPI document and the docs page as candlecast's: BentoML's generated document rewritten
(what candlecast is, how to authenticate, the error body, what `stale` and `skill` mean, the
project's version, a summary per operation, our schema names, every error status each operation
can answer with) and a Swagger UI page of our own at `/` (BentoML's loads a tag manager and
links to BentoML)."""

from __future__ import annotations

import copy

from candlecast import __version__
from candlecast.api.errors import ErrorBody
from candlecast.api.requests import STEPS_XOR_UNTIL
from candlecast.api.schemas import SKILL_MEANING

DESCRIPTION = f"""\
**candlecast** forecasts crypto prices: for any provider ticker (`X:BTCUSDT`, or `btcusdt`) and
timeframe (`1h`, `4h`, `1d`, `1w`, `1M`) it answers the next 1–30 candles (open, high, low,
close, an 80 % interval of the close, the more likely direction and its probability) from the
newest closed candles, with one model per timeframe trained across all coins.

Every operation is a `POST` with a JSON body, except `GET /healthz`. Forecasts are stored:
`/predictions/get` and `/predictions/latest` read them back, `/accuracy` scores them once their
candles have closed.

### Authentication
While no API key exists (local use) the API is open: `GET /healthz` says `access: open`. Once a
key exists every operation but the probes and this page wants one, as
`Authorization: Bearer <key>` or `X-API-Key: <key>` (click **Authorize**). Where the server
requires keys (`CANDLECAST_REQUIRE_API_KEY`, production: `access: closed`) every operation but
`/livez`, `/readyz` and this page wants one, `/healthz` and `/metrics` too, whether or not a key
exists yet. No key or a revoked one is a `401`; past the key's limit a `429` with `Retry-After`
(seconds). A key in the query string or the body is refused (`400`): keys go in a header only.

### Errors
Every error is JSON of one shape: `{{"error": "what went wrong", "field": "the field at fault"}}`,
and for a body that fails validation `detail`, every problem as `{{"field", "error"}}`. `400`:
the body does not match its schema (bad JSON, not an object, a wrong type, a value out of
range, an unknown field, both `steps` and `predict_until`); `404`: an unknown symbol (with
`matches`, close tickers) or prediction; `422`: a valid request that cannot be served now (too
little history, with `needed` and `have`; a `predict_until` in the past or more than 30
candles ahead; an `as_of` in the future or before the store's retention); `503`: the market
data provider, the database or the key store unavailable.

### `as_of`: what it would have said then
`/predict` and `/rank` take an optional `as_of`, a past time: the answer is the one the service
would have given then, from the candles closed at it (read from the candle store, never a later
candle) and the version that was champion then while the model store holds it (`model_chosen`
says which and why), with what followed beside it: each step's `actual` close, `hit` and
`inside_80` (null where its candle has not closed), each ranked coin's `realised_return`. Such
an answer is never stored, cached or scored as a served forecast.

### Fresh candles and `stale`
A forecast uses the newest closed candles. `stale: true` means they are older than the
timeframe's last closed candle: the provider could not be reached (the forecast is made on the
cached candles) or has nothing newer yet; `data_age_seconds` says how old the newest candle is.

### `skill`
Each step says whether its horizon has validated skill. {SKILL_MEANING} `confidence` is the
calibrated probability of the `direction` it names, never below 0.5.

### Against the other coins
Steps also give `relative_z`, `percentile` and `p_outperform` (the calibrated probability of
beating the served universe's median); `/rank` lists the coins in that order for one horizon.
"""

TAGS = [
    {"name": "Forecasts", "description": "Forecasts of the next candles, and stored ones."},
    {"name": "Market data", "description": "Symbols and the candles forecasts are made on."},
    {"name": "Models", "description": "The models served and how their forecasts fare."},
    {"name": "Infrastructure", "description": "Health, probes and metrics."},
]

OPERATIONS = {  # path: (tag, operationId, one-line summary)
    "/predict": ("Forecasts", "predict", "Forecast the next 1–30 candles of a symbol"),
    "/predictions/get": ("Forecasts", "get_prediction", "A stored forecast by its id"),
    "/predictions/latest": (
        "Forecasts",
        "latest_prediction",
        "The newest stored forecast of a symbol and timeframe",
    ),
    "/symbols/search": ("Market data", "search_symbols", "Find symbols by ticker or name"),
    "/candles": ("Market data", "candles", "The newest closed candles of a symbol"),
    "/models": ("Models", "models", "The model served per timeframe, with its evidence"),
    "/accuracy": ("Models", "accuracy", "Live accuracy of stored forecasts and rankings"),
    "/rank": ("Forecasts", "rank", "The coins ranked against each other at one horizon"),
    "/healthz": ("Infrastructure", "health", "PostgreSQL, Redis, models and provider health"),
    "/livez": ("Infrastructure", "livez", "Liveness probe"),
    "/readyz": ("Infrastructure", "readyz", "Readiness probe"),
    "/metrics": ("Infrastructure", "metrics", "Prometheus metrics"),
}
OPEN_OPERATIONS = {"/healthz", "/livez", "/readyz", "/metrics"}
PUBLIC_WHEN_CLOSED = {"/livez", "/readyz"}  # CANDLECAST_REQUIRE_API_KEY: the probes only
MONITORING_ERRORS = ("401", "429", "503")  # /healthz and /metrics, when they want a key
REQUIRED_BODIES = {
    "/predict",
    "/symbols/search",
    "/candles",
    "/predictions/get",
    "/predictions/latest",
    "/rank",
}

ERRORS = {  # status: what it means, in the document
    "400": "The body does not match the schema; `field` names the first problem, `detail` all. "
    "Or an API key was sent in the query string or the body (`field` names where): use a header.",
    "401": "A key is required (one exists, or the server requires keys) and none, an unknown or "
    "a revoked one was sent.",
    "404": "Unknown symbol (with `matches`) or prediction.",
    "413": "The body is over 1 MiB.",
    "415": "The body is not sent as application/json.",
    "422": "A valid request that cannot be served now (too little history: `needed`, `have`; "
    "`predict_until` in the past or too far ahead; `as_of` in the future or before retention).",
    "429": "Past the key's rate limit: retry after `Retry-After` seconds.",
    "503": "The market data provider, the database or the key store is unavailable.",
}
ERROR_EXAMPLES = {
    "400": {
        "error": "steps: Input should be less than or equal to 30",
        "field": "steps",
        "detail": [{"field": "steps", "error": "Input should be less than or equal to 30"}],
    },
    "401": {"error": "invalid or revoked API key"},
    "404": {
        "error": "unknown symbol 'X:BTCUSDC'; did you mean X:BTCUSDT?",
        "field": "symbol",
        "matches": ["X:BTCUSDT"],
    },
    "413": {"error": "request body over 1048576 bytes", "field": "body"},
    "415": {"error": "send the body as application/json", "field": "body"},
    "422": {
        "error": "X:NEWUSDT has 20 closed 1d candles; the features need at least 40",
        "field": "symbol",
        "needed": 40,
        "have": 20,
    },
    "429": {
        "error": "rate limit of API key 3f9c0a1b2d4e exceeded (600/min, burst 60); retry after 2 s"
    },
    "503": {
        "error": "market data unavailable: the provider cannot be reached and no 1d candles "
        "of X:BTCUSDT are cached"
    },
}
COMMON_ERRORS = ("400", "401", "413", "415", "429", "503")
OPERATION_ERRORS = {
    "/predict": ("404", "422"),
    "/candles": ("404", "422"),
    "/predictions/get": ("404",),
    "/predictions/latest": ("404",),
    "/accuracy": ("422",),
    "/rank": ("422",),  # an as_of in the future or before retention
}
HEADERS = {
    "401": {"WWW-Authenticate": "Bearer"},
    "429": {"Retry-After": "Seconds until the key's bucket holds a token again."},
    "503": {"Retry-After": "Seconds after which the unavailable dependency is worth asking again."},
}
BENTOML_SCHEMAS = (  # BentoML's and FastAPI's own, which no candlecast operation answers with
    "TaskStatusResponse",
    "InvalidArgument",
    "NotFound",
    "InternalServerError",
    "HTTPValidationError",
    "ValidationError",
)
PROBES = {
    "/livez": "200 while the server process is alive.",
    "/readyz": "200 once the service has loaded its models and can answer.",
    "/metrics": "Prometheus metrics of the server (text format).",
}
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <key>"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}


def _error_response(status: str) -> dict:
    response = {
        "description": ERRORS[status],
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "example": ERROR_EXAMPLES[status],
            }
        },
    }
    if status in HEADERS:
        response["headers"] = {
            name: {"description": text, "schema": {"type": "string"}, "required": True}
            for name, text in HEADERS[status].items()
        }
    return response


def _schema_name(name: str) -> str:
    """BentoML names a method's IO models `<Model>IODescriptor` (or `<method>_input/_output`);
    ours are the models' own names."""
    return name.removesuffix("IODescriptor")


def _ours(node, renames: dict[str, str]):
    """References and titles by our schema names, wherever they are in the document."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                name = value.rsplit("/", 1)[-1]
                out[key] = f"#/components/schemas/{renames.get(name, name)}"
            elif key == "title" and isinstance(value, str):
                out[key] = _schema_name(value)
            else:
                out[key] = _ours(value, renames)
        return out
    if isinstance(node, list):
        return [_ours(item, renames) for item in node]
    return node


def _error_schemas() -> dict:
    schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    return {"Error": {**schema, "title": "Error"}, **definitions}


def _health_responses(public: bool) -> dict:
    ok = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}
    responses = {
        "200": {"description": "Every part ok, or degraded.", **ok},
        "503": {"description": "No model can serve.", **ok},
    }
    if not public:
        responses |= {status: _error_response(status) for status in ("401", "429")}
    return responses


def _responses(path: str, generated: dict, public: set[str]) -> dict:
    if path == "/healthz":
        return _health_responses(path in public)
    responses = {"200": generated.get("200", {})}
    if path in OPEN_OPERATIONS and path not in public:  # /metrics, when it wants a key
        statuses = MONITORING_ERRORS
    elif path not in public:
        statuses = COMMON_ERRORS + OPERATION_ERRORS.get(path, ())
    else:
        statuses = ()
    for status in sorted(statuses):
        responses[status] = _error_response(status)
    return responses


def _by_reference(body: dict, names: set[str]) -> None:
    """BentoML writes the request and answer schemas inline: a reference to the component
    instead, so a rule added there (steps xor predict_until) holds for the operation too."""
    for media in body.get("content", {}).values():
        title = media.get("schema", {}).get("title")
        if title in names:
            media["schema"] = {"$ref": f"#/components/schemas/{title}"}


def _operation(path: str, operation: dict, renames: dict[str, str], public: set[str]) -> dict:
    tag, operation_id, summary = OPERATIONS[path]
    operation = _ours(operation, renames)
    for body in (operation.get("requestBody", {}), operation.get("responses", {}).get("200", {})):
        _by_reference(body, set(renames.values()))
    operation.pop("x-bentoml-name", None)
    operation.pop("parameters", None)  # none of ours takes parameters
    operation.update(tags=[tag], operationId=operation_id, summary=summary)
    if path in PROBES:
        operation["description"] = PROBES[path]
    operation["responses"] = _responses(path, operation.get("responses", {}), public)
    if path not in public:
        # {}: anonymous, while no key exists; not offered where the server requires keys
        anonymous = [{}] if public == OPEN_OPERATIONS else []
        operation["security"] = [*anonymous, {"bearer": []}, {"apiKey": []}]
    if path in REQUIRED_BODIES:  # elsewhere no body reads as {}
        operation["requestBody"]["required"] = True
    return operation


def candlecast_openapi(spec: dict, require_key: bool = False) -> dict:
    """BentoML's generated document, made candlecast's; `require_key`: as served where every
    operation but the probes wants a key (CANDLECAST_REQUIRE_API_KEY)."""
    public = PUBLIC_WHEN_CLOSED if require_key else OPEN_OPERATIONS
    spec = copy.deepcopy(spec)
    spec["info"] = {"title": "candlecast", "version": __version__, "description": DESCRIPTION}
    spec["tags"] = TAGS
    spec["servers"] = [{"url": ".", "description": "this server"}]
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name in BENTOML_SCHEMAS:
        schemas.pop(name, None)
    renames = {name: _schema_name(name) for name in schemas}
    schemas = {renames[name]: _ours(schema, renames) for name, schema in schemas.items()}
    if "PredictRequest" in schemas:
        schemas["PredictRequest"].update(STEPS_XOR_UNTIL)
    schemas.update(_error_schemas())
    spec["components"]["schemas"] = schemas
    spec["components"]["securitySchemes"] = SECURITY_SCHEMES
    paths = {}
    for path, item in spec.get("paths", {}).items():
        if path in OPERATIONS:
            paths[path] = {
                method: _operation(path, operation, renames, public)
                for method, operation in item.items()
            }
    spec["paths"] = paths
    return spec
