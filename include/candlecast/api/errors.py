"""Errors the API answers with: an HTTP status, a message, and the field at fault if any; and
the decorator that turns them into JSON responses."""

from __future__ import annotations

import functools
import logging

from starlette.responses import JSONResponse

from candlecast.ops import DatabaseUnavailable

log = logging.getLogger("candlecast.api")


class ApiError(Exception):
    status = 400

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


def answers_errors(method):
    """Domain errors become their JSON 4xx/503 (BentoML would hide a 503's message)."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except DatabaseUnavailable as error:
            log.error("%s: %s", method.__name__, error)
            return JSONResponse({"error": "database unavailable"}, status_code=503)
        except ApiError as error:
            return JSONResponse(error.body(), status_code=error.status)

    return wrapper
