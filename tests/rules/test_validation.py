"""Static validation of CertLogic expressions: what is rejected, with which reason, and where."""

from __future__ import annotations

from typing import Any

import pytest

from dancu.rules import CertLogicValidationError, validate_expression, validation_issues

VALID = [
    True,
    0,
    "text",
    [],
    [1, "a", [True]],
    {"var": ""},
    {"var": "payload.v.0.dn"},
    {"if": [{"var": "x"}, 1, 2]},
    {"and": [True, False, 1]},
    {"<": [1, 2, 3]},
    {"not-before": [{"plusTime": ["2021-06-01T00:00:00+07:00", -3, "month"]}, {"dccDateOfBirth": ["2004"]}]},
    {"in": ["a", {"var": "external.valueSets.x"}]},
    {"reduce": [{"var": "xs"}, {"+": [{"var": "accumulator"}, 1]}, 0]},
    {"extractFromUVCI": [{"var": "payload.v.0.ci"}, -1]},
    {"!": [{"===": [{"var": "a"}, "b"]}]},
]


@pytest.mark.parametrize("expr", VALID)
def test_valid_expressions_have_no_issues(expr: object) -> None:
    assert validation_issues(expr) == []
    validate_expression(expr)


@pytest.mark.parametrize(
    ("expr", "path", "reason"),
    [
        (None, "$", "null literals are not allowed"),
        (1.5, "$", "number literals must be integers"),
        ({}, "$", "exactly one key"),
        ({"var": "a", "if": [1, 2, 3]}, "$", "exactly one key"),
        ({"nope": [1]}, "$", "unknown operation 'nope'"),
        ({"!!": [1]}, "$", 'use {"!": [{"!": [x]}]}'),
        ({"or": [1, 2]}, "$", "unknown operation 'or'"),
        ({"==": [1, 1]}, "$", 'use "==="'),
        ({"var": ["a", 0]}, "$", '"var" takes a string path'),
        ({"var": 1}, "$", '"var" takes a string path'),
        ({"and": True}, "$", "operands of 'and' must be an array"),
        ({"if": [1, 2]}, "$", "'if' takes 3 operand(s), got 2"),
        ({"===": [1, 2, 3]}, "$", "'===' takes 2 operand(s), got 3"),
        ({"and": [True]}, "$", "'and' takes 2 or more operand(s), got 1"),
        ({"<": [1, 2, 3, 4]}, "$", "'<' takes 2 to 3 operand(s), got 4"),
        ({"!": [1, 2]}, "$", "'!' takes 1 operand(s)"),
        ({"plusTime": ["2021", "1", "day"]}, "$.plusTime[1]", "amount of plusTime must be an integer"),
        ({"plusTime": ["2021", True, "day"]}, "$.plusTime[1]", "amount of plusTime must be an integer"),
        ({"plusTime": ["2021", {"var": "n"}, "day"]}, "$.plusTime[1]", "integer literal"),
        ({"plusTime": ["2021", 1, "week"]}, "$.plusTime[2]", "unit of plusTime must be one of"),
        ({"plusTime": ["2021-02-30", 1, "day"]}, "$.plusTime[0]", "invalid date"),
        ({"plusTime": [20210601, 1, "day"]}, "$.plusTime[0]", "first operand of 'plusTime' must be a string"),
        ({"dccDateOfBirth": ["2004-01-01T00:00:00Z"]}, "$.dccDateOfBirth[0]", "expected YYYY, YYYY-MM"),
        ({"extractFromUVCI": [{"var": "ci"}, {"var": "i"}]}, "$.extractFromUVCI[1]", "integer literal"),
        ({"extractFromUVCI": [3, 0]}, "$.extractFromUVCI[0]", "must be a string"),
        ({"in": ["a", "abc"]}, "$.in[1]", "second operand of 'in' must be an array"),
        ({"reduce": ["abc", 1, 0]}, "$.reduce[0]", "first operand of 'reduce' must be an array"),
        ({"after": ["2021-01-01", {"plusTime": ["2021", 0, "day"]}]}, "$.after[0]", "must be date-times"),
        ({"<": [1, "2"]}, "$.<[1]", "operands of '<' must be integers"),
        ({"+": [True, 1]}, "$.+[0]", "operands of '+' must be integers"),
        ({"and": [True, {"if": [1, 2, {"var": None}]}]}, "$.and[1].if[2]", '"var" takes a string path'),
        ([1, [2, None]], "$[1][1]", "null literals are not allowed"),
    ],
)
def test_malformed_expressions_are_rejected_with_path_and_reason(
    expr: object, path: str, reason: str
) -> None:
    issues = validation_issues(expr)
    assert issues, "expected at least one issue"
    assert issues[0].path == path
    assert reason in issues[0].message
    with pytest.raises(CertLogicValidationError) as caught:
        validate_expression(expr)
    assert caught.value.issues == issues


def test_all_issues_are_collected() -> None:
    expr: dict[str, Any] = {"and": [None, {"nope": []}, {"plusTime": ["x", 1.5, "week"]}]}
    paths = ["$.and[0]", "$.and[1]", "$.and[2].plusTime[0]", "$.and[2].plusTime[1]", "$.and[2].plusTime[2]"]
    assert [issue.path for issue in validation_issues(expr)] == paths
    with pytest.raises(CertLogicValidationError) as caught:
        validate_expression(expr)
    assert caught.value.reason == "null literals are not allowed (+4 more issue(s))"
    assert caught.value.path == "$.and[0]"
    assert all(f"(at {path})" in str(caught.value) for path in paths)


def test_excessive_nesting_is_rejected() -> None:
    expr: object = True
    for _ in range(150):
        expr = {"!": [expr]}
    issues = validation_issues(expr)
    assert len(issues) == 1 and "nested deeper than" in issues[0].message
