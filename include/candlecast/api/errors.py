"""Errors the API answers with: an HTTP status, a message, and the field at fault if any; the
one body every error has (`ErrorBody`, also in the OpenAPI document), validation errors turned
into it, and the decorator that turns domain errors into JSON responses."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from candlecast.ops import DatabaseUnavailable

log = logging.getLogger("candlecast.api")


# A 503 says when to ask again: a worker leaves a dependency that failed alone for a second
# (ops.pool, ops.redis_conn) and the provider's own pauses are seconds; clients that wait this long
# do not hammer what is down.
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_HEADERS = {"Retry-After": str(RETRY_AFTER_SECONDS)}


class ApiError(Exception):
    status = 400
    headers: dict[str, str] = {}

    def __init__(self, message: str, field: str | None = None, **extra) -> None:
        super().__init__(message)
        self.message, self.field, self.extra = message, field, extra

    def body(self) -> dict:
        body = {"error": self.message}
        if self.field:
            body["field"] = self.field
        return {**body, **self.extra}


class BadInput(ApiError):
    status = 400


class NotFound(ApiError):
    status = 404


class Unprocessable(ApiError):
    status = 422


class Unavailable(ApiError):
    status = 503
    headers = UNAVAILABLE_HEADERS


class FieldProblem(BaseModel):
    field: str = Field(description="The field at fault (`body` for the body as a whole).")
    error: str


class ErrorBody(BaseModel):
    """Every error answer: what went wrong, and the field at fault where there is one."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "error": "steps: Input should be less than or equal to 30",
                "field": "steps",
            }
        },
    )

    error: str = Field(description="What went wrong, in words.")
    field: str = Field(
        default=None,
        description="The request field at fault: a field name, or `body` for the body as a "
        "whole (bad JSON, not an object). Absent for errors no field causes (503, 401, 429).",
    )
    detail: list[FieldProblem] = Field(
        default=None, description="Every problem found in the body, when validation found some."
    )
    matches: list[str] = Field(
        default=None, description="404 of an unknown symbol: close tickers, best first."
    )
    needed: int = Field(default=None, description="422 of a short history: candles needed.")
    have: int = Field(default=None, description="422 of a short history: candles there are.")


def _field_name(location: Iterable) -> str:
    return ".".join(str(part) for part in location) or "body"


def _message(problem: dict, expected: Iterable[str]) -> str:
    kind, message = problem.get("type", ""), problem.get("msg", "")
    if kind == "extra_forbidden":
        return f"unknown field (expected {', '.join(expected)})"
    if kind == "value_error":  # ours: the message already names the field
        return message.removeprefix("Value error, ")
    return message


def validation_error_body(problems: list[dict], expected: Iterable[str] = ()) -> dict:
    """Pydantic's errors (`ValidationError.errors()`) as our error body: the first problem names
    the field, `detail` lists them all; no class names, inputs or documentation links."""
    expected = list(expected)
    detail = [
        {"field": _field_name(p.get("loc", ())), "error": _message(p, expected)} for p in problems
    ]
    if not detail:
        detail = [{"field": "body", "error": "invalid request body"}]
    first = detail[0]
    error = first["error"]
    if not error.lower().startswith(first["field"].lower()):
        error = f"{first['field']}: {error}"
    if len(detail) > 1:
        error += f" (and {len(detail) - 1} more problem{'s' if len(detail) > 2 else ''})"
    return {"error": error, "field": first["field"], "detail": detail}


def error_response(error: Exception) -> JSONResponse | None:
    """The JSON answer of a domain error (BentoML would hide a 503's message); None for any
    other exception."""
    if isinstance(error, DatabaseUnavailable):
        return JSONResponse({"error": "database unavailable"}, 503, UNAVAILABLE_HEADERS)
    if isinstance(error, ApiError):
        return JSONResponse(error.body(), error.status, error.headers)
    return None


def answers_errors(method):
    """Domain errors become their JSON 4xx/503 (`error_response`)."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except (DatabaseUnavailable, ApiError) as error:
            if isinstance(error, DatabaseUnavailable):
                log.error("%s: %s", method.__name__, error)
            return error_response(error)

    return wrapper
