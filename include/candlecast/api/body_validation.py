"""Each operation's request body checked against its model before BentoML sees it, so every 400
has our error body (BentoML's own names its internal `…IODescriptor` classes and lists pydantic's
documentation links): malformed JSON, a body that is not an object, a wrong type, a value out of
range, an unknown field. A body that is not JSON is a 415; one over MAX_BODY_BYTES a 413; one
that carries an API key a 400 naming the headers keys belong in."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ValidationError

from candlecast.api.asgi_answers import answer
from candlecast.api.credentials import key_in_body, misplaced_key
from candlecast.api.errors import validation_error_body
from candlecast.api.ranking_schemas import RankRequest
from candlecast.api.requests import (
    AccuracyRequest,
    CandlesRequest,
    ModelsRequest,
    PredictionGetRequest,
    PredictionLatestRequest,
    PredictRequest,
    SymbolSearchRequest,
)

REQUEST_MODELS: dict[str, type[BaseModel]] = {
    "/predict": PredictRequest,
    "/symbols/search": SymbolSearchRequest,
    "/candles": CandlesRequest,
    "/models": ModelsRequest,
    "/predictions/get": PredictionGetRequest,
    "/predictions/latest": PredictionLatestRequest,
    "/accuracy": AccuracyRequest,
    "/rank": RankRequest,
}
MAX_BODY_BYTES = 1 << 20


def body_problems(model: type[BaseModel], body: bytes) -> dict | None:
    """The error body for a request body the model refuses, or None when it is valid."""
    try:
        model.model_validate_json(body or b"{}")  # no body reads as {}, as BentoML reads it
    except ValidationError as error:
        problems = error.errors(include_url=False, include_input=False, include_context=False)
        return validation_error_body(problems, model.model_fields)
    return None


def is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    """No Content-Type reads as JSON (as BentoML reads it); otherwise JSON or a +json type."""
    for name, value in headers:
        if name == b"content-type":
            media = value.split(b";")[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return True


class RequestContract:
    """ASGI middleware: a POST to an operation goes on only with a body its model accepts."""

    def __init__(self, app, models: Mapping[str, type[BaseModel]] = REQUEST_MODELS) -> None:
        self.app = app
        self.models = dict(models)

    async def __call__(self, scope, receive, send) -> None:
        model = self.models.get(scope["path"]) if scope["type"] == "http" else None
        if model is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if not is_json(scope["headers"]):
            await answer(send, 415, {"error": "send the body as application/json", "field": "body"})
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                await answer(
                    send,
                    413,
                    {"error": f"request body over {MAX_BODY_BYTES} bytes", "field": "body"},
                )
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        field = key_in_body(body)
        if field is not None:  # before the schema's "unknown field": the fix is a header
            await answer(send, 400, misplaced_key("body", field))
            return
        problems = body_problems(model, body)
        if problems is not None:
            await answer(send, 400, problems)
            return
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
