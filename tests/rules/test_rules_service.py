"""Evaluating rule sets against DCC payloads: applicability, validity, versions, errors-to-false."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dancu.rules import (
    EvaluationInputError,
    Rule,
    RuleStatus,
    detect_certificate_type,
    evaluate,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"
CLOCK = "2021-12-01T10:00:00+07:00"
VACCINATION: dict[str, Any] = {
    "ver": "1.3.0",
    "dob": "1990-04-12",
    "nam": {"fn": "Nguyễn", "fnt": "NGUYEN", "gn": "An", "gnt": "AN"},
    "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215", "dn": 2,
           "sd": 2, "dt": "2021-08-20", "co": "VN", "is": "Bộ Y tế", "ci": "URN:UVCI:01:VN:ABC123#K"}],
}
TEST: dict[str, Any] = {
    "ver": "1.3.0",
    "dob": "1990",
    "t": [{"tg": "840539006", "tt": "LP6464-4", "sc": "2021-11-30T08:00:00Z", "tr": "260415000", "co": "VN",
           "is": "Bộ Y tế", "ci": "01:VN:T1"}],
}


def rule(
    rule_id: str = "R-1", *, logic: Any = True, certificate_type: str = "General", version: str = "1.0.0",
    valid_from: str = "2021-01-01T00:00:00Z", valid_to: str = "2031-01-01T00:00:00Z",
) -> Rule:
    return Rule.from_dict({
        "id": rule_id, "version": version, "certificate_type": certificate_type, "logic": logic,
        "description": {"vi": f"Quy tắc {rule_id}", "en": f"Rule {rule_id}"},
        "valid_from": valid_from, "valid_to": valid_to, "affected_fields": ["v.0.dn"],
    })


def external(**extra: Any) -> dict[str, Any]:
    return {"validationClock": CLOCK, **extra}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (VACCINATION, "Vaccination"),
        (TEST, "Test"),
        ({"r": [{"fr": "2021-10-01"}]}, "Recovery"),
        ({"dob": "1990"}, None),
        ({"v": [], "t": [{"tt": "x"}]}, "Test"),
        ({"v": [{"dn": 1}], "t": [{"tt": "x"}]}, None),
        ({"v": {"dn": 1}}, None),
    ],
)
def test_certificate_type_comes_from_the_single_entry_list(
    payload: dict[str, Any], expected: str | None
) -> None:
    assert detect_certificate_type(payload) == expected


def test_rules_apply_by_certificate_type_and_general_applies_to_all() -> None:
    rules = [rule("G", certificate_type="General"), rule("V", certificate_type="Vaccination"),
             rule("T", certificate_type="Test"), rule("R", certificate_type="Recovery")]
    report = evaluate(rules, VACCINATION, external())
    assert report.certificate_type == "Vaccination"
    assert [o.rule_id for o in report.passed] == ["G", "V"]
    assert [o.rule_id for o in report.not_applicable] == ["T", "R"]
    assert "applies to Test certificates, this one is Vaccination" in (report.not_applicable[0].reason or "")
    test_report = evaluate(rules, TEST, external())
    assert [o.rule_id for o in test_report.passed] == ["G", "T"]


def test_a_payload_of_no_single_type_only_gets_general_rules() -> None:
    report = evaluate([rule("G"), rule("V", certificate_type="Vaccination")], {"dob": "1990"}, external())
    assert report.certificate_type is None
    assert [o.rule_id for o in report.passed] == ["G"]
    assert [o.rule_id for o in report.not_applicable] == ["V"]


def test_only_rules_valid_at_the_validation_clock_are_evaluated() -> None:
    rules = [
        # the clock is 2021-12-01T03:00:00Z: valid_to is exclusive, valid_from inclusive
        rule("past", valid_from="2020-01-01T00:00:00Z", valid_to="2021-12-01T03:00:00Z"),
        rule("now", valid_from="2021-12-01T03:00:00Z"),
        rule("future", valid_from="2021-12-01T03:00:00.001Z"),
    ]
    report = evaluate(rules, VACCINATION, external())
    assert [o.rule_id for o in report.passed] == ["now"]
    assert [o.rule_id for o in report.not_applicable] == ["past", "future"]
    assert all("not valid at the validation clock" in (o.reason or "") for o in report.not_applicable)


def test_the_highest_valid_version_of_a_rule_wins() -> None:
    old = rule("R", version="1.2.0", logic=False)
    new = rule("R", version="1.10.0", logic=True)
    unreleased = rule("R", version="2.0.0", logic=False, valid_from="2022-01-01T00:00:00Z")
    report = evaluate([old, new, unreleased], VACCINATION, external())
    assert [(o.version, o.status) for o in report] == [
        ("1.2.0", RuleStatus.NOT_APPLICABLE),
        ("1.10.0", RuleStatus.PASSED),
        ("2.0.0", RuleStatus.NOT_APPLICABLE),
    ]
    assert report.outcomes[0].reason == "superseded by version 1.10.0 of R"


def test_logic_sees_payload_and_external_and_reports_descriptions() -> None:
    values = json.loads((SHARED / "dcc-valuesets" / "vaccine-medicinal-product.json").read_text("utf-8"))
    value_sets = {values["valueSetId"]: sorted(values["valueSetValues"])}
    approved = rule("V-1", certificate_type="Vaccination", logic={"and": [
        {"in": [{"var": "payload.v.0.mp"}, {"var": "external.valueSets.vaccines-covid-19-names"}]},
        {"not-before": [{"plusTime": [{"var": "external.validationClock"}, 0, "day"]},
                        {"plusTime": [{"var": "payload.v.0.dt"}, 14, "day"]}]},
        {">=": [{"var": "payload.v.0.dn"}, {"var": "payload.v.0.sd"}]},
    ]})
    report = evaluate([approved], VACCINATION, external(valueSets=value_sets))
    (outcome,) = report.passed
    assert outcome.result is True
    assert (outcome.description.vi, outcome.description.en) == ("Quy tắc V-1", "Rule V-1")
    assert outcome.affected_fields == ("v.0.dn",)
    unknown_vaccine = {**VACCINATION, "v": [{**VACCINATION["v"][0], "mp": "VN/unlisted"}]}
    rejected = evaluate([approved], unknown_vaccine, external(valueSets=value_sets))
    assert [o.rule_id for o in rejected.failed] == ["V-1"]
    assert rejected.failed[0].result is False and rejected.failed[0].reason is None


def test_errors_evaluate_to_false_and_are_reported_with_the_reason() -> None:
    recent_test = rule("T-1", certificate_type="Test", logic={
        "before": [{"plusTime": [{"var": "payload.t.0.sc"}, 0, "hour"]},
                   {"plusTime": [{"var": "external.validationClock"}, 0, "hour"]}],
    })
    broken = {**TEST, "t": [{**TEST["t"][0], "sc": None}]}
    (outcome,) = evaluate([recent_test], broken, external()).failed
    assert outcome.result is False
    assert outcome.reason is not None
    assert "plusTime must be a date(-time) string, got null" in outcome.reason
    assert "$.before[0]" in outcome.reason
    assert evaluate([recent_test], TEST, external()).failed == ()


def test_falsy_results_fail_without_reason_and_neither_values_fail_with_one() -> None:
    rules = [
        rule("empty", logic={"var": "payload.missing"}),
        rule("date", logic={"plusTime": ["2021", 0, "day"]}),
        rule("count", logic={"var": "payload.v.0.dn"}),
    ]
    report = evaluate(rules, VACCINATION, external())
    failed = {o.rule_id: o for o in report.failed}
    assert failed["empty"].result is None and failed["empty"].reason is None
    assert failed["date"].result == "2021-12-31T00:00:00.000Z"
    assert "neither truthy nor falsy" in (failed["date"].reason or "")
    assert [o.result for o in report.passed] == [2]


def test_report_serialises_to_json() -> None:
    report = evaluate([rule("G"), rule("T", certificate_type="Test")], VACCINATION, external())
    body = json.loads(json.dumps(report.to_dict()))
    assert body["certificate_type"] == "Vaccination"
    assert [(o["id"], o["status"]) for o in body["outcomes"]] == [("G", "passed"), ("T", "not_applicable")]
    assert body["outcomes"][0]["description"] == {"vi": "Quy tắc G", "en": "Rule G"}
    assert len(report) == 2


@pytest.mark.parametrize("clock", [None, 1638327600, "2021-12-01", "yesterday", "2021-12-01T10:00"])
def test_a_missing_or_unusable_validation_clock_is_an_input_error(clock: object) -> None:
    ext = {} if clock is None else {"validationClock": clock}
    with pytest.raises(EvaluationInputError) as caught:
        evaluate([rule()], VACCINATION, ext)
    assert caught.value.field == "external.validationClock"


def test_payload_and_external_must_be_objects() -> None:
    with pytest.raises(EvaluationInputError):
        evaluate([rule()], ["not", "a", "payload"], external())  # type: ignore[arg-type]
    with pytest.raises(EvaluationInputError):
        evaluate([rule()], VACCINATION, "2021-12-01T10:00:00Z")  # type: ignore[arg-type]
