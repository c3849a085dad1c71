"""The `dancu rules` CLI contract: one JSON object on stdout and exit 0, or exit 2 with a reason on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dancu.rules.cli import rules_app

runner = CliRunner()

MINOR = {
    "and": [
        {"var": "payload.dob"},
        {"after": [{"dccDateOfBirth": [{"var": "payload.dob"}]},
                   {"plusTime": [{"var": "external.validationClock"}, -18, "year"]}]},
    ]
}
DATA = {
    "payload": {"dob": "2010-05", "v": [{"dn": 2}]},
    "external": {"validationClock": "2024-01-01T00:00:00Z"},
}
DANCU_RULE = {
    "id": "venue.minor",
    "version": "1.0.0",
    "description": {"vi": "Chưa đủ 18 tuổi", "en": "Minor"},
    "valid_from": "2021-01-01T00:00:00+07:00",
    "valid_to": "2030-01-01T00:00:00+07:00",
    "certificate_type": "General",
    "logic": MINOR,
}
EU_RULE = {
    "Identifier": "VR-VN-0001", "Type": "Acceptance", "Country": "VN", "Version": "1.0.0",
    "SchemaVersion": "1.3.0", "Engine": "CERTLOGIC", "EngineVersion": "1.0.0",
    "CertificateType": "Vaccination",
    "Description": [{"lang": "en", "desc": "Dose number"}], "ValidFrom": "2021-01-01T00:00:00Z",
    "ValidTo": "2030-01-01T00:00:00Z", "AffectedFields": ["v.0.dn"], "Logic": {"var": "payload.v.0.dn"},
}


def write(tmp_path: Path, name: str, content: Any) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return str(path)


def run_ok(*args: str, stdin: str | None = None) -> dict[str, Any]:
    result = runner.invoke(rules_app, list(args), input=stdin, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.count("\n") == 1  # exactly one JSON object, on one line
    body = json.loads(result.stdout)
    assert isinstance(body, dict)
    return body


def run_fail(*args: str) -> str:
    result = runner.invoke(rules_app, list(args), catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stdout == ""
    return result.stderr


@pytest.mark.parametrize(("rule", "expected"), [(MINOR, True), (DANCU_RULE, True), (EU_RULE, 2)])
def test_eval_detects_the_rule_format_and_prints_the_value(tmp_path: Path, rule: Any, expected: Any) -> None:
    body = run_ok("eval", write(tmp_path, "rule.json", rule), write(tmp_path, "data.json", DATA))
    assert body == {"result": expected}


def test_eval_prints_falsy_values_as_they_are(tmp_path: Path) -> None:
    rule = write(tmp_path, "r.json", MINOR)
    adult = {**DATA, "payload": {"dob": "1990"}}
    assert run_ok("eval", rule, write(tmp_path, "d.json", adult)) == {"result": False}
    empty = {**DATA, "payload": {"dob": ""}}
    assert run_ok("eval", rule, write(tmp_path, "d.json", empty)) == {"result": ""}


def test_eval_renders_date_times_as_iso_strings(tmp_path: Path) -> None:
    expr = {"plusTime": [{"var": "external.validationClock"}, 7, "hour"]}
    body = run_ok("eval", write(tmp_path, "r.json", expr), write(tmp_path, "d.json", DATA))
    assert body == {"result": "2024-01-01T07:00:00.000Z"}


def test_a_runtime_certlogic_error_evaluates_to_false_with_the_reason(tmp_path: Path) -> None:
    data = {**DATA, "payload": {"dob": 2010}}
    body = run_ok("eval", write(tmp_path, "r.json", MINOR), write(tmp_path, "d.json", data))
    assert body["result"] is False
    assert "dccDateOfBirth must be a string, got number 2010" in body["error"]
    assert "$.and[1].after[0]" in body["error"]


def test_eval_reads_the_data_from_stdin(tmp_path: Path) -> None:
    body = run_ok("eval", write(tmp_path, "r.json", MINOR), "-", stdin=json.dumps(DATA))
    assert body == {"result": True}


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("{not json", "is not valid JSON"),
        ('{"and": [true, NaN]}', "NaN is not valid JSON"),
        ('{"and": [true, true], "and": [false, false]}', "duplicate key 'and'"),
        ({"!!": [{"var": "payload.dob"}]}, "unknown operation '!!'"),
        ({"plusTime": [{"var": "payload.dob"}, 1, "week"]}, "unit of plusTime"),
        (None, "null literals are not allowed"),
        ({**DANCU_RULE, "version": "one"}, "invalid rule field 'version'"),
        ({**DANCU_RULE, "logic": {"if": [1, 2]}}, "invalid rule field 'logic'"),
        ({**EU_RULE, "Engine": "OTHER"}, "invalid rule field 'Engine'"),
        ({key: value for key, value in EU_RULE.items() if key != "Logic"}, "invalid rule field 'Logic'"),
    ],
)
def test_a_malformed_rule_exits_2_with_the_reason(tmp_path: Path, rule: Any, reason: str) -> None:
    content = rule if isinstance(rule, str) else json.dumps(rule)
    stderr = run_fail("eval", write(tmp_path, "rule.json", content), write(tmp_path, "data.json", DATA))
    assert reason in stderr


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("[]", "must hold a JSON object"),
        ("{", "is not valid JSON"),
        ({"payload": {}}, "lacks the key(s): external"),
        ({"external": {}}, "lacks the key(s): payload"),
        ({**DATA, "extra": 1}, "unexpected key(s): extra"),
        ({"payload": {}, "external": "2024-01-01T00:00:00Z"}, '"external" must be a JSON object'),
    ],
)
def test_a_malformed_data_file_exits_2_with_the_reason(tmp_path: Path, data: Any, reason: str) -> None:
    content = data if isinstance(data, str) else json.dumps(data)
    stderr = run_fail("eval", write(tmp_path, "rule.json", MINOR), write(tmp_path, "data.json", content))
    assert reason in stderr


def test_missing_or_unreadable_files_exit_2(tmp_path: Path) -> None:
    data = write(tmp_path, "data.json", DATA)
    assert "cannot read rule file" in run_fail("eval", str(tmp_path / "absent.json"), data)
    assert "cannot read data file" in run_fail("eval", write(tmp_path, "r.json", MINOR), str(tmp_path))
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes(b'"caf\xe9"')
    assert "cannot read rule file" in run_fail("eval", str(latin1), data)


def test_missing_arguments_are_a_usage_error() -> None:
    result = runner.invoke(rules_app, ["eval"])
    assert result.exit_code == 2
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (MINOR, {"valid": True, "format": "expression"}),
        (DANCU_RULE, {"valid": True, "format": "dancu", "id": "venue.minor", "version": "1.0.0",
                      "certificate_type": "General"}),
        (EU_RULE, {"valid": True, "format": "eu", "id": "VR-VN-0001", "version": "1.0.0",
                   "certificate_type": "Vaccination"}),
    ],
)
def test_check_accepts_valid_rules(tmp_path: Path, rule: Any, expected: dict[str, Any]) -> None:
    assert run_ok("check", write(tmp_path, "rule.json", rule)) == expected


def test_check_rejects_invalid_rules(tmp_path: Path) -> None:
    stderr = run_fail("check", write(tmp_path, "rule.json", {"and": [True, {"var": 0}]}))
    assert '"var" takes a string path' in stderr
    assert "$.and[1]" in stderr
    assert "description.vi" in run_fail("check", write(tmp_path, "rule.json",
                                                       {**DANCU_RULE, "description": {"en": "x"}}))


def test_real_process_stdout_and_exit_codes(tmp_path: Path) -> None:
    code = "from dancu.rules.cli import rules_app; rules_app()"
    rule, data = write(tmp_path, "r.json", MINOR), write(tmp_path, "d.json", DATA)
    ok = subprocess.run([sys.executable, "-c", code, "eval", rule, data],
                        capture_output=True, text=True, timeout=60, check=False)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, '{"result": true}\n', "")
    bad = subprocess.run([sys.executable, "-c", code, "eval", data, data],
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert "invalid CertLogic expression" in bad.stderr
