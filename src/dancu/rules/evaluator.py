"""The CertLogic evaluator (specification version 1.3.3).

`evaluate_logic(expr, data)` validates the whole expression first (`validate_expression`), then evaluates it;
every error is a `CertLogicError` whose `path` points at the failing sub-expression (`$.and[1].after[0]`).
`evaluate_rule_logic(expr, data)` is the rule-level wrapper the spec advises: errors evaluate to `false`,
with the reason kept, and a rule passes when its value is truthy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, cast

from dancu.rules import operators
from dancu.rules.dates import TimeUnit
from dancu.rules.errors import CertLogicError, CertLogicEvaluationError
from dancu.rules.validation import COMPARISONS, DATE_COMPARISONS, validate_expression
from dancu.rules.values import describe, is_falsy, is_truthy, strict_equals

__all__ = [
    "CertLogicError", "RuleLogicResult", "evaluate_logic", "evaluate_rule_logic", "validate_expression",
]

_Handler = Callable[[str, list[Any], object], object]


def evaluate_logic(expr: object, data: object) -> object:
    """Evaluate a CertLogic expression against a data context.

    Returns JSON-like values, plus `DateTimeValue` for date-times (see `values.to_json` to serialise).
    Raises `CertLogicValidationError` for a malformed expression (nothing evaluated) and
    `CertLogicEvaluationError` for an operation the spec calls an error on this data.
    """
    validate_expression(expr)
    return _evaluate(expr, data)


def _evaluate(expr: object, data: object) -> object:
    if isinstance(expr, list):
        return [_operand(item, data, f"[{index}]") for index, item in enumerate(expr)]
    if not isinstance(expr, dict):
        return expr  # a boolean, integer or string literal evaluates to itself
    ((op, args),) = expr.items()
    if op == "var":
        return operators.var(cast(str, args), data)
    return _HANDLERS[op](op, cast(list[Any], args), data)


def _operand(expr: object, data: object, segment: str) -> object:
    """Evaluate a sub-expression, adding its position to the path of any error raised below it."""
    try:
        return _evaluate(expr, data)
    except CertLogicError as exc:
        exc.prepend(segment)
        raise


def _operands(op: str, args: list[Any], data: object) -> list[object]:
    return [_operand(arg, data, f"{op}[{index}]") for index, arg in enumerate(args)]


def _if(op: str, args: list[Any], data: object) -> object:
    # The spec: truthy guard -> <then>, otherwise -> <else> (so a guard that is neither goes to <else>).
    guard = _operand(args[0], data, "if[0]")
    if is_truthy(guard):
        return _operand(args[1], data, "if[1]")
    return _operand(args[2], data, "if[2]")


def _and(op: str, args: list[Any], data: object) -> object:
    """Lazy, in order: the first falsy operand, else the last one; a neither-nor operand is an error."""
    value: object = None
    for index, arg in enumerate(args):
        value = _operand(arg, data, f"and[{index}]")
        if is_falsy(value):
            return value
        if not is_truthy(value):
            raise CertLogicEvaluationError(
                f"operand {index} of 'and' is neither truthy nor falsy: {describe(value)}"
            )
    return value


def _reduce(op: str, args: list[Any], data: object) -> object:
    """Left fold; the lambda sees only `{"current": item, "accumulator": so_far}`; a null operand gives the
    initial value, any other non-array operand is an error."""
    array = _operand(args[0], data, "reduce[0]")
    if array is not None and not isinstance(array, list):
        raise CertLogicEvaluationError(
            f"the first operand of 'reduce' must be an array (or null), got {describe(array)}"
        )
    accumulator = _operand(args[2], data, "reduce[2]")
    for item in array or ():
        accumulator = _operand(args[1], {"current": item, "accumulator": accumulator}, "reduce[1]")
    return accumulator


def _equals(op: str, args: list[Any], data: object) -> object:
    left, right = _operands(op, args, data)
    return strict_equals(left, right)


def _in(op: str, args: list[Any], data: object) -> object:
    item, array = _operands(op, args, data)
    return operators.member_of(item, array)


def _plus(op: str, args: list[Any], data: object) -> object:
    left, right = _operands(op, args, data)
    return operators.add(left, right)


def _not(op: str, args: list[Any], data: object) -> object:
    return operators.negate(_operand(args[0], data, "![0]"))


def _compare(op: str, args: list[Any], data: object) -> object:
    return operators.compare_integers(op, _operands(op, args, data))


def _compare_dates(op: str, args: list[Any], data: object) -> object:
    return operators.compare_date_times(op, _operands(op, args, data))


def _plus_time(op: str, args: list[Any], data: object) -> object:
    text = _operand(args[0], data, "plusTime[0]")
    return operators.plus_time_of(text, cast(int, args[1]), cast(TimeUnit, args[2]))


def _dcc_date_of_birth(op: str, args: list[Any], data: object) -> object:
    return operators.dcc_date_of_birth(_operand(args[0], data, "dccDateOfBirth[0]"))


def _extract_from_uvci(op: str, args: list[Any], data: object) -> object:
    uvci = _operand(args[0], data, "extractFromUVCI[0]")
    return operators.extract_from_uvci(uvci, cast(int, args[1]))


_HANDLERS: Final[dict[str, _Handler]] = {
    "if": _if,
    "and": _and,
    "reduce": _reduce,
    "===": _equals,
    "in": _in,
    "+": _plus,
    "!": _not,
    "plusTime": _plus_time,
    "dccDateOfBirth": _dcc_date_of_birth,
    "extractFromUVCI": _extract_from_uvci,
    **{op: _compare for op in COMPARISONS},
    **{op: _compare_dates for op in DATE_COMPARISONS},
}


@dataclass(frozen=True, slots=True)
class RuleLogicResult:
    """Outcome of rule-level evaluation: `value` is `False` when evaluation raised (`error` says why)."""

    value: object
    passed: bool
    error: str | None = None


def evaluate_rule_logic(expr: object, data: object) -> RuleLogicResult:
    """Evaluate rule logic with errors mapped to `false`; the rule passes iff the value is truthy."""
    try:
        value = evaluate_logic(expr, data)
    except CertLogicError as exc:
        return RuleLogicResult(value=False, passed=False, error=str(exc))
    return RuleLogicResult(value=value, passed=is_truthy(value))
