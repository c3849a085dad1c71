"""Typed errors of the rules engine.

`CertLogicError` and its two subclasses belong to the CertLogic evaluator (no web dependency needed);
`RuleFormatError` is a domain error (HTTP 422 through the app's handler) naming the offending field.
"""

from __future__ import annotations

from dataclasses import dataclass

from dancu.core.errors import ValidationFailed


def render_path(segments: list[str]) -> str:
    """`["and[1]", "after[0]"]` -> `$.and[1].after[0]`; array items render as `[i]`."""
    out = "$"
    for segment in segments:
        out += segment if segment.startswith("[") else "." + segment
    return out


class CertLogicError(Exception):
    """Any error the CertLogic evaluator raises; `path` points at the failing sub-expression."""

    def __init__(self, message: str, segments: list[str] | None = None) -> None:
        super().__init__(message)
        self.reason = message
        self.segments: list[str] = list(segments or [])

    @property
    def path(self) -> str:
        return render_path(self.segments)

    def prepend(self, segment: str) -> None:
        self.segments.insert(0, segment)

    def __str__(self) -> str:
        return f"{self.reason} (at {self.path})"


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One structural problem found by `validate_expression`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.message} (at {self.path})"


class CertLogicValidationError(CertLogicError):
    """The expression is malformed: detected statically, before evaluating anything."""

    def __init__(self, issues: list[ValidationIssue]) -> None:
        first = issues[0]
        more = f" (+{len(issues) - 1} more issue(s))" if len(issues) > 1 else ""
        super().__init__(first.message + more)
        self.issues = issues
        self._path = first.path

    @property
    def path(self) -> str:
        return self._path

    def __str__(self) -> str:
        return "; ".join(str(issue) for issue in self.issues)


class CertLogicEvaluationError(CertLogicError):
    """An operation met operands the spec calls an error (type mismatch, unparseable date-time, ...)."""


class RuleFormatError(ValidationFailed):
    """A rule (dancu or EU envelope) could not be parsed; `field` names the offending field."""

    code = "invalid_rule"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"invalid rule field {field!r}: {reason}", field=field)
        self.reason = reason
