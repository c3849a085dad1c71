"""Property: whatever is scanned, scan() answers with a typed result, and never by its safety net."""

from __future__ import annotations

import json
import zlib
from datetime import timedelta
from typing import Any

import pytest
from cred_helpers import NOW
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dancu.credentials import (
    GreenLaneClaims,
    TravelPassClaims,
    base45,
    issue_green_lane_pass,
    issue_hc1,
    issue_travel_pass,
    scan,
)
from dancu.credentials.base45 import ALPHABET
from dancu.credentials.container import unwrap
from dancu.credentials.keys import Keyring
from dancu.credentials.results import FAILURES, KINDS, ScanResult

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,  # repeatable or exploring: the profile in tests/conftest.py decides
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def samples(keyring: Keyring) -> list[str]:
    dcc = {
        "ver": "1.3.0",
        "nam": {"fn": "Lê", "fnt": "LE", "gn": "Thị Hoa", "gnt": "THI<HOA"},
        "dob": "1970",
        "r": [
            {
                "tg": "840539006",
                "fr": "2026-01-01",
                "co": "VN",
                "is": "MoH",
                "df": "2026-01-12",
                "du": "2026-06-30",
                "ci": "URN:UVCI:01:VN:X",
            }
        ],
    }
    travel = TravelPassClaims("P1", "D1", "LE T. HOA", "1234", 1970, "01", "79")
    freight = GreenLaneClaims("G1", "29C-12345", "LE T. HOA", "1234", "01", "79")
    return [
        issue_hc1(dcc, keyring=keyring, iat=NOW, exp=NOW + timedelta(days=90), cert_type="r"),
        issue_travel_pass(travel, keyring=keyring, now=NOW),
        issue_green_lane_pass(freight, keyring=keyring, now=NOW),
    ]


def assert_typed(result: Any) -> None:
    assert isinstance(result, ScanResult)
    assert result.kind in KINDS
    assert result.ok is (result.failure is None)
    assert result.failure is None or result.failure in FAILURES
    assert not result.detail.startswith("the code could not be read"), result.detail  # no safety-net catch
    json.dumps(result.to_json_dict(), ensure_ascii=False)


@SETTINGS
@given(
    st.one_of(
        st.text(max_size=300),
        st.text(alphabet=ALPHABET, max_size=300).map(lambda s: "HC1:" + s),
        st.sampled_from(["HC1:", "VNT1:", "VNG1:", "VNK1:", "a|b"]).flatmap(
            lambda p: st.text(max_size=200).map(lambda s: p + s)
        ),
    )
)
def test_random_text(keyring: Keyring, text: str) -> None:
    assert_typed(scan(text, NOW, keyring=keyring))


@SETTINGS
@given(
    st.integers(0, 2),
    st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(0, 4), st.sampled_from(ALPHABET)),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_text(keyring: Keyring, samples: list[str], which: int, edits: list[tuple[int, int, str]]) -> None:
    text = samples[which]
    for position, action, char in edits:
        i = position % (len(text) + 1)
        if action == 0:
            text = text[:i] + char + text[i + 1 :]  # replace
        elif action == 1:
            text = text[:i] + text[i + 1 :]  # delete
        elif action == 2:
            text = text[:i] + char + text[i:]  # insert
        elif action == 3:
            text = text[:i]  # truncate
        else:
            text = text[:i] + text  # duplicate a prefix
    assert_typed(scan(text, NOW, keyring=keyring))


@SETTINGS
@given(
    st.integers(0, 2),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6),
    st.integers(0, 10_000),
)
def test_mutated_signed_bytes(
    keyring: Keyring, samples: list[str], which: int, flips: list[tuple[int, int]], cut: int
) -> None:
    """Mutations below the text layer, so that CBOR, COSE, claims and signature checks all get exercised."""
    prefix, body = samples[which].split(":", 1)
    cose = bytearray(unwrap(body))
    for position, value in flips:
        cose[position % len(cose)] = value
    data = bytes(cose[: max(1, len(cose) - cut % 8)])
    result = scan(f"{prefix}:{base45.encode(zlib.compress(data))}", NOW, keyring=keyring)
    assert_typed(result)
    assert result.failure in (
        None,
        "cbor",
        "cose",
        "signature",
        "unknown_kid",
        "format",
        "schema",
        "key_usage",
        "expired",
        "not_yet_valid",
    )
