"""The shipped DCC schema and value sets, the official examples, and the fast path's soundness."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from cred_helpers import NOW, SHARED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from dancu.credentials import schemas
from dancu.credentials.schemas import VALUE_SET_FILES, dcc_schema, has_common_shape, validate_dcc

RESOURCES = Path(str(resources.files("dancu.credentials") / "resources"))
EXAMPLES = SHARED / "testdata" / "dcc-schema" / "examples" / "test"


def test_shipped_resources_are_the_official_files_with_their_licence() -> None:
    assert (RESOURCES / "DCC.combined-schema.json").read_bytes() == (
        SHARED / "testdata" / "dcc-schema" / "DCC.combined-schema.json"
    ).read_bytes()
    assert dcc_schema()["$comment"].startswith("Schema version 1.3.")
    for name in VALUE_SET_FILES.values():
        assert (RESOURCES / "valuesets" / name).read_bytes() == (
            SHARED / "testdata" / "dcc-valuesets" / name
        ).read_bytes()
    assert "Apache License" in (RESOURCES / "LICENSE").read_text()
    assert "Apache" in (RESOURCES / "NOTICE.md").read_text()


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("valid/*.json")), ids=lambda p: p.name)
def test_official_valid_examples(path: Path) -> None:
    document = json.loads(path.read_text())
    assert validate_dcc(document) is None
    assert has_common_shape(document)  # the common shape takes the fast path


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("invalid/*.json")), ids=lambda p: p.name)
def test_official_invalid_examples(path: Path) -> None:
    assert validate_dcc(json.loads(path.read_text())) is not None


@pytest.mark.parametrize(
    ("group", "key", "value"),
    [
        ("v", "tg", "999999"),
        ("v", "vp", "J07XX99"),
        ("v", "mp", "Sputnik-XYZ"),
        ("v", "ma", "ORG-99999999"),
        ("v", "co", "XY"),
    ],
)
def test_value_sets(vaccination: dict[str, Any], group: str, key: str, value: str) -> None:
    document = copy.deepcopy(vaccination)
    document[group][0][key] = value
    reason = validate_dcc(document)
    assert reason is not None and f"{group}/0/{key}" in reason


def test_test_value_sets(test_result: dict[str, Any]) -> None:
    assert validate_dcc(test_result) is None
    for key, bad in (("tt", "COVID-19 test"), ("tr", "positive")):
        document = copy.deepcopy(test_result)
        document["t"][0][key] = bad
        assert f"t/0/{key}" in (validate_dcc(document) or "")
    unlisted_device = copy.deepcopy(test_result)
    unlisted_device["t"][0]["ma"] = "532"
    assert validate_dcc(unlisted_device) is None


def test_unhcr_and_empty_values(vaccination: dict[str, Any]) -> None:
    document = copy.deepcopy(vaccination)
    document["v"][0]["co"] = "UNHCR"
    assert validate_dcc(document) is None
    document["v"][0]["ma"] = ""
    assert validate_dcc(document) is None


def test_birth_after_issue(vaccination: dict[str, Any]) -> None:
    assert validate_dcc({**vaccination, "dob": "2026-03"}, issued_at=NOW) is None
    assert "after" in (validate_dcc({**vaccination, "dob": "2026-04"}, issued_at=NOW) or "")
    assert "after" in (validate_dcc({**vaccination, "dob": "2027"}, issued_at=NOW) or "")


def test_typical_certificates_never_reach_the_slow_validator(
    monkeypatch: pytest.MonkeyPatch, vaccination: dict[str, Any], test_result: dict[str, Any]
) -> None:
    def refuse() -> Any:
        raise AssertionError("the JSON-schema validator was called")

    monkeypatch.setattr(schemas, "_validator", refuse)
    assert validate_dcc(vaccination) is None
    assert validate_dcc(test_result) is None


# Soundness of the fast path: whatever it accepts, the schema accepts.
_REFERENCE = Draft202012Validator(dcc_schema())
_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 3),
    st.floats(allow_nan=False, width=16),
    st.sampled_from(
        [
            "",
            "1.3.0",
            "1990",
            "1990-13",
            "NGUYEN",
            "nguyen",
            "A<B",
            "VN",
            "vn",
            "UNHCR",
            "x" * 81,
            "840539006",
            "1.3.0\n",
            "19900101",
        ]
    ),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["fnt", "x"]), st.just("A"), max_size=2),
)
_paths = st.sampled_from(
    [
        ("ver",),
        ("dob",),
        ("nam",),
        ("nam", "fn"),
        ("nam", "fnt"),
        ("nam", "gn"),
        ("nam", "gnt"),
        ("extra",),
        ("v",),
        ("v", 0),
        ("v", 0, "dn"),
        ("v", 0, "sd"),
        ("v", 0, "co"),
        ("v", 0, "is"),
        ("v", 0, "ci"),
        ("v", 0, "mp"),
        ("v", 0, "extra"),
        ("t",),
        ("r",),
    ]
)


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.tuples(_paths, st.booleans(), _values), min_size=1, max_size=4))
def test_fast_path_never_accepts_what_the_schema_rejects(
    vaccination: dict[str, Any], edits: list[tuple[tuple[Any, ...], bool, Any]]
) -> None:
    document: Any = copy.deepcopy(vaccination)
    for path, delete, value in edits:
        parent = document
        try:
            for step in path[:-1]:
                parent = parent[step]
            if delete:
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    if has_common_shape(document):
        assert _REFERENCE.is_valid(document), document
