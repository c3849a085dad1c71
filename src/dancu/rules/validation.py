"""Static validation of CertLogic expressions (structure only; no data needed).

Checks what the spec and its JSON schema fix up front: literals (booleans, integers, strings, arrays; no
`null`, fractions or object literals), one operation per object, known operations, operand counts, the
literal-only operands of `plusTime` and `extractFromUVCI`, `var` paths being strings. It also rejects literal
operands that would be an error whatever the data is (e.g. a string literal where a date-time is required).
"""

from __future__ import annotations

from typing import Final

from dancu.rules.dates import TIME_UNITS, parse_date_time, parse_dcc_date_of_birth
from dancu.rules.errors import (
    CertLogicEvaluationError,
    CertLogicValidationError,
    ValidationIssue,
    render_path,
)
from dancu.rules.values import as_integer, describe

COMPARISONS: Final = frozenset({"<", ">", "<=", ">="})
DATE_COMPARISONS: Final = frozenset({"after", "before", "not-after", "not-before"})
# operation -> (minimum, maximum) number of operands
ARITY: Final[dict[str, tuple[int, int | None]]] = {
    "if": (3, 3),
    "===": (2, 2),
    "in": (2, 2),
    "+": (2, 2),
    "and": (2, None),
    "!": (1, 1),
    "plusTime": (3, 3),
    "reduce": (3, 3),
    "extractFromUVCI": (2, 2),
    "dccDateOfBirth": (1, 1),
    **{op: (2, 3) for op in COMPARISONS | DATE_COMPARISONS},
}
OPERATIONS: Final = frozenset({"var", *ARITY})
MAX_DEPTH: Final = 100

_HINTS: Final = {
    "!!": 'not in CertLogic; use {"!": [{"!": [x]}]}',
    "==": 'not in CertLogic; use "==="',
    "!=": 'not in CertLogic; use {"!": [{"===": [a, b]}]}',
    "!==": 'not in CertLogic; use {"!": [{"===": [a, b]}]}',
    "or": 'not in CertLogic; use "if" (or "!" with "and")',
    "missing": 'not in CertLogic; test presence with {"var": ...} (null/""/0/[]/{} are falsy)',
}


class _Validator:
    def __init__(self) -> None:
        self.issues: list[ValidationIssue] = []

    def issue(self, segments: list[str], message: str) -> None:
        self.issues.append(ValidationIssue(render_path(segments), message))

    def check(self, expr: object, segments: list[str]) -> None:
        if len(segments) > MAX_DEPTH:
            self.issue(segments, f"expression nested deeper than {MAX_DEPTH} levels")
        elif expr is None:
            self.issue(segments, "null literals are not allowed")
        elif isinstance(expr, bool | str | int):
            return
        elif isinstance(expr, float):
            self.issue(segments, f"number literals must be integers, got {expr!r}")
        elif isinstance(expr, list):
            for index, item in enumerate(expr):
                self.check(item, [*segments, f"[{index}]"])
        elif isinstance(expr, dict):
            self.check_operation(expr, segments)
        else:
            self.issue(segments, f"not a JSON value: {type(expr).__name__}")

    def check_operation(self, expr: dict[object, object], segments: list[str]) -> None:
        if len(expr) != 1:
            keys = ", ".join(repr(k) for k in expr) or "none"
            self.issue(segments, f"an operation object must have exactly one key (object literals are not "
                                 f"allowed), got keys: {keys}")
            return
        ((op, args),) = expr.items()
        if not isinstance(op, str) or op not in OPERATIONS:
            hint = _HINTS.get(op, "") if isinstance(op, str) else ""
            self.issue(segments, f"unknown operation {op!r}" + (f" ({hint})" if hint else ""))
            return
        if op == "var":
            if not isinstance(args, str):
                got = describe(args)
                self.issue(segments, f'"var" takes a string path (like "payload.v.0.dn"), got {got}; '
                                     "integer, array and default-value forms are not allowed")
            return
        if not isinstance(args, list):
            self.issue(segments, f"operands of {op!r} must be an array, got {describe(args)}")
            return
        low, high = ARITY[op]
        if len(args) < low or (high is not None and len(args) > high):
            wanted = str(low) if low == high else f"{low} or more" if high is None else f"{low} to {high}"
            self.issue(segments, f"{op!r} takes {wanted} operand(s), got {len(args)}")
            return
        literal_only = {"plusTime": (1, 2), "extractFromUVCI": (1,)}.get(op, ())
        for index, operand in enumerate(args):
            here = [*segments, f"{op}[{index}]"]
            if index not in literal_only:
                known = len(self.issues)
                self.check(operand, here)
                if not isinstance(operand, dict) and len(self.issues) == known:
                    self.check_literal_operand(op, index, operand, here)
        if op == "plusTime":
            self.check_plus_time(args, segments)
        elif op == "extractFromUVCI" and (isinstance(args[1], bool) or not isinstance(args[1], int)):
            self.issue([*segments, "extractFromUVCI[1]"],
                       f"the index of extractFromUVCI must be an integer literal, got {describe(args[1])}")

    def check_plus_time(self, args: list[object], segments: list[str]) -> None:
        amount, unit = args[1], args[2]
        if isinstance(amount, bool) or not isinstance(amount, int):
            self.issue([*segments, "plusTime[1]"], f"the amount of plusTime must be an integer literal, got "
                                                   f"{describe(amount)}")
        if unit not in TIME_UNITS:
            units = ", ".join(TIME_UNITS)
            self.issue([*segments, "plusTime[2]"], f"the unit of plusTime must be one of {units}, got "
                                                   f"{describe(unit)}")

    def check_literal_operand(self, op: str, index: int, operand: object, here: list[str]) -> None:
        """Literal operands whose evaluation is an error whatever the data context is."""
        problem: str | None = None
        if op in COMPARISONS or op == "+":
            if as_integer(operand) is None:
                problem = f"operands of {op!r} must be integers"
        elif op in DATE_COMPARISONS:
            problem = f"operands of {op!r} must be date-times, made with plusTime or dccDateOfBirth"
        elif op == "in" and index == 1 and not isinstance(operand, list):
            problem = "the second operand of 'in' must be an array"
        elif op == "reduce" and index == 0 and not isinstance(operand, list):
            problem = "the first operand of 'reduce' must be an array"
        elif op in {"plusTime", "dccDateOfBirth", "extractFromUVCI"} and index == 0:
            if not isinstance(operand, str):
                problem = f"the first operand of {op!r} must be a string"
            elif op != "extractFromUVCI":
                problem = _date_problem(op, operand)
        if problem is not None:
            self.issue(here, f"{problem}, got literal {describe(operand)}")


def _date_problem(op: str, text: str) -> str | None:
    try:
        (parse_dcc_date_of_birth if op == "dccDateOfBirth" else parse_date_time)(text)
    except CertLogicEvaluationError as exc:
        return exc.reason
    return None


def validation_issues(expr: object) -> list[ValidationIssue]:
    """Every structural problem of `expr` (empty when it is a valid CertLogic expression)."""
    validator = _Validator()
    validator.check(expr, [])
    return validator.issues


def validate_expression(expr: object) -> None:
    """Raise `CertLogicValidationError` (listing every issue) unless `expr` is valid CertLogic."""
    issues = validation_issues(expr)
    if issues:
        raise CertLogicValidationError(issues)
