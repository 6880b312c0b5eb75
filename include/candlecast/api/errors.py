"""Errors the API answers with: an HTTP status, a message, and the field at fault if any."""

from __future__ import annotations


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
