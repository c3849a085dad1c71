"""CertLogic values: integers, strict truthiness, strict equality, JSON rendering.

Values are plain JSON-decoded Python objects plus `DateTimeValue`. Python's `bool` is an `int` subclass and
JSON decoders may hand back `2.0`, so "integer" is decided here once: a non-bool `int`, or a `float` with an
integral value (in the JavaScript number model `2.0` and `2` are the same value). Booleans are never integers.
"""

from __future__ import annotations

from typing import Any

from dancu.rules.dates import DateTimeValue
from dancu.rules.errors import CertLogicEvaluationError


def as_integer(value: object) -> int | None:
    """The integer a value stands for, or None when it is not an integer."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def is_falsy(value: object) -> bool:
    """`false`, `null`, `""`, `0`, `[]`, `{}` - and nothing else."""
    if value is None or value is False:
        return True
    if isinstance(value, str | list | dict):
        return len(value) == 0
    return as_integer(value) == 0


def is_truthy(value: object) -> bool:
    """`true`, non-empty strings/arrays/objects, non-zero integers. Date-times and fractions are neither."""
    if value is True:
        return True
    if isinstance(value, str | list | dict):
        return len(value) > 0
    integer = as_integer(value)
    return integer is not None and integer != 0


def describe(value: object) -> str:
    """A short human description of a value for error messages."""
    if isinstance(value, DateTimeValue):
        return f"date-time {value.isoformat()}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    if isinstance(value, int | float):
        return f"number {value!r}"
    if isinstance(value, list):
        return f"array of {len(value)} item(s)"
    if isinstance(value, dict):
        return f"object with {len(value)} key(s)"
    return type(value).__name__


def strict_equals(left: object, right: object) -> bool:
    """`===` without type coercion: `1 !== "1"`, `true !== 1`, `null === null`.

    Arrays and objects compare structurally (deterministic, unlike JavaScript's reference identity).
    Date-times are refused: JavaScript would compare object identity (always false for two computed values),
    so rules must use `not-before`/`not-after` instead.
    """
    if isinstance(left, DateTimeValue) or isinstance(right, DateTimeValue):
        raise CertLogicEvaluationError(
            "'===' (and 'in') cannot compare date-times; use 'not-before'/'not-after' instead"
        )
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, str) and isinstance(right, str):
        return left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(strict_equals(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(strict_equals(left[k], right[k]) for k in left)
    return False


def to_json(value: object) -> Any:
    """A JSON-serialisable copy of an evaluation result (date-times become ISO strings in UTC)."""
    if isinstance(value, DateTimeValue):
        return value.isoformat()
    if isinstance(value, list):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    return value
