"""Travel and green-lane passes: least data, masking, validity, prefixes and signer authorisation."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import cbor2
import pytest
from cred_helpers import NOW, MakeSigner

from dancu.config import get_settings
from dancu.core.errors import ValidationFailed
from dancu.credentials import (
    GreenLaneClaims,
    TravelPassClaims,
    issue_green_lane_pass,
    issue_travel_pass,
    mask_name,
    scan,
)
from dancu.credentials.container import unwrap, wrap
from dancu.credentials.cose import parse_sign1
from dancu.credentials.dsc import PASS_OID
from dancu.credentials.keys import Keyring
from dancu.credentials.trust import TrustStore

NATIONAL_ID = "001090123456"


@pytest.fixture
def claims() -> TravelPassClaims:
    return TravelPassClaims.for_person(
        pass_id="P-2026-000123",
        declaration_id="D-987654",
        full_name="Nguyễn Văn An",
        national_id=NATIONAL_ID,
        birth_year=1990,
        origin="00004",
        destination="26734",
        vehicle_plate="51f-123.45",
    )


@pytest.fixture
def freight() -> GreenLaneClaims:
    return GreenLaneClaims.for_driver(
        pass_id="G-77",
        vehicle_plate="29c-12345 ",
        full_name="Trần Bình Chánh",
        national_id="079085004321",
        origin="01",
        destination="79",
    )


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("Nguyễn Văn A", "NGUYEN V. A"),
        ("Nguyễn Thị Minh Khai", "NGUYEN T. M. KHAI"),
        ("  đặng   ngọc  hân ", "DANG N. HAN"),
        ("Lê Lợi", "LE LOI"),
        ("Đạt", "DAT"),
        ("NGUYEN V. A", "NGUYEN V. A"),  # idempotent
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_mask_name_needs_letters() -> None:
    with pytest.raises(ValidationFailed):
        mask_name(" .. ")


def test_travel_pass_round_trip(keyring: Keyring, claims: TravelPassClaims) -> None:
    text = issue_travel_pass(claims, keyring=keyring, now=NOW)
    assert text.startswith("VNT1:")
    result = scan(text, NOW + timedelta(hours=71), keyring=keyring)
    assert (result.kind, result.ok, result.failure) == ("travel_pass", True, None)
    assert result.payload == {
        "pass_id": "P-2026-000123",
        "declaration_id": "D-987654",
        "holder_name": "NGUYEN V. AN",
        "id_last4": "3456",
        "birth_year": 1990,
        "origin": "00004",
        "destination": "26734",
        "vehicle_plate": "51F-123.45",
    }
    assert result.exp is not None and result.iat is not None
    assert result.exp - result.iat == timedelta(hours=get_settings().travel_pass_hours) == timedelta(hours=72)


def test_pass_carries_the_least_data(keyring: Keyring, claims: TravelPassClaims) -> None:
    text = issue_travel_pass(claims, keyring=keyring, now=NOW)
    cwt = cbor2.loads(parse_sign1(unwrap(text.removeprefix("VNT1:"))).payload)
    assert set(cwt) == {1, 4, 6, -70001}
    assert -260 not in cwt
    assert set(cwt[-70001]) <= set(range(1, 9))
    flat = repr(cwt)
    assert NATIONAL_ID not in flat and "Nguyễn" not in flat and "Văn" not in flat
    assert len(text) < 350


def test_expiry_default_and_override(keyring: Keyring, claims: TravelPassClaims) -> None:
    text = issue_travel_pass(claims, keyring=keyring, now=NOW)
    assert scan(text, NOW + timedelta(hours=72), keyring=keyring).ok
    assert scan(text, NOW + timedelta(hours=72, seconds=1), keyring=keyring).failure == "expired"
    short = issue_travel_pass(claims, keyring=keyring, now=NOW, hours=2)
    assert scan(short, NOW + timedelta(hours=3), keyring=keyring).failure == "expired"
    assert scan(short, NOW - timedelta(hours=1), keyring=keyring).failure == "not_yet_valid"
    for bad in (0, -1, 10_000):
        with pytest.raises(ValidationFailed):
            issue_travel_pass(claims, keyring=keyring, now=NOW, hours=bad)


def test_green_lane_round_trip(keyring: Keyring, freight: GreenLaneClaims) -> None:
    text = issue_green_lane_pass(freight, keyring=keyring, now=NOW)
    assert text.startswith("VNG1:")
    result = scan(text, NOW + timedelta(hours=1), keyring=keyring)
    assert (result.kind, result.ok) == ("green_lane", True)
    assert result.payload["green_lane"] is True
    assert result.payload["vehicle_plate"] == "29C-12345" and result.payload["driver_name"] == "TRAN B. CHANH"
    assert result.payload["driver_id_last4"] == "4321"
    assert "wave through" in result.detail


def test_prefix_must_match_the_signed_claims(
    keyring: Keyring, claims: TravelPassClaims, freight: GreenLaneClaims
) -> None:
    travel = issue_travel_pass(claims, keyring=keyring, now=NOW)
    relabelled = "VNG1:" + travel.removeprefix("VNT1:")
    result = scan(relabelled, NOW, keyring=keyring)
    assert (result.kind, result.failure) == ("green_lane", "format")
    green = issue_green_lane_pass(freight, keyring=keyring, now=NOW)
    assert scan("VNT1:" + green.removeprefix("VNG1:"), NOW, keyring=keyring).failure == "format"
    as_hc1 = scan("HC1:" + travel.removeprefix("VNT1:"), NOW, keyring=keyring)
    assert (as_hc1.kind, as_hc1.ok, as_hc1.failure) == ("hc1", False, "format")


def test_only_a_pass_signer_may_sign_passes(make_signer: MakeSigner, claims: TravelPassClaims) -> None:
    for eku, failure in (
        (None, "key_usage"),
        (["1.3.6.1.4.1.1847.2021.1.2"], "key_usage"),
        ([PASS_OID], None),
    ):
        signer = make_signer(eku=eku)
        ring = Keyring(signers={"pass": signer})
        result = scan(issue_travel_pass(claims, keyring=ring, now=NOW), NOW, keyring=ring)
        assert result.failure == failure, eku


def test_hc1_signer_cannot_issue_passes_through_the_keyring(keyring: Keyring) -> None:
    assert keyring.signer_for("travel_pass").dsc.may_sign_passes
    assert not keyring.signer_for("v").dsc.may_sign_passes
    with pytest.raises(ValueError, match="unknown credential kind"):
        keyring.signer_for("ticket")


def test_unknown_signer_and_tampering(keyring: Keyring, claims: TravelPassClaims) -> None:
    text = issue_travel_pass(claims, keyring=keyring, now=NOW)
    assert scan(text, NOW, keyring=TrustStore()).failure == "unknown_kid"
    sign1 = parse_sign1(unwrap(text.removeprefix("VNT1:")))
    cwt = cbor2.loads(sign1.payload)
    cwt[-70001][3] = "LE V. B"
    forged = cbor2.dumps(cbor2.CBORTag(18, [sign1.protected_bytes, {}, cbor2.dumps(cwt), sign1.signature]))
    assert scan(wrap("VNT1:", forged), NOW, keyring=keyring).failure == "signature"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"holder_name": "NGUYEN VAN AN"}, "holder_name"),  # not masked
        ({"holder_name": "Nguyễn V. An"}, "holder_name"),
        ({"id_last4": "123"}, "id_last4"),
        ({"id_last4": NATIONAL_ID}, "id_last4"),
        ({"birth_year": 1850}, "birth_year"),
        ({"origin": "Hà Nội"}, "origin"),
        ({"vehicle_plate": "51f 123"}, "vehicle_plate"),
        ({"pass_id": ""}, "pass_id"),
    ],
)
def test_claims_are_validated(change: dict[str, Any], field: str) -> None:
    base: dict[str, Any] = {
        "pass_id": "P1",
        "declaration_id": "D1",
        "holder_name": "NGUYEN V. AN",
        "id_last4": "3456",
        "birth_year": 1990,
        "origin": "01",
        "destination": "79",
    }
    with pytest.raises(ValidationFailed) as caught:
        TravelPassClaims(**{**base, **change})
    assert caught.value.field == field


def test_malformed_signed_claims_are_a_format_failure(keyring: Keyring) -> None:
    signer = keyring.signer_for("travel_pass")
    cwt = {1: "VN", 6: int(NOW.timestamp()), 4: int(NOW.timestamp()) + 3600, -70001: {1: "P1", 4: 3456}}
    result = scan(wrap("VNT1:", signer.sign1(cbor2.dumps(cwt))), NOW, keyring=keyring)
    assert result.failure == "format" and "malformed" in result.detail
    assert base64.b64decode(result.to_json_dict()["kid"]) == signer.dsc.kid
