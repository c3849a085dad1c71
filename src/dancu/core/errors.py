"""Typed domain errors. Each carries its HTTP status; one handler renders JSON or a page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar


class DomainError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(
        self, message: str, *, field: str | None = None, details: Any = None, params: dict[str, Any] | None = None
    ) -> None:
        # `message` may hold {placeholders} filled from `params`, so pages can translate the template.
        self.template = message
        self.params = params or {}
        self.message = message.format(**self.params) if self.params else message
        super().__init__(self.message)
        self.field = field
        self.details = details

    def localized(self, gettext: Callable[[str], str]) -> str:
        text = gettext(self.template)
        try:
            return text.format(**self.params) if self.params else text
        except (KeyError, IndexError, ValueError):
            return self.message

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.details is not None:
            body["details"] = self.details
        return body


class ValidationFailed(DomainError):
    status_code = 422
    code = "validation_failed"

    def to_dict(self) -> dict[str, Any]:
        # As request validation reports it: "field" is always there (null: the input as a whole).
        return {"field": None, **super().to_dict()}


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Unauthenticated(DomainError):
    status_code = 401
    code = "unauthenticated"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class TooManyRequests(DomainError):
    status_code = 429
    code = "too_many_requests"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"


class Unavailable(DomainError):
    """A write could not be completed now (the database refused or went away); sending again is safe."""

    status_code = 503
    code = "unavailable"
