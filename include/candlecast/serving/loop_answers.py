"""Cached /predict answers on the server's event loop: a repeat within the prediction cache is
answered by an ASGI middleware ahead of BentoML's request path (its IO descriptor, its thread
hop, its response handling), with the bytes `Forecaster.cached_answer` gives the endpoint, from
one local Redis round trip (two for predict_until).

It is the innermost of the service's middlewares, so the body check (`RequestContract`), API
keys and rate limits (`AccessMiddleware`) and `ConnectionSpread` count it as any request.
Only a body that `PredictRequest` accepts, as BentoML parses it, for a symbol the worker
remembers and whose answer is cached is answered here; anything else (any other body, a miss,
any error) goes on to BentoML unchanged, with the body it read replayed, so errors and
computed forecasts are BentoML's as before. Its answers carry `x-candlecast-answer: cache`, and
not BentoML's `x-bentoml-request-id` (the span id of its tracing, which nothing here reads)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pydantic import ValidationError

from candlecast.api import ApiError, PredictRequest, is_json
from candlecast.ops import GuardedRedis, serving_redis_client
from candlecast.serving.forecaster import Forecaster
from candlecast.settings import Settings
from candlecast.timeframes import TIMEFRAMES

log = logging.getLogger(__name__)

ANSWER_HEADER = (b"x-candlecast-answer", b"cache")
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

    def serve(self, forecaster: Forecaster) -> None:
        self.redis = GuardedRedis(serving_redis_client(self.settings, LOOP_REDIS_TIMEOUT_SECONDS))
        self.forecaster = forecaster

    def answer(self, body: bytes) -> bytes | None:
        """The cached answer to this /predict body, or None: the endpoint answers it."""
        if self.forecaster is None:
            return None
        try:
            # As BentoML's JSON serde reads it (no body is {}), with the same model.
            request = PredictRequest.model_validate_json(body or b"{}")
        except ValidationError:
            return None
        if request.as_of is not None:
            return None  # an answer as of a past time is never a cached one of now
        try:
            return self.forecaster.cached_answer(
                request.symbol,
                TIMEFRAMES[request.timeframe],
                request.steps,
                request.predict_until,
                on_loop=self.redis,
            )
        except ApiError:
            return None  # the endpoint gives the same error
        except Exception:
            log.exception("cached answer on the loop failed; left to the endpoint")
            return None


class CachedPredict:
    """ASGI middleware: POST `route` answered from `answers` when it can be, else passed on."""

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
        answer = None if more else self.answers.answer(b"".join(chunks))
        if answer is None:
            await self.app(scope, replaying(messages, receive), send)
            return
        headers = [
            (b"content-length", str(len(answer)).encode()),
            (b"content-type", b"application/json"),
            *self.headers,
            ANSWER_HEADER,
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


def replaying(messages: list[dict], receive):
    """`receive` that gives the messages already read, in order, then the client's."""
    pending = list(messages)

    async def replay() -> dict:
        return pending.pop(0) if pending else await receive()

    return replay
