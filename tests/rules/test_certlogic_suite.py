"""The official CertLogic test suite, every case and assertion, read in place from /work/shared."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dancu.rules import CertLogicEvaluationError, evaluate_logic, to_json, validation_issues

CERTLOGIC = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "certlogic"
SUITE_DIR = CERTLOGIC / "testSuite"


@dataclass(frozen=True)
class SuiteAssertion:
    file: str
    case: str
    case_index: int
    index: int
    expression: Any
    data: Any
    expected: Any
    skipped: bool  # the suite marks it `"directive": "skip"` (file, case or assertion level)

    @property
    def id(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.case.lower()).strip("-")[:48]
        return f"{self.file}/c{self.case_index:02d}-{slug}/a{self.index}"


def load_suite() -> list[SuiteAssertion]:
    found: list[SuiteAssertion] = []
    for path in sorted(SUITE_DIR.glob("*.json")):
        suite = json.loads(path.read_text(encoding="utf-8"))
        for case_index, case in enumerate(suite["cases"]):
            for index, assertion in enumerate(case["assertions"]):
                directives = {suite.get("directive"), case.get("directive"), assertion.get("directive")}
                found.append(SuiteAssertion(
                    file=path.stem,
                    case=case["name"],
                    case_index=case_index,
                    index=index,
                    expression=assertion.get("certLogicExpression", case.get("certLogicExpression")),
                    data=assertion["data"],
                    expected=assertion["expected"],
                    skipped="skip" in directives,
                ))
    return found


SUITE = load_suite()


def canonical(value: Any) -> str:
    """JSON text: tells `true` from `1` and `1` from `1.0`, unlike Python's `==`."""
    return json.dumps(value, sort_keys=True)


SUITE_SKIP = pytest.mark.skip(reason="the suite's directive: skip")


@pytest.mark.parametrize(
    "assertion", [pytest.param(a, id=a.id, marks=[SUITE_SKIP] if a.skipped else []) for a in SUITE]
)
def test_suite_assertion(assertion: SuiteAssertion) -> None:
    result = to_json(evaluate_logic(assertion.expression, assertion.data))
    assert canonical(result) == canonical(assertion.expected)


def test_the_whole_suite_is_loaded() -> None:
    assert SUITE_DIR.is_dir(), f"CertLogic test suite not found at {SUITE_DIR}"
    files = {path.stem for path in SUITE_DIR.glob("*.json")}
    assert len(files) >= 14
    assert {a.file for a in SUITE} == files  # every file contributes assertions
    assert len([a for a in SUITE if not a.skipped]) >= 218


def test_only_the_suites_own_skips_are_skipped() -> None:
    skipped = [a for a in SUITE if a.skipped]
    assert {a.file for a in skipped} == {"ins-with-nulls", "patched-reduce"}
    assert len(skipped) == 14


def test_every_suite_expression_passes_static_validation() -> None:
    for assertion in SUITE:
        assert validation_issues(assertion.expression) == [], assertion.id


def test_skipped_null_right_hand_side_of_in_is_an_error_as_the_spec_says() -> None:
    # The suite skips these (expecting false); the spec: "operating on a non-array <operand 2> is an error".
    null_rhs = [a for a in SUITE if a.skipped and a.file == "ins-with-nulls"]
    assert len(null_rhs) == 4
    for assertion in null_rhs:
        with pytest.raises(CertLogicEvaluationError, match="second operand of 'in' must be an array"):
            evaluate_logic(assertion.expression, assertion.data)


def test_reduce_lambda_does_not_see_the_outer_data_context() -> None:
    # The skipped "patched reduce" file assumes a `data` key in the lambda's context; the spec only "may" add
    # it and this engine does not, so `{"var": "data.z"}` is null inside the lambda.
    patched = next(a for a in SUITE if a.file == "patched-reduce" and a.data == {"x": [1, 2, 1, 1], "z": 1})
    assert patched.expected == 3
    assert evaluate_logic(patched.expression, patched.data) == 0
