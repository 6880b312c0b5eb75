"""The provider's errors and when a request is retried: 401/403 never (the message says what to
fix); a rate limit (429, or 503 with Retry-After) until the patience runs out, honouring
Retry-After; other transient errors (5xx, timeouts, resets) a number of times, with exponential
backoff and full jitter."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import httpx


class ProviderError(RuntimeError):
    """The provider answered with something we cannot use."""


class ProviderAuthError(ProviderError):
    """401/403: retrying will not help; the message says what to fix."""


class ProviderTransientError(ProviderError):
    """429, 5xx, timeouts, resets, truncated bodies: retried with backoff. A rate limit (429,
    or 503 with Retry-After) is retried for a time, other transient errors for a count."""

    def __init__(
        self, message: str, retry_after: float | None = None, rate_limited: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.rate_limited = rate_limited


def error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
        return str(body.get("error") or body.get("message") or body)[:300]
    except ValueError:
        return response.text[:120].replace("\n", " ")


def classify(response: httpx.Response) -> ProviderError:
    status, text = response.status_code, error_text(response)
    if status == 401:
        return ProviderAuthError(
            f"the provider rejected the API key (401: {text}); check POLYGON_API_KEY"
        )
    if status == 403:
        return ProviderAuthError(
            f"the provider refused this data for your plan (403: {text}); upgrade the plan or "
            "ask for less history / fewer timeframes"
        )
    if status == 429 or status >= 500 or status == 499:
        header = response.headers.get("Retry-After")
        retry_after = float(header) if header and header.isdigit() else None
        limited = status == 429 or (status == 503 and retry_after is not None)
        return ProviderTransientError(f"provider answered {status}: {text}", retry_after, limited)
    return ProviderError(f"provider answered {status}: {text}")


class RetryBudget:
    """When to stop retrying one request, and how long to wait before the next try.

    A rate limit is a window, not a failure: 429s (and 503s with Retry-After) are retried until
    `patience` seconds have passed since the first of them (and at least `max_retries` times),
    waiting at least any Retry-After and at most `RATE_LIMIT_WAIT_CAP` between tries. Every other
    transient error is retried `max_retries` times with exponential backoff and full jitter
    (capped at 60 s, never below a Retry-After)."""

    RATE_LIMIT_WAIT_CAP = 15.0

    def __init__(
        self,
        max_retries: int,
        patience: float,
        base: float,
        cap: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.max_retries, self.patience, self.base, self.cap = max_retries, patience, base, cap
        self.clock = clock
        self.others = self.limited = self.counted = 0
        self.limited_since: float | None = None

    def _count(self, state) -> BaseException | None:
        """Count each failed attempt once (tenacity asks `wait` before `stop`)."""
        error = state.outcome.exception() if state.outcome else None
        if self.counted == state.attempt_number:
            return error
        self.counted = state.attempt_number
        if getattr(error, "rate_limited", False):
            self.limited += 1
            self.limited_since = self.limited_since or self.clock()
        else:
            self.others += 1
        return error

    def stop(self, state) -> bool:
        error = self._count(state)
        if getattr(error, "rate_limited", False):
            out_of_time = self.clock() - self.limited_since >= self.patience
            return out_of_time and self.limited > self.max_retries
        return self.others > self.max_retries

    def wait(self, state) -> float:
        error = self._count(state)
        retry_after = getattr(error, "retry_after", None) or 0.0
        if getattr(error, "rate_limited", False):
            ceiling = min(self.RATE_LIMIT_WAIT_CAP, self.base * 2 ** (self.limited - 1))
            return max(retry_after, random.uniform(ceiling / 2, ceiling))
        delay = random.uniform(0, min(self.cap, self.base * 2 ** (self.others - 1)))
        return max(delay, retry_after)
