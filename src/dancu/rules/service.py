"""Evaluate a set of rules against one DCC payload, the way EU verifiers do.

Per rule id, the highest version valid at `external["validationClock"]` is selected (older valid versions are
"superseded"); it is evaluated when its certificate type is "General" or matches the payload's type
(`v`/`t`/`r` -> Vaccination/Test/Recovery). The logic sees `{"payload": payload, "external": external}`.
A rule passes when its logic evaluates to a truthy value; CertLogic errors evaluate to false and are reported
as failures with the error as the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from dancu.core.errors import ValidationFailed
from dancu.rules.dates import parse_instant
from dancu.rules.errors import CertLogicError
from dancu.rules.evaluator import evaluate_rule_logic
from dancu.rules.models import CertificateType, LocalizedText, Rule
from dancu.rules.values import describe, is_falsy, to_json

_TYPE_KEYS: tuple[tuple[str, CertificateType], ...] = (("v", "Vaccination"), ("t", "Test"), ("r", "Recovery"))


class EvaluationInputError(ValidationFailed):
    """The payload or `external` cannot be evaluated against (e.g. no usable `validationClock`)."""

    code = "invalid_rule_input"


class RuleStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """What happened to one rule. `result` is the value the logic evaluated to (JSON-ready; `False` after an
    error, None when not evaluated); `reason` explains failures with errors and non-applicability."""

    rule_id: str
    version: str
    certificate_type: CertificateType
    status: RuleStatus
    description: LocalizedText
    affected_fields: tuple[str, ...] = ()
    result: Any = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.rule_id,
            "version": self.version,
            "certificate_type": self.certificate_type,
            "status": self.status.value,
            "description": {"vi": self.description.vi, "en": self.description.en},
            "affected_fields": list(self.affected_fields),
            "result": self.result,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """All outcomes, in the order the rules were given, plus the views `passed`/`failed`/`not_applicable`.

    `certificate_type` is None when the payload holds no single `v`/`t`/`r` entry list; then only General
    rules were evaluated, so callers deciding admission must check it (and that something was evaluated).
    """

    validation_clock: datetime
    certificate_type: CertificateType | None
    outcomes: tuple[RuleOutcome, ...] = field(default_factory=tuple)

    def _with(self, status: RuleStatus) -> tuple[RuleOutcome, ...]:
        return tuple(outcome for outcome in self.outcomes if outcome.status is status)

    @property
    def passed(self) -> tuple[RuleOutcome, ...]:
        return self._with(RuleStatus.PASSED)

    @property
    def failed(self) -> tuple[RuleOutcome, ...]:
        return self._with(RuleStatus.FAILED)

    @property
    def not_applicable(self) -> tuple[RuleOutcome, ...]:
        return self._with(RuleStatus.NOT_APPLICABLE)

    def __iter__(self) -> Iterator[RuleOutcome]:
        return iter(self.outcomes)

    def __len__(self) -> int:
        return len(self.outcomes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "validation_clock": self.validation_clock.isoformat(),
            "certificate_type": self.certificate_type,
            "outcomes": [outcome.to_dict() for outcome in self.outcomes],
        }


def detect_certificate_type(payload: Mapping[str, Any]) -> CertificateType | None:
    """Vaccination/Test/Recovery from the one non-empty `v`/`t`/`r` array; None unless exactly one."""
    found = [kind for key, kind in _TYPE_KEYS if isinstance(payload.get(key), list) and payload[key]]
    return found[0] if len(found) == 1 else None


def validation_clock_of(external: Mapping[str, Any]) -> datetime:
    clock = external.get("validationClock")
    if not isinstance(clock, str):
        raise EvaluationInputError("external.validationClock must be a date-time string",
                                   field="external.validationClock")
    try:
        return parse_instant(clock).instant
    except CertLogicError as exc:
        raise EvaluationInputError(exc.reason, field="external.validationClock") from None


def _outcome(rule: Rule, status: RuleStatus, *, result: Any = None, reason: str | None = None) -> RuleOutcome:
    return RuleOutcome(rule_id=rule.id, version=rule.version, certificate_type=rule.certificate_type,
                       status=status, description=rule.description,
                       affected_fields=tuple(rule.affected_fields), result=result, reason=reason)


def _selected_versions(rules: list[Rule], clock: datetime) -> dict[str, Rule]:
    """Per id, the highest version valid at `clock` (the first one given wins a tie)."""
    selected: dict[str, Rule] = {}
    for rule in rules:
        if rule.is_valid_at(clock):
            best = selected.get(rule.id)
            if best is None or rule.version_key > best.version_key:
                selected[rule.id] = rule
    return selected


def _run(rule: Rule, data: Mapping[str, Any]) -> RuleOutcome:
    logic_result = evaluate_rule_logic(rule.logic, data)
    value = to_json(logic_result.value)
    if logic_result.error is not None:
        return _outcome(rule, RuleStatus.FAILED, result=value, reason=logic_result.error)
    if logic_result.passed:
        return _outcome(rule, RuleStatus.PASSED, result=value)
    reason = None if is_falsy(logic_result.value) else (
        f"the logic evaluated to {describe(logic_result.value)}, which is neither truthy nor falsy"
    )
    return _outcome(rule, RuleStatus.FAILED, result=value, reason=reason)


def _decide(rule: Rule, chosen: Rule | None, clock: datetime, certificate_type: CertificateType | None,
            data: Mapping[str, Any]) -> RuleOutcome:
    if not rule.is_valid_at(clock):
        return _outcome(rule, RuleStatus.NOT_APPLICABLE, reason=(
            f"not valid at the validation clock {clock.isoformat()} (valid from "
            f"{rule.valid_from.isoformat()} until {rule.valid_to.isoformat()})"))
    if chosen is not rule:
        version = chosen.version if chosen is not None else "?"
        reason = f"superseded by version {version} of {rule.id}"
        return _outcome(rule, RuleStatus.NOT_APPLICABLE, reason=reason)
    if not rule.applies_to(certificate_type):
        return _outcome(rule, RuleStatus.NOT_APPLICABLE, reason=(
            f"applies to {rule.certificate_type} certificates, this one is "
            f"{certificate_type or 'of no single type'}"))
    return _run(rule, data)


def evaluate(
    rules: Iterable[Rule], payload: Mapping[str, Any], external: Mapping[str, Any]
) -> EvaluationReport:
    """Evaluate every applicable rule against `payload`; see the module docstring for the semantics."""
    if not isinstance(payload, Mapping):
        raise EvaluationInputError("the payload must be a JSON object", field="payload")
    if not isinstance(external, Mapping):
        raise EvaluationInputError("external must be a JSON object", field="external")
    clock = validation_clock_of(external)
    certificate_type = detect_certificate_type(payload)
    rule_list = list(rules)
    selected = _selected_versions(rule_list, clock)
    data = {"payload": dict(payload), "external": dict(external)}
    outcomes = tuple(
        _decide(rule, selected.get(rule.id), clock, certificate_type, data) for rule in rule_list
    )
    return EvaluationReport(validation_clock=clock, certificate_type=certificate_type, outcomes=outcomes)
