"""Live /predict answered by an ASGI middleware ahead of BentoML's request path (its IO
descriptor, its task and thread hop, its response handling), which cost a third of a worker's
capacity against a plain uvicorn + FastAPI app doing the same forecast (bench/bench_api.py).

A repeat within the prediction cache is answered on the event loop, with the bytes
`Forecaster.cached_answer` gives the endpoint, from one local Redis round trip (two for
predict_until). Any other live forecast is computed by `Forecaster.predict_json` (the same
storage, shadows and champion) on a thread of the worker's own pool of
CANDLECAST_API_THREADS, and a domain error answered as the endpoint answers it
(`error_response`). Answers carry `x-candlecast-answer: cache` or `computed`, and not BentoML's
`x-bentoml-request-id` (the span id of its tracing, which nothing here reads).

It is the innermost of the service's middlewares, so the body check (`RequestContract`), API
keys and rate limits (`AccessMiddleware`) and `ConnectionSpread` count it as any request.
Only a body that `PredictRequest` accepts, as BentoML parses it, without `as_of`, is answered
here; anything else (an as_of question, a body the endpoint refuses, an unexpected exception)
goes on to BentoML unchanged, with the body it read replayed."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import anyio
import anyio.to_thread
from pydantic import ValidationError
from starlette.responses import Response

from candlecast.api import ApiError, PredictRequest, error_response, is_json
from candlecast.ops import DatabaseUnavailable, GuardedRedis, serving_redis_client
from candlecast.serving.forecaster import Forecaster
from candlecast.settings import Settings
from candlecast.timeframes import TIMEFRAMES

log = logging.getLogger(__name__)

ANSWER_HEADER = b"x-candlecast-answer"  # cache | computed
# A local round trip takes ~0.1 ms; one that takes this long is left to the endpoint (and Redis
# to GuardedRedis's pause), so the loop is never held up for longer.
LOOP_REDIS_TIMEOUT_SECONDS = 0.1


class LoopAnswers:
    """The worker's forecaster for the middleware: BentoML builds the middleware before the
    service instance, whose `__init__` hands it over (`serve`). Until then nothing is answered
    here."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.forecaster: Forecaster | None = None
        self.redis: GuardedRedis | None = None
        self.threads: anyio.CapacityLimiter | None = None  # made on the loop, on first use

    def serve(self, forecaster: Forecaster) -> None:
        self.redis = GuardedRedis(serving_redis_client(self.settings, LOOP_REDIS_TIMEOUT_SECONDS))
        self.forecaster = forecaster

    def request(self, body: bytes) -> PredictRequest | None:
        """The live forecast this /predict body asks for, or None: the endpoint answers it."""
        if self.forecaster is None:
            return None
        try:
            # As BentoML's JSON serde reads it (no body is {}), with the same model.
            request = PredictRequest.model_validate_json(body or b"{}")
        except ValidationError:
            return None
        return None if request.as_of is not None else request  # as_of: never a live answer

    def answer(self, body: bytes) -> bytes | None:
        """The cached answer to this /predict body, or None."""
        request = self.request(body)
        return None if request is None else self.cached(request)

    def cached(self, request: PredictRequest) -> bytes | None:
        try:
            return self.forecaster.cached_answer(
                request.symbol,
                TIMEFRAMES[request.timeframe],
                request.steps,
                request.predict_until,
                on_loop=self.redis,
            )
        except ApiError:
            return None  # computing it gives the same error
        except Exception:
            log.exception("cached answer on the loop failed; computed instead")
            return None

    async def computed(self, request: PredictRequest) -> Response | None:
        """The forecast computed on one of the worker's threads, or its error's answer; None
        when it failed unexpectedly (the endpoint answers it as it would)."""
        if self.threads is None:
            self.threads = anyio.CapacityLimiter(self.settings.candlecast_api_threads)
        return await anyio.to_thread.run_sync(self._compute, request, limiter=self.threads)

    def _compute(self, request: PredictRequest) -> Response | None:
        try:
            body = self.forecaster.predict_json(
                request.symbol, TIMEFRAMES[request.timeframe], request.steps, request.predict_until
            )
        except Exception as error:
            answer = error_response(error)
            if answer is None:
                log.exception("a forecast on the worker's threads failed; left to the endpoint")
            elif isinstance(error, DatabaseUnavailable):  # logged as answers_errors logs it
                log.error("predict: %s", error)
            return answer
        return Response(body, media_type="application/json")


class LivePredict:
    """ASGI middleware: a live POST `route` answered by `answers` (cached or computed), anything
    else passed on to BentoML."""

    def __init__(
        self,
        app,
        answers: LoopAnswers,
        route: str = "/predict",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        self.answers = answers
        self.route = route
        # What the endpoint's answers carry besides the body's: BentoML's `server`, say.
        self.headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]

    async def __call__(self, scope, receive, send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != self.route
            or scope["method"] != "POST"
            or self.answers.forecaster is None
            or not is_json(scope["headers"])
        ):
            await self.app(scope, receive, send)
            return
        messages, chunks, more = [], [], True
        while more:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break  # a disconnect: the endpoint sees it as it would have
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        request = None if more else self.answers.request(b"".join(chunks))
        cached = None if request is None else self.answers.cached(request)
        if cached is not None:
            response = Response(cached, media_type="application/json")
            await self.respond(response, b"cache", scope, receive, send)
            return
        response = None if request is None else await self.answers.computed(request)
        if response is None:
            await self.app(scope, replaying(messages, receive), send)
            return
        await self.respond(response, b"computed", scope, receive, send)

    async def respond(self, response: Response, how: bytes, scope, receive, send) -> None:
        response.raw_headers.extend([*self.headers, (ANSWER_HEADER, how)])
        await response(scope, receive, send)


def replaying(messages: list[dict], receive):
    """`receive` that gives the messages already read, in order, then the client's."""
    pending = list(messages)

    async def replay() -> dict:
        return pending.pop(0) if pending else await receive()

    return replay
