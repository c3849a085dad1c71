"""The eager CertLogic operations, applied to already-evaluated operands.

The lazy ones (`if`, `and`, `reduce`) live in `evaluator.py`, because they decide what gets evaluated.
Every type mismatch the spec calls an error raises `CertLogicEvaluationError`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any, Final

from dancu.rules.dates import DateTimeValue, TimeUnit, parse_date_time, parse_dcc_date_of_birth, plus_time
from dancu.rules.errors import CertLogicEvaluationError
from dancu.rules.values import as_integer, describe, is_falsy, is_truthy, strict_equals

_ARRAY_INDEX: Final = re.compile(r"[0-9]+", re.ASCII)
_UVCI_SEPARATORS: Final = re.compile(r"[/#:]")
_ORDER: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge,
    "before": operator.lt, "after": operator.gt, "not-after": operator.le, "not-before": operator.ge,
}


def var(path: str, data: object) -> object:
    """Drill into the data context along a dotted path; anything missing or undrillable is null."""
    if path == "":
        return data
    current = data
    for fragment in path.split("."):
        if isinstance(current, dict):
            current = current.get(fragment)
        elif isinstance(current, list) and _ARRAY_INDEX.fullmatch(fragment):
            index = int(fragment)
            current = current[index] if index < len(current) else None
        else:
            return None
    return current


def _chain(op: str, values: list[Any]) -> bool:
    """Binary `a op b`, or the ternary 'between' form `(a op b) and (b op c)`."""
    compare = _ORDER[op]
    return all(compare(values[i], values[i + 1]) for i in range(len(values) - 1))


def compare_integers(op: str, operands: list[object]) -> bool:
    """`<`, `>`, `<=`, `>=` (2 or 3 operands): every operand must be an integer."""
    integers: list[int] = []
    for index, value in enumerate(operands):
        integer = as_integer(value)
        if integer is None:
            raise CertLogicEvaluationError(
                f"operand {index} of {op!r} must be an integer, got {describe(value)}"
            )
        integers.append(integer)
    return _chain(op, integers)


def compare_date_times(op: str, operands: list[object]) -> bool:
    """`after`, `before`, `not-after`, `not-before` (2 or 3 operands): every operand must be a date-time."""
    for index, value in enumerate(operands):
        if not isinstance(value, DateTimeValue):
            raise CertLogicEvaluationError(
                f"operand {index} of {op!r} must be a date-time (made with plusTime or dccDateOfBirth), "
                f"got {describe(value)}"
            )
    return _chain(op, operands)


def member_of(item: object, array: object) -> bool:
    """`in`: the right-hand side must be an array (null included: it is not an array)."""
    if not isinstance(array, list):
        raise CertLogicEvaluationError(f"the second operand of 'in' must be an array, got {describe(array)}")
    return any(strict_equals(item, element) for element in array)


def add(left: object, right: object) -> int:
    """`+` is integer addition only (no string concatenation, no coercion)."""
    a, b = as_integer(left), as_integer(right)
    if a is None or b is None:
        raise CertLogicEvaluationError(
            f"operands of '+' must be integers, got {describe(left)} and {describe(right)}"
        )
    return a + b


def negate(value: object) -> bool:
    """`!`: true for falsy, false for truthy, an error for anything that is neither."""
    if is_falsy(value):
        return True
    if is_truthy(value):
        return False
    raise CertLogicEvaluationError(f"the operand of '!' is neither truthy nor falsy: {describe(value)}")


def plus_time_of(text: object, amount: int, unit: TimeUnit) -> DateTimeValue:
    if not isinstance(text, str):
        raise CertLogicEvaluationError(
            f"the first operand of plusTime must be a date(-time) string, got {describe(text)}"
        )
    return plus_time(parse_date_time(text), amount, unit)


def dcc_date_of_birth(text: object) -> DateTimeValue:
    if not isinstance(text, str):
        raise CertLogicEvaluationError(
            f"the operand of dccDateOfBirth must be a string, got {describe(text)}"
        )
    return parse_dcc_date_of_birth(text)


def extract_from_uvci(uvci: object, index: int) -> str | None:
    """Fragment `index` of a UCI split on `/`, `#`, `:` (a leading `URN:UVCI` is skipped); null if none."""
    if uvci is None:
        return None
    if not isinstance(uvci, str):
        raise CertLogicEvaluationError(
            f"the first operand of extractFromUVCI must be a string or null, got {describe(uvci)}"
        )
    fragments = _UVCI_SEPARATORS.split(uvci)
    if fragments[:2] == ["URN", "UVCI"]:
        fragments = fragments[2:]
    return fragments[index] if 0 <= index < len(fragments) else None
