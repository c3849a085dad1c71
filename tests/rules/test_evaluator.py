"""Evaluator semantics beyond the official suite: truthiness, strict types, errors and their paths."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dancu.rules import (
    CertLogicError,
    CertLogicEvaluationError,
    CertLogicValidationError,
    evaluate_logic,
    evaluate_rule_logic,
    is_falsy,
    is_truthy,
)
from dancu.rules.dates import parse_date_time
from dancu.rules.evaluator import _HANDLERS
from dancu.rules.validation import OPERATIONS

A_DATE = parse_date_time("2021-06-01")


@pytest.mark.parametrize(
    ("value", "truthy", "falsy"),
    [
        (True, True, False),
        (False, False, True),
        (None, False, True),
        ("", False, True),
        ("0", True, False),
        ("false", True, False),
        (0, False, True),
        (0.0, False, True),
        (1, True, False),
        (-7, True, False),
        (2.0, True, False),
        (1.5, False, False),
        ([], False, True),
        ([0], True, False),
        ({}, False, True),
        ({"a": None}, True, False),
        (A_DATE, False, False),
    ],
)
def test_truthy_and_falsy_are_disjoint_and_strict(value: object, truthy: bool, falsy: bool) -> None:
    assert (is_truthy(value), is_falsy(value)) == (truthy, falsy)


def test_not_and_and_refuse_values_that_are_neither() -> None:
    with pytest.raises(CertLogicEvaluationError, match="neither truthy nor falsy"):
        evaluate_logic({"!": [{"var": "x"}]}, {"x": 1.5})
    with pytest.raises(CertLogicEvaluationError, match="operand 1 of 'and' is neither"):
        evaluate_logic({"and": [True, {"plusTime": ["2021", 0, "day"]}]}, None)


def test_if_sends_a_neither_guard_to_else_as_the_spec_words_it() -> None:
    assert evaluate_logic({"if": [{"plusTime": ["2021", 0, "day"]}, "T", "F"]}, None) == "F"


def test_if_evaluates_only_the_chosen_branch() -> None:
    failing = {"plusTime": [{"var": "nope"}, 0, "day"]}
    assert evaluate_logic({"if": [True, "T", failing]}, {}) == "T"
    assert evaluate_logic({"if": [False, failing, "F"]}, {}) == "F"
    with pytest.raises(CertLogicEvaluationError):
        evaluate_logic({"if": [True, failing, "F"]}, {})


@pytest.mark.parametrize("op", ["<", ">", "<=", ">="])
@pytest.mark.parametrize("bad", [None, "1", True, 1.5, [1]])
def test_integer_comparisons_refuse_non_integers(op: str, bad: object) -> None:
    with pytest.raises(CertLogicEvaluationError, match="must be an integer"):
        evaluate_logic({op: [{"var": "x"}, 1]}, {"x": bad})


def test_integer_comparisons_accept_integral_floats_from_data() -> None:
    assert evaluate_logic({"<": [1, {"var": "x"}, 3]}, {"x": 2.0}) is True
    assert evaluate_logic({">=": [{"var": "x"}, 2]}, {"x": 2.0}) is True


@pytest.mark.parametrize("op", ["after", "before", "not-after", "not-before"])
def test_date_comparisons_need_date_times(op: str) -> None:
    with pytest.raises(CertLogicEvaluationError, match="must be a date-time"):
        evaluate_logic({op: [{"var": "d"}, {"plusTime": ["2021", 0, "day"]}]}, {"d": "2021-06-01"})
    with pytest.raises(CertLogicEvaluationError, match="must be a date-time"):
        evaluate_logic({op: [{"plusTime": ["2021", 0, "day"]}, {"var": "i"}]}, {"i": 3})


@pytest.mark.parametrize(
    ("op", "expected"),
    [("before", True), ("not-after", True), ("after", False), ("not-before", False)],
)
def test_ternary_date_comparison_is_between(op: str, expected: bool) -> None:
    days = [{"plusTime": ["2021-06-01", n, "day"]} for n in (0, 1, 2)]
    assert evaluate_logic({op: days}, None) is expected
    assert evaluate_logic({op: [days[0], days[2], days[1]]}, None) is False


def test_plus_is_integer_addition_only() -> None:
    assert evaluate_logic({"+": [{"var": "a"}, -5]}, {"a": 7}) == 2
    for bad in ("1", None, True, 0.5):
        with pytest.raises(CertLogicEvaluationError, match="must be integers"):
            evaluate_logic({"+": [{"var": "a"}, 1]}, {"a": bad})


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        (1, 1, True),
        (1, True, False),
        (0, False, False),
        (1, "1", False),
        (1, 1.0, True),
        (None, None, True),
        (None, "", False),
        ("a", "a", True),
        ([1, "a"], [1, "a"], True),
        ([1], [True], False),
        ({"a": 1}, {"a": 1}, True),
        ({"a": 1}, {"a": 1, "b": 2}, False),
    ],
)
def test_strict_equality_never_coerces(left: object, right: object, expected: bool) -> None:
    assert evaluate_logic({"===": [{"var": "l"}, {"var": "r"}]}, {"l": left, "r": right}) is expected


def test_equality_refuses_date_times() -> None:
    same = {"plusTime": ["2021", 0, "day"]}
    with pytest.raises(CertLogicEvaluationError, match="cannot compare date-times"):
        evaluate_logic({"===": [same, same]}, None)


def test_in_uses_strict_equality_and_needs_an_array() -> None:
    assert evaluate_logic({"in": [{"var": "x"}, [0, "1"]]}, {"x": 1}) is False
    assert evaluate_logic({"in": [{"var": "x"}, [True]]}, {"x": 1}) is False
    assert evaluate_logic({"in": [{"var": "x"}, {"var": "ys"}]}, {"x": "b", "ys": ["a", "b"]}) is True
    for not_an_array in (None, "abc", {"b": 1}, 3):
        with pytest.raises(CertLogicEvaluationError, match="must be an array"):
            evaluate_logic({"in": ["b", {"var": "ys"}]}, {"ys": not_an_array})


def test_reduce_folds_left_with_only_current_and_accumulator_in_scope() -> None:
    concat_count = {"+": [{"var": "accumulator"}, {"if": [{"var": "current.ok"}, 1, 0]}]}
    data = {"xs": [{"ok": True}, {"ok": False}, {"ok": "yes"}], "payload": "outer"}
    assert evaluate_logic({"reduce": [{"var": "xs"}, concat_count, 0]}, data) == 2
    sees_outer = {"reduce": [{"var": "xs"}, {"var": "payload"}, "init"]}
    assert evaluate_logic(sees_outer, data) is None
    assert evaluate_logic({"reduce": [{"var": "missing"}, concat_count, 42]}, data) == 42
    with pytest.raises(CertLogicEvaluationError, match="first operand of 'reduce' must be an array"):
        evaluate_logic({"reduce": [{"var": "payload"}, concat_count, 0]}, data)


@pytest.mark.parametrize(
    ("path", "data", "expected"),
    [
        ("a.1", {"a": ["x", "y"]}, "y"),
        ("a.2", {"a": ["x", "y"]}, None),
        ("a.-1", {"a": ["x", "y"]}, None),
        ("a.b", {"a": ["x", "y"]}, None),
        ("a.1", {"a": {"1": "one"}}, "one"),
        ("a.0", {"a": "text"}, None),
        ("a.b", {"a": 5}, None),
        ("a..b", {"a": {"": {"b": 1}}}, 1),
    ],
)
def test_var_drills_and_returns_null_for_anything_missing(path: str, data: object, expected: object) -> None:
    assert evaluate_logic({"var": path}, data) == expected


@pytest.mark.parametrize(
    ("uvci", "index", "expected"),
    [
        ("URN:UVCI:01:VN:ABC123#X", 0, "01"),
        ("URN:UVCI:01:VN:ABC123#X", 1, "VN"),
        ("URN:UVCI:01:VN:ABC123#X", 3, "X"),
        ("URN/UVCI/01", 0, "01"),
        ("urn:uvci:01", 0, "urn"),
        ("01:VN", 9, None),
    ],
)
def test_extract_from_uvci(uvci: str, index: int, expected: str | None) -> None:
    assert evaluate_logic({"extractFromUVCI": [{"var": ""}, index]}, uvci) == expected


def test_extract_from_uvci_refuses_non_strings() -> None:
    with pytest.raises(CertLogicEvaluationError, match="must be a string or null"):
        evaluate_logic({"extractFromUVCI": [{"var": ""}, 0]}, 12345)


def test_runtime_errors_point_at_the_failing_sub_expression() -> None:
    after = {"after": [{"plusTime": [{"var": "x"}, 0, "day"]}, {"plusTime": ["2021", 0, "day"]}]}
    expr = {"and": [True, after]}
    with pytest.raises(CertLogicEvaluationError) as caught:
        evaluate_logic(expr, {"x": 5})
    assert caught.value.path == "$.and[1].after[0]"
    assert "(at $.and[1].after[0])" in str(caught.value)


def test_malformed_expressions_are_rejected_before_anything_is_evaluated() -> None:
    # `and` would short-circuit on `false`; the unknown operation is still reported.
    with pytest.raises(CertLogicValidationError, match="unknown operation 'nope'"):
        evaluate_logic({"and": [False, {"nope": []}]}, {})


def test_evaluation_does_not_modify_the_data() -> None:
    data: dict[str, Any] = {"xs": [1, 2, 3], "o": {"k": [1]}}
    before = copy.deepcopy(data)
    evaluate_logic({"reduce": [{"var": "xs"}, {"+": [{"var": "current"}, {"var": "accumulator"}]}, 0]}, data)
    evaluate_logic([{"var": "o"}, {"var": ""}], data)
    assert data == before


def test_every_operation_has_a_handler() -> None:
    assert set(_HANDLERS) | {"var"} == OPERATIONS


def test_rule_logic_maps_errors_to_false_and_keeps_the_reason() -> None:
    failed = evaluate_rule_logic({"plusTime": [{"var": "payload.dob"}, 0, "day"]}, {"payload": {}})
    assert (failed.value, failed.passed) == (False, False)
    assert failed.error is not None and "plusTime must be a date" in failed.error
    malformed = evaluate_rule_logic({"!!": [True]}, {})
    assert (malformed.value, malformed.passed) == (False, False)
    assert malformed.error is not None and "unknown operation '!!'" in malformed.error


@pytest.mark.parametrize(
    ("expr", "value", "passed"),
    [
        (True, True, True), ("x", "x", True), (3, 3, True),
        ("", "", False), (0, 0, False), (False, False, False), ([], [], False),
    ],
)
def test_rule_logic_passes_on_truthy_values(expr: object, value: object, passed: bool) -> None:
    result = evaluate_rule_logic(expr, {})
    assert (result.value, result.passed, result.error) == (value, passed, None)


def test_errors_share_one_base_class() -> None:
    assert issubclass(CertLogicValidationError, CertLogicError)
    assert issubclass(CertLogicEvaluationError, CertLogicError)
