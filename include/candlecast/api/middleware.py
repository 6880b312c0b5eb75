"""ASGI middleware of the Bento: keys only in headers, API keys and per-key rate limits in front
of every endpoint but the probes and the docs, our /healthz ahead of BentoML's own, and
keep-alive connections spread over the workers."""

from __future__ import annotations

import math

import anyio.to_thread
import redis.asyncio

from candlecast.api.asgi_answers import answer
from candlecast.api.credentials import key_in_query, misplaced_key
from candlecast.api.errors import UNAVAILABLE_HEADERS
from candlecast.api.key_limits import AsyncTokenBucket
from candlecast.api.keys import ApiKey, KeyRing, KeySet, KeyStoreUnavailable
from candlecast.ops import redis_url
from candlecast.settings import Settings

PROBES = frozenset({"/livez", "/readyz"})
DOCS = frozenset({"/", "/docs.json"})
DOCS_PREFIXES = ("/static_content/", "/assets/")
MONITORING = frozenset({"/healthz", "/metrics"})  # public unless CANDLECAST_REQUIRE_API_KEY
SPREAD_EVERY = 100  # answers of a worker per keep-alive connection it closes
MISSING_KEY = "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
INVALID_KEY = "invalid or revoked API key"
CHALLENGE = 'Bearer realm="candlecast"'
HOW_TO_CREATE = (
    " (this API wants a key for every operation: an operator creates one with "
    "`candlecast keys create --name <who>`)"
)


def is_open(path: str, require_key: bool = False) -> bool:
    """The probes and the docs always; /healthz and /metrics unless every caller needs a key."""
    if path in PROBES or path in DOCS or path.startswith(DOCS_PREFIXES):
        return True
    return path in MONITORING and not require_key


def presented_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        elif name == b"x-api-key" and value.strip():
            return value.decode("latin-1").strip()
    return None


class KeysInHeaders:
    """A key in the query string is refused (400, naming the headers) before anything else
    reads the request: keys travel in headers only (see `credentials`)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            field = key_in_query(scope.get("query_string", b""))
            if field is not None:
                await answer(send, 400, misplaced_key("query string", field))
                return
        await self.app(scope, receive, send)


class AccessMiddleware:
    """Open when no active key exists (local use) unless CANDLECAST_REQUIRE_API_KEY; otherwise
    a valid key within its limit."""

    def __init__(self, app, settings: Settings | None = None) -> None:
        self.app = app
        self.settings = settings or Settings()
        self.require_key = self.settings.candlecast_require_api_key
        self.keyring = KeyRing.from_settings(self.settings)
        self._bucket: AsyncTokenBucket | None = None

    def _limiter(self) -> AsyncTokenBucket:
        if self._bucket is None:  # created on first use, inside the server's event loop
            client = redis.asyncio.Redis.from_url(
                redis_url(self.settings), socket_timeout=2, socket_connect_timeout=2
            )
            self._bucket = AsyncTokenBucket(client)
        return self._bucket

    async def _keys(self) -> KeySet:
        return self.keyring.fresh() or await anyio.to_thread.run_sync(self.keyring.get)

    async def _unauthorized(self, send, message: str, challenge: str) -> None:
        """A 401; closed (every caller needs a key), it says how a key is made."""
        hint = HOW_TO_CREATE if self.require_key else ""
        await answer(send, 401, {"error": message + hint}, {"WWW-Authenticate": challenge})

    async def __call__(self, scope, receive, send) -> None:
        public = scope["type"] != "http" or is_open(scope["path"], self.require_key)
        if public or await self._admits(scope, send):
            await self.app(scope, receive, send)

    async def _admits(self, scope, send) -> bool:
        """True lets the request in; False: its refusal has been sent."""
        token = presented_key(scope["headers"])
        if token is None and self.require_key:  # no need to ask the key store
            await self._unauthorized(send, MISSING_KEY, CHALLENGE)
            return False
        try:
            keys = await self._keys()
        except KeyStoreUnavailable as error:
            await answer(send, 503, {"error": str(error)}, UNAVAILABLE_HEADERS)
            return False
        if keys.open_access and not self.require_key:
            return True
        if token is None:
            await self._unauthorized(send, MISSING_KEY, CHALLENGE)
            return False
        key = keys.verify(token)
        if key is None:
            await self._unauthorized(send, INVALID_KEY, f'{CHALLENGE}, error="invalid_token"')
            return False
        return await self._within_limit(key, send)

    async def _within_limit(self, key: ApiKey, send) -> bool:
        decision = await self._limiter().take(key.prefix, key.rate_per_minute, key.burst)
        if not decision.allowed:
            wait = max(1, math.ceil(decision.retry_after))
            await answer(
                send,
                429,
                {
                    "error": f"rate limit of API key {key.prefix} exceeded "
                    f"({key.rate_per_minute}/min, burst {key.burst}); retry after {wait} s"
                },
                {"Retry-After": str(wait)},
            )
            return False
        self.keyring.record_use(key)
        return True


class HealthRoute:
    """BentoML answers GET /healthz itself (as /livez); ours, with the dependencies, wins."""

    def __init__(self, app, health_app) -> None:
        self.app = app
        self.health_app = health_app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == "/healthz" and scope["method"] == "GET":
            await self.health_app(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class ConnectionSpread:
    """Every `every`-th answer of this worker closes its keep-alive connection, so the client's
    next connection is accepted by whichever worker is free first: connections opened at once
    do not all stay on the worker that happened to accept them (one did take them all), and a
    busier worker sheds more of them."""

    def __init__(self, app, every: int = SPREAD_EVERY) -> None:
        self.app = app
        self.every = every
        self.answers = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.answers += 1
        if self.answers % self.every:
            await self.app(scope, receive, send)
            return

        async def closing(message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, closing)
