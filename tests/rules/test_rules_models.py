"""Rules as data: the dancu `Rule` model and the EU business-rule envelope import."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from dancu.core.errors import ValidationFailed
from dancu.rules import Rule, RuleFormatError

MINOR_LOGIC = {
    "and": [
        {"var": "payload.dob"},
        {"after": [{"dccDateOfBirth": [{"var": "payload.dob"}]},
                   {"plusTime": [{"var": "external.validationClock"}, -18, "year"]}]},
    ]
}


def eu_envelope(**overrides: Any) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "Identifier": "GR-VN-0001",
        "Type": "Acceptance",
        "Country": "VN",
        "Version": "1.2.0",
        "SchemaVersion": "1.3.0",
        "Engine": "CERTLOGIC",
        "EngineVersion": "1.0.0",
        "CertificateType": "General",
        "Description": [
            {"lang": "en", "desc": "The holder is a minor."},
            {"lang": "vi", "desc": "Người giữ chứng nhận chưa đủ 18 tuổi."},
        ],
        "ValidFrom": "2021-07-01T00:00:00Z",
        "ValidTo": "2030-01-01T00:00:00+07:00",
        "AffectedFields": ["dob"],
        "Logic": MINOR_LOGIC,
    }
    envelope.update(overrides)
    return envelope


def dancu_rule(**overrides: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": "venue.level-3.minor",
        "version": "1.0.0",
        "description": {"vi": "Chưa đủ 18 tuổi", "en": "Minor"},
        "valid_from": "2021-07-01T00:00:00+07:00",
        "valid_to": "2030-01-01T00:00:00Z",
        "certificate_type": "Vaccination",
        "logic": MINOR_LOGIC,
    }
    rule.update(overrides)
    return rule


def test_eu_envelope_maps_onto_the_rule_model() -> None:
    rule = Rule.from_eu(eu_envelope())
    assert rule.id == "GR-VN-0001"
    assert rule.version == "1.2.0"
    assert rule.description.en == "The holder is a minor."
    assert rule.description.vi == "Người giữ chứng nhận chưa đủ 18 tuổi."
    assert rule.valid_from == datetime(2021, 7, 1, tzinfo=UTC)
    assert rule.valid_to == datetime(2030, 1, 1, tzinfo=timezone(timedelta(hours=7)))
    assert rule.certificate_type == "General"
    assert rule.affected_fields == ["dob"]
    assert rule.logic == MINOR_LOGIC


def test_eu_description_falls_back_to_english_and_reads_region_tags() -> None:
    english_only = Rule.from_eu(eu_envelope(Description=[{"lang": "de", "desc": "Minderjährig"},
                                                         {"lang": "en", "desc": "Minor"}]))
    assert (english_only.description.vi, english_only.description.en) == ("Minor", "Minor")
    tagged = Rule.from_eu(eu_envelope(Description=[{"lang": "en-GB", "desc": "Minor"},
                                                   {"lang": "vi-VN", "desc": "Trẻ vị thành niên"}]))
    assert (tagged.description.vi, tagged.description.en) == ("Trẻ vị thành niên", "Minor")


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"Description": [{"lang": "vi", "desc": "chỉ có tiếng Việt"}]}, "Description", "English"),
        ({"Description": []}, "Description", "at least 1 item"),
        ({"Description": [{"lang": "en"}]}, "Description.0.desc", "Field required"),
        ({"Logic": {"!!": [True]}}, "Logic", "unknown operation '!!'"),
        ({"Logic": {"plusTime": ["2021", 1, "week"]}}, "Logic", "unit of plusTime"),
        ({"Engine": "JSONLOGIC"}, "Engine", "CERTLOGIC"),
        ({"CertificateType": "Passport"}, "CertificateType", "General"),
        ({"Type": "Other"}, "Type", "Acceptance"),
        ({"Identifier": "rule one"}, "Identifier", "pattern"),
        ({"Country": "vn"}, "Country", "pattern"),
        ({"Version": "1.0"}, "Version", "pattern"),
        ({"ValidFrom": "2021-07-01T00:00:00"}, "ValidFrom", "timezone"),
        ({"ValidFrom": 1625097600}, "ValidFrom", "date-time string"),
        ({"ValidTo": "2021-06-30T00:00:00Z"}, "ValidTo", "later than valid_from"),
        ({"AffectedFields": "dob"}, "AffectedFields", "valid list"),
        ({"Extra": 1}, "Extra", "Extra inputs are not permitted"),
    ],
)
def test_eu_envelope_errors_name_the_eu_field(overrides: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(RuleFormatError) as caught:
        Rule.from_eu(eu_envelope(**overrides))
    assert caught.value.field == field
    assert reason in caught.value.reason
    assert isinstance(caught.value, ValidationFailed)


@pytest.mark.parametrize("missing", ["Logic", "Identifier", "ValidTo", "Description"])
def test_eu_envelope_missing_fields_are_named(missing: str) -> None:
    envelope = eu_envelope()
    del envelope[missing]
    with pytest.raises(RuleFormatError) as caught:
        Rule.from_eu(envelope)
    assert caught.value.field == missing


def test_a_non_object_envelope_is_a_format_error() -> None:
    with pytest.raises(RuleFormatError):
        Rule.from_eu(["not", "an", "object"])  # type: ignore[arg-type]


def test_dancu_rule_parses_and_round_trips_through_json() -> None:
    rule = Rule.from_dict(dancu_rule(affected_fields=["dob"]))
    assert rule.valid_from == datetime(2021, 6, 30, 17, tzinfo=UTC)
    again = Rule.from_dict(json.loads(rule.model_dump_json()))
    assert again == rule


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"description": {"en": "Minor"}}, "description.vi"),
        ({"description": {"vi": "", "en": "Minor"}}, "description.vi"),
        ({"version": "v1"}, "version"),
        ({"id": ""}, "id"),
        ({"certificate_type": "vaccination"}, "certificate_type"),
        ({"valid_from": "2021-07-01"}, "valid_from"),
        ({"valid_to": "2020-01-01T00:00:00Z"}, "valid_to"),
        ({"logic": None}, "logic"),
        ({"logic": {"var": "a", "if": [1, 2, 3]}}, "logic"),
        ({"affected_fields": [1]}, "affected_fields.0"),
        ({"Logic": True}, "Logic"),
    ],
)
def test_dancu_rule_errors_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(RuleFormatError) as caught:
        Rule.from_dict(dancu_rule(**overrides))
    assert caught.value.field == field


def test_validity_window_is_half_open() -> None:
    rule = Rule.from_dict(dancu_rule())
    assert not rule.is_valid_at(rule.valid_from - timedelta(milliseconds=1))
    assert rule.is_valid_at(rule.valid_from)
    assert rule.is_valid_at(rule.valid_to - timedelta(milliseconds=1))
    assert not rule.is_valid_at(rule.valid_to)


def test_applicability_by_certificate_type() -> None:
    vaccination = Rule.from_dict(dancu_rule(certificate_type="Vaccination"))
    general = Rule.from_dict(dancu_rule(certificate_type="General"))
    assert vaccination.applies_to("Vaccination")
    assert not vaccination.applies_to("Test")
    assert not vaccination.applies_to(None)
    assert all(general.applies_to(kind) for kind in ("Vaccination", "Test", "Recovery", None))
