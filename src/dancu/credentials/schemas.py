"""Validation of a DCC payload against the shipped schema (v1.3.3) and the EU value sets.

The JSON-schema library takes ~230 µs per certificate, as long as the signature check itself. So a
certificate first goes through `has_common_shape`, a hand-written check of the schema's common shape that is
stricter than the schema (anything unusual, such as an extra property, falls through); only what it does
not accept is judged by the real schema, which also writes the error message. The verdict is therefore
always the schema's. A property-based test keeps the fast path sound.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

import cbor2
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator

from dancu.credentials.results import CertType

SCHEMA_FILE = "DCC.combined-schema.json"
VALUE_SET_FILES = {
    "disease-agent-targeted": "disease-agent-targeted.json",
    "vaccine-prophylaxis": "vaccine-prophylaxis.json",
    "vaccine-medicinal-product": "vaccine-medicinal-product.json",
    "vaccine-mah-manf": "vaccine-mah-manf.json",
    "country-2-codes": "country-2-codes.json",
    "test-type": "test-type.json",
    "test-result": "test-result.json",
    "test-manf": "test-manf-example.json",
}
# (group, field) -> value set. Not checked: a test's device (`t/ma`): the shipped device list is only the
# EU's example, and real device ids (such as "532" in the official schema examples) are missing from it.
# An empty value ("" is what some issuers write for "not applicable") is left to the schema and the rules.
VALUE_SET_FIELDS: dict[tuple[str, str], str] = {
    ("v", "tg"): "disease-agent-targeted",
    ("v", "vp"): "vaccine-prophylaxis",
    ("v", "mp"): "vaccine-medicinal-product",
    ("v", "ma"): "vaccine-mah-manf",
    ("v", "co"): "country-2-codes",
    ("t", "tg"): "disease-agent-targeted",
    ("t", "tt"): "test-type",
    ("t", "tr"): "test-result",
    ("t", "co"): "country-2-codes",
    ("r", "tg"): "disease-agent-targeted",
    ("r", "co"): "country-2-codes",
}
# Besides ISO 3166 codes, the schema's own examples use "UNHCR" as the country of vaccination or test.
EXTRA_VALUES: dict[str, frozenset[str]] = {"country-2-codes": frozenset({"UNHCR"})}

_RESOURCES = resources.files("dancu.credentials") / "resources"


@cache
def dcc_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((_RESOURCES / SCHEMA_FILE).read_text("utf-8"))
    return loaded


@cache
def value_set(name: str) -> frozenset[str]:
    data = json.loads((_RESOURCES / "valuesets" / VALUE_SET_FILES[name]).read_text("utf-8"))
    return frozenset(data["valueSetValues"]) | EXTRA_VALUES.get(name, frozenset())


@cache
def _validator() -> Validator:
    validator: Validator = Draft202012Validator(dcc_schema())
    return validator


@cache
def _value_set_checks() -> dict[str, list[tuple[str, str, frozenset[str]]]]:
    """Per entry group: (field, value-set name, allowed values)."""
    checks: dict[str, list[tuple[str, str, frozenset[str]]]] = {"v": [], "t": [], "r": []}
    for (group, key), set_name in VALUE_SET_FIELDS.items():
        checks[group].append((key, set_name, value_set(set_name)))
    return checks


def cert_type_of(dcc: dict[str, Any]) -> CertType | None:
    """ "v", "t" or "r" when exactly one entry group is present (and non-empty), else None."""
    groups = [key for key in ("v", "t", "r") if dcc.get(key)]
    if len(groups) != 1:
        return None
    group = groups[0]
    return "v" if group == "v" else "t" if group == "t" else "r"


def validate_dcc(dcc: Any, *, issued_at: datetime | None = None, shape_checked: bool = False) -> str | None:
    """None when valid; otherwise the reason, for a person to read. `shape_checked`: the caller already
    found `has_common_shape(dcc)` true."""
    if not (shape_checked or has_common_shape(dcc) or _validator().is_valid(dcc)):
        error = best_match(_validator().iter_errors(dcc))
        where = "/".join(str(p) for p in error.absolute_path) if error is not None else ""
        message = error.message if error is not None else "does not match the schema"
        return f"{where or 'payload'}: {message[:200]}"
    checks = _value_set_checks()
    for group in ("v", "t", "r"):
        for entry in dcc.get(group) or ():
            for key, set_name, allowed in checks[group]:
                value = entry.get(key)
                if value and value not in allowed:
                    return f"{group}/0/{key}: {str(value)[:40]!r} is not in the value set {set_name}"
    dob = dcc.get("dob")
    if issued_at is not None and isinstance(dob, str) and dob and dob > issued_at.date().isoformat()[: len(dob)]:
        return f"dob: {dob} is after the certificate was issued"
    return None


_VER = re.compile(r"^\d+.\d+.\d+\Z")
_DOB = re.compile(r"^((19|20)\d\d(-\d\d){0,2}){0,1}\Z")
_TRANSLITERATED = re.compile(r"^[A-Z<]*\Z")
_COUNTRY = re.compile(r"[A-Z]{1,10}")
_NAME_KEYS = frozenset({"fn", "fnt", "gn", "gnt"})
_ENTRY_KEYS: dict[str, tuple[frozenset[str], frozenset[str]]] = {  # required, optional
    "v": (frozenset({"tg", "vp", "mp", "ma", "dn", "sd", "dt", "co", "is", "ci"}), frozenset()),
    "t": (frozenset({"tg", "tt", "sc", "tr", "co", "is", "ci"}), frozenset({"nm", "ma", "tc"})),
    "r": (frozenset({"tg", "fr", "co", "is", "df", "du", "ci"}), frozenset()),
}
_LIMITED = frozenset({"is", "ci", "nm", "tc"})  # maxLength 80


def has_common_shape(dcc: Any) -> bool:
    """A strict subset of the schema: True only for documents the schema certainly accepts. Such a
    document holds only dicts, lists, str and int, so it is JSON data as decoded from CBOR."""
    if type(dcc) is not dict or not dcc.keys() <= {"ver", "nam", "dob", "v", "t", "r"}:
        return False
    groups = [key for key in ("v", "t", "r") if key in dcc]
    ver, nam, dob = dcc.get("ver"), dcc.get("nam"), dcc.get("dob")
    if len(groups) != 1 or type(ver) is not str or type(dob) is not str or type(nam) is not dict:
        return False
    if not (_VER.match(ver) and _DOB.match(dob) and nam.keys() <= _NAME_KEYS and ("fnt" in nam or "gnt" in nam)):
        return False
    for key, value in nam.items():
        if type(value) is not str or len(value) > 80:
            return False
        if key in ("fnt", "gnt") and not _TRANSLITERATED.match(value):
            return False
    entries = dcc[groups[0]]
    if type(entries) is not list or len(entries) != 1 or type(entries[0]) is not dict:
        return False
    entry: dict[str, Any] = entries[0]
    required, optional = _ENTRY_KEYS[groups[0]]
    if not required <= entry.keys() <= required | optional:
        return False
    for key, value in entry.items():
        if key in ("dn", "sd"):
            if type(value) is not int or value < 1:
                return False
        elif type(value) is not str or (key in _LIMITED and len(value) > 80):
            return False
    return _COUNTRY.search(entry["co"]) is not None


_SCALARS = frozenset({str, int, float, bool, type(None)})


def to_jsonable(value: Any, depth: int = 0) -> Any:
    """Decoded CBOR as JSON-compatible data: str keys, dates as ISO text, bytes as base64."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if depth > 32:
        raise ValueError("nested too deeply")
    if kind is dict or isinstance(value, Mapping):
        return {k if type(k) is str else str(k): to_jsonable(v, depth + 1) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [to_jsonable(v, depth + 1) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, cbor2.CBORTag):
        return to_jsonable(value.value, depth + 1)
    return str(value)
