"""Reading rule and data documents: strict JSON, and telling the three rule formats apart.

A rule document is one of:
  * an EU business rule (an object with any of `Identifier`, `Logic`, `Engine`, `CertificateType`);
  * a dancu rule (an object with any of `id`, `logic`, `certificate_type`);
  * otherwise, a bare CertLogic expression.
No CertLogic operation is named like those keys, so the detection cannot mistake a valid expression.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from dancu.rules.models import Rule
from dancu.rules.validation import validate_expression

EU_MARKERS = frozenset({"Identifier", "Logic", "Engine", "CertificateType"})
DANCU_MARKERS = frozenset({"id", "logic", "certificate_type"})
DATA_KEYS = frozenset({"payload", "external"})


class DocumentError(ValueError):
    """A file could not be read as the document it should be (the message says why)."""


class RuleSourceKind(StrEnum):
    EXPRESSION = "expression"
    DANCU = "dancu"
    EU = "eu"


@dataclass(frozen=True, slots=True)
class LoadedRule:
    kind: RuleSourceKind
    logic: Any
    rule: Rule | None = None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def parse_json(text: str, what: str) -> Any:
    """Strict JSON: no NaN/Infinity, no duplicate keys (which would silently drop an operation)."""
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:
        raise DocumentError(f"{what} is not valid JSON: {exc}") from None


def read_json_file(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(f"cannot read {what} {str(path)!r}: {exc}") from None
    return parse_json(text, f"{what} {str(path)!r}")


def load_rule_source(document: Any) -> LoadedRule:
    """Detect the format and parse it. Raises `RuleFormatError` (rules) or `CertLogicValidationError`."""
    if isinstance(document, dict) and EU_MARKERS & document.keys():
        rule = Rule.from_eu(document)
        return LoadedRule(RuleSourceKind.EU, rule.logic, rule)
    if isinstance(document, dict) and DANCU_MARKERS & document.keys():
        rule = Rule.from_dict(document)
        return LoadedRule(RuleSourceKind.DANCU, rule.logic, rule)
    validate_expression(document)
    return LoadedRule(RuleSourceKind.EXPRESSION, document)


def check_data_document(document: Any) -> dict[str, Any]:
    """`{"payload": ..., "external": {...}}` with exactly those keys; returns it as the data context."""
    if not isinstance(document, dict):
        raise DocumentError('the data file must hold a JSON object {"payload": ..., "external": {...}}')
    missing = sorted(DATA_KEYS - document.keys())
    if missing:
        raise DocumentError(f"the data file lacks the key(s): {', '.join(missing)}")
    unexpected = sorted(document.keys() - DATA_KEYS)
    if unexpected:
        raise DocumentError(f"the data file has unexpected key(s): {', '.join(unexpected)}")
    if not isinstance(document["external"], dict):
        raise DocumentError('"external" must be a JSON object (validationClock, valueSets, ...)')
    return {"payload": document["payload"], "external": document["external"]}
