"""ASGI middleware of the Bento: API keys and per-key rate limits in front of every endpoint but
the probes and the docs, our /healthz ahead of BentoML's own, and keep-alive connections spread
over the workers."""

from __future__ import annotations

import json
import math

import anyio.to_thread
import redis.asyncio

from candlecast.api.keys import KeyRing, KeySet, KeyStoreUnavailable
from candlecast.api.throttle import AsyncTokenBucket
from candlecast.ops import redis_url
from candlecast.settings import Settings

OPEN_PATHS = frozenset({"/", "/livez", "/readyz", "/healthz", "/metrics", "/docs.json"})
OPEN_PREFIXES = ("/static_content/", "/assets/")
SPREAD_EVERY = 100  # answers of a worker per keep-alive connection it closes


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def presented_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        elif name == b"x-api-key" and value.strip():
            return value.decode("latin-1").strip()
    return None


async def _refuse(send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": message}).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class AccessMiddleware:
    """Open when no active key exists (local use); otherwise a valid key within its limit."""

    def __init__(self, app, settings: Settings | None = None) -> None:
        self.app = app
        self.settings = settings or Settings()
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

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            keys = await self._keys()
        except KeyStoreUnavailable as error:
            await _refuse(send, 503, str(error))
            return
        if keys.open_access:
            await self.app(scope, receive, send)
            return
        token = presented_key(scope["headers"])
        if token is None:
            await _refuse(
                send,
                401,
                "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                {"WWW-Authenticate": 'Bearer realm="candlecast"'},
            )
            return
        key = keys.verify(token)
        if key is None:
            await _refuse(
                send,
                401,
                "invalid or revoked API key",
                {"WWW-Authenticate": 'Bearer realm="candlecast", error="invalid_token"'},
            )
            return
        decision = await self._limiter().take(key.prefix, key.rate_per_minute, key.burst)
        if not decision.allowed:
            wait = max(1, math.ceil(decision.retry_after))
            await _refuse(
                send,
                429,
                f"rate limit of API key {key.prefix} exceeded ({key.rate_per_minute}/min, "
                f"burst {key.burst}); retry after {wait} s",
                {"Retry-After": str(wait)},
            )
            return
        self.keyring.record_use(key)
        await self.app(scope, receive, send)


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
