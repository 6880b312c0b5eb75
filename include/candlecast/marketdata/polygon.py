"""The Polygon.io / Massive.com REST client (httpx, async) and the provider built on it.

Wire contract: ../shared/reference/polygon-api.md. Bearer auth only, so `next_url` is followed
as given (path and query rebuilt on our own base URL, never through `params=`, which would drop
the cursor). Weekly and monthly candles are built from daily bars (`bars.resample_daily`): the
provider's own week/month alignment is not documented.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import date

import httpx
import pandas as pd
from tenacity import AsyncRetrying, retry_if_exception_type

from candlecast.marketdata.bars import bars_to_candles, resample_daily, usd_volumes
from candlecast.marketdata.base import FetchRequest, TickerInfo, empty_candles
from candlecast.marketdata.provider_quota import SlidingWindowLimiter
from candlecast.marketdata.provider_retry import (
    ProviderAuthError,
    ProviderError,
    ProviderTransientError,
    RetryBudget,
    classify,
    error_text,
)
from candlecast.timeframes import TIMEFRAMES

log = logging.getLogger(__name__)

SUCCESS_STATUSES = {"OK", "DELAYED"}
MAX_PAGES = 10_000


class PolygonClient:
    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        limiter: SlidingWindowLimiter | None = None,
        timeout: float = 30.0,
        max_retries: int = 6,
        backoff_seconds: float = 1.0,
        max_concurrency: int = 8,
        rate_limit_patience: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`clock` and `sleep` time the retries (a rate limit's patience, the waits between
        tries): tests pass a clock they move instead of waiting."""
        self.base_url = httpx.URL(base_url.rstrip("/"))
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept-Encoding": "gzip"}
        self.limiter = limiter
        self.timeout = timeout
        self.max_retries = max_retries
        self.rate_limit_patience = rate_limit_patience
        self.backoff_seconds = backoff_seconds
        self.max_concurrency = max_concurrency
        self.clock, self.sleep = clock, sleep
        self.requests_made = 0

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            headers=self._headers,
            timeout=self.timeout,
            limits=httpx.Limits(max_connections=self.max_concurrency),
        )

    def url(self, path: str, params: dict | None = None) -> httpx.URL:
        return self.base_url.copy_with(path=path).copy_merge_params(params or {})

    def rebase(self, next_url: str) -> httpx.URL:
        """next_url's path and cursor on our own base; any key it carries is dropped."""
        given = httpx.URL(next_url)
        query = httpx.QueryParams(given.query).remove("apiKey")
        return self.base_url.copy_with(path=given.path, query=str(query).encode())

    async def _get_once(self, client: httpx.AsyncClient, url: httpx.URL) -> dict:
        slot = await self.limiter.acquire() if self.limiter is not None else None
        self.requests_made += 1
        try:
            response = await client.get(url)
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as error:
            raise ProviderTransientError(f"{type(error).__name__} on {url.path}") from error
        finally:
            if slot is not None:
                self.limiter.complete(slot)
        if response.status_code != 200:
            raise classify(response)
        try:
            body = response.json()
        except ValueError as error:
            raise ProviderTransientError(f"unreadable JSON body from {url.path}") from error
        if body.get("status") not in SUCCESS_STATUSES:
            raise ProviderError(f"provider status {body.get('status')!r}: {error_text(response)}")
        return body

    async def get_json(self, client: httpx.AsyncClient, url: httpx.URL) -> dict:
        budget = RetryBudget(
            self.max_retries, self.rate_limit_patience, self.backoff_seconds, clock=self.clock
        )
        retrying = AsyncRetrying(
            sleep=self.sleep,
            retry=retry_if_exception_type(ProviderTransientError),
            stop=budget.stop,
            wait=budget.wait,
            reraise=True,
            before_sleep=lambda s: log.warning(
                "retrying %s after %s", url.path, s.outcome.exception()
            ),
        )
        async for attempt in retrying:
            with attempt:
                return await self._get_once(client, url)
        raise AssertionError("unreachable")

    async def paginate(self, client: httpx.AsyncClient, url: httpx.URL) -> list[dict]:
        """Every page's results; raises (returning nothing partial) if any page fails."""
        results: list[dict] = []
        seen: set[str] = set()
        while True:
            body = await self.get_json(client, url)
            results.extend(body.get("results") or [])
            next_url = body.get("next_url")
            if not next_url:
                return results
            url = self.rebase(next_url)
            if str(url) in seen or len(seen) >= MAX_PAGES:
                raise ProviderError(f"pagination does not end (repeated cursor at {url.path})")
            seen.add(str(url))

    async def list_tickers(self) -> list[TickerInfo]:
        params = {
            "market": "crypto",
            "active": "true",
            "limit": 1000,
            "sort": "ticker",
            "order": "asc",
        }
        async with self._client() as client:
            rows = await self.paginate(client, self.url("/v3/reference/tickers", params))
        return [
            TickerInfo(
                ticker=row["ticker"],
                name=row.get("name") or row["ticker"],
                base=row.get("base_currency_symbol") or "",
                quote=row.get("currency_symbol") or "",
                active=bool(row.get("active", True)),
            )
            for row in rows
        ]

    async def grouped_daily(self, day: date) -> list[dict]:
        path = f"/v2/aggs/grouped/locale/global/market/crypto/{day.isoformat()}"
        async with self._client() as client:
            body = await self.get_json(client, self.url(path, {"adjusted": "true"}))
        return body.get("results") or []

    async def aggregates(self, client: httpx.AsyncClient, request: FetchRequest) -> pd.DataFrame:
        timeframe = (
            TIMEFRAMES["1d"] if request.timeframe.code in ("1w", "1M") else request.timeframe
        )
        start_ms = int(request.start.timestamp() * 1000)
        end_ms = int(request.end.timestamp() * 1000) - 1  # `to` is inclusive
        if end_ms < start_ms:
            return empty_candles()
        path = (
            f"/v2/aggs/ticker/{request.ticker}/range/{timeframe.multiplier}/"
            f"{timeframe.timespan}/{start_ms}/{end_ms}"
        )
        params = {"adjusted": "true", "sort": "asc", "limit": 50000}
        bars = await self.paginate(client, self.url(path, params))
        frame = bars_to_candles(bars)
        if timeframe is not request.timeframe:
            frame = resample_daily(frame, request.timeframe)
        mask = (frame["timestamp"] >= request.start) & (frame["timestamp"] < request.end)
        out = frame[mask].reset_index(drop=True)
        out.attrs = dict(frame.attrs)
        return out

    async def fetch_many(self, requests: list[FetchRequest]) -> list[pd.DataFrame | Exception]:
        semaphore = asyncio.Semaphore(self.max_concurrency)
        async with self._client() as client:

            async def one(request: FetchRequest):
                async with semaphore:
                    try:
                        return await self.aggregates(client, request)
                    except ProviderAuthError:
                        raise
                    except ProviderError as error:
                        return error

            return list(await asyncio.gather(*(one(r) for r in requests)))


class PolygonProvider:
    """The MarketDataProvider interface over PolygonClient (sync calls, async bulk fetches)."""

    name = "polygon"

    def __init__(self, client: PolygonClient, now: pd.Timestamp | None = None) -> None:
        self.client = client
        self._now = now
        self._quotes: dict[str, str] = {}

    def now(self) -> pd.Timestamp:
        return self._now if self._now is not None else pd.Timestamp.now(tz="UTC")

    def list_tickers(self) -> list[TickerInfo]:
        tickers = asyncio.run(self.client.list_tickers())
        self._quotes = {t.ticker: t.quote for t in tickers}
        return tickers

    def daily_usd_volumes(self, day: date) -> dict[str, float]:
        rows = asyncio.run(self.client.grouped_daily(day))
        return usd_volumes(rows, self._quotes)

    def fetch_candles(self, ticker, timeframe, start, end) -> pd.DataFrame:
        (result,) = self.fetch_many([FetchRequest(ticker, timeframe, start, end)])
        if isinstance(result, Exception):
            raise result
        return result

    def fetch_many(self, requests: list[FetchRequest]) -> list[pd.DataFrame | Exception]:
        return asyncio.run(self.client.fetch_many(requests))
