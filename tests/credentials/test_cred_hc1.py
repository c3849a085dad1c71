"""HC1 issue and verify: round trips, each failure code, the size budget, the real Vietnamese certificate."""

from __future__ import annotations

import copy
import dataclasses
from datetime import datetime, timedelta
from typing import Any

import cbor2
import pytest
from cred_helpers import NOW, SHARED, MakeSigner

from dancu.core.errors import ValidationFailed
from dancu.credentials import dcc_name, issue_hc1, scan, scan_image
from dancu.credentials.container import wrap
from dancu.credentials.dsc import HC1_EKU, PASS_OID
from dancu.credentials.hc1 import icao_transliterate, verify_hc1
from dancu.credentials.keys import Keyring, Signer, SigningUnavailable
from dancu.credentials.qrimage import make_qr
from dancu.credentials.trust import TrustStore

TEST_OID, VACC_OID, RECOVERY_OID = HC1_EKU
YEAR = timedelta(days=365)
HALF_YEAR = timedelta(days=182)


def signed(
    signer: Signer,
    dcc: Any,
    *,
    iat: datetime = NOW - timedelta(hours=1),
    exp: datetime | None = None,
    drop: tuple[int, ...] = (),
) -> str:
    """An HC1 signed as-is, bypassing issue_hc1's own checks."""
    cwt: dict[int, Any] = {
        1: "VN",
        6: int(iat.timestamp()),
        4: int((exp or iat + YEAR).timestamp()),
        -260: {1: dcc},
    }
    for key in drop:
        cwt.pop(key)
    return wrap("HC1:", signer.sign1(cbor2.dumps(cwt)))


def test_issue_and_verify_round_trip(keyring: Keyring, vaccination: dict[str, Any]) -> None:
    text = issue_hc1(vaccination, keyring=keyring, iat=NOW, exp=NOW + HALF_YEAR, cert_type="v")
    assert text.startswith("HC1:")
    result = scan(text, NOW + timedelta(days=10), keyring=keyring)
    assert (result.kind, result.ok, result.failure) == ("hc1", True, None)
    assert result.payload == vaccination
    assert result.cert_type == "v" and result.issuer == "VN"
    assert result.kid == keyring.signer_for("v").dsc.kid
    assert result.iat == NOW and result.exp == NOW + HALF_YEAR
    assert result.to_json_dict()["exp"] == (NOW + HALF_YEAR).isoformat()


def test_test_certificate_round_trip(keyring: Keyring, test_result: dict[str, Any]) -> None:
    text = issue_hc1(test_result, keyring=keyring, iat=NOW, exp=NOW + timedelta(hours=72), cert_type="t")
    result = scan(text, NOW + timedelta(hours=1), keyring=keyring)
    assert result.ok and result.cert_type == "t"


@pytest.mark.parametrize(
    ("clock", "failure"),
    [
        (NOW + YEAR + timedelta(seconds=1), "expired"),
        (NOW - timedelta(minutes=6), "not_yet_valid"),
        (NOW - timedelta(minutes=4), None),  # within the clock-skew allowance
        (NOW + timedelta(days=300), None),
    ],
)
def test_validity_window(keyring: Keyring, vaccination: dict[str, Any], clock: datetime, failure: str | None) -> None:
    text = issue_hc1(vaccination, keyring=keyring, iat=NOW, exp=NOW + YEAR, cert_type="v")
    assert scan(text, clock, keyring=keyring).failure == failure


def test_expiry_is_capped_at_the_signers_expiry(keyring: Keyring, vaccination: dict[str, Any]) -> None:
    dsc_expiry = keyring.signer_for("v").dsc.not_after
    text = issue_hc1(vaccination, keyring=keyring, iat=NOW, exp=NOW + 5 * YEAR, cert_type="v")
    result = scan(text, NOW, keyring=keyring)
    assert result.ok and result.exp == dsc_expiry
    assert scan(text, dsc_expiry + timedelta(seconds=1), keyring=keyring).failure == "expired"


def test_naive_clock_is_utc(keyring: Keyring, vaccination: dict[str, Any]) -> None:
    text = issue_hc1(vaccination, keyring=keyring, iat=NOW, exp=NOW + timedelta(hours=1), cert_type="v")
    naive = (NOW + timedelta(minutes=59)).replace(tzinfo=None)
    assert scan(text, naive, keyring=keyring).ok
    assert scan(text, naive + timedelta(minutes=2), keyring=keyring).failure == "expired"


@pytest.mark.parametrize(
    ("window", "failure", "words"),
    [
        ((NOW - 2 * YEAR, NOW - YEAR), "expired", "signed after"),  # DSC expired before signing
        ((NOW + timedelta(days=1), NOW + YEAR), "not_yet_valid", "signed before"),
        ((NOW - YEAR, NOW), "expired", "signing certificate expired"),  # expired by the validation time
    ],
)
def test_signer_outside_its_validity(
    make_signer: MakeSigner,
    vaccination: dict[str, Any],
    window: tuple[datetime, datetime],
    failure: str,
    words: str,
) -> None:
    signer = make_signer(not_before=window[0], not_after=window[1])
    result = verify_hc1(signed(signer, vaccination), trust=TrustStore([signer.dsc]), clock=NOW + timedelta(hours=1))
    assert result.failure == failure
    assert words in result.detail


@pytest.mark.parametrize(
    ("eku", "ok"),
    [
        (None, True),  # no EKU: may sign every type
        ([VACC_OID], True),
        ([TEST_OID, VACC_OID, RECOVERY_OID], True),
        (["1.3.6.1.4.1.0.1847.2021.1.2"], True),  # the alternative arc
        ([TEST_OID], False),
        ([RECOVERY_OID], False),
        (["2.23.136.1.1.14.2"], False),  # other purposes only
        ([PASS_OID], False),  # dancu's pass signer never signs health certificates
        ([PASS_OID, VACC_OID], False),
    ],
)
def test_key_usage(make_signer: MakeSigner, vaccination: dict[str, Any], eku: list[str] | None, ok: bool) -> None:
    signer = make_signer(eku=eku)
    result = verify_hc1(signed(signer, vaccination), trust=TrustStore([signer.dsc]), clock=NOW)
    assert (result.ok, result.failure) == (ok, None if ok else "key_usage")


def _mutations() -> list[tuple[str, Any]]:
    def without(key: str) -> Any:
        return lambda d: d.pop(key)

    def entry(key: str, value: Any) -> Any:
        return lambda d: d["v"][0].__setitem__(key, value)

    return [
        ("no dob", without("dob")),
        ("no name", without("nam")),
        ("dose 0", entry("dn", 0)),
        ("dose as text", entry("dn", "2")),
        ("unknown product", entry("mp", "EU/1/99/9999")),
        ("unknown country", entry("co", "XY")),
        ("lower-case fnt", lambda d: d["nam"].__setitem__("fnt", "nguyen")),
        ("two vaccinations", lambda d: d["v"].append(dict(d["v"][0]))),
        ("issuer too long", entry("is", "x" * 81)),
        ("born after issue", lambda d: d.__setitem__("dob", "2027-01-01")),
    ]


@pytest.mark.parametrize(("what", "mutate"), _mutations(), ids=[m[0] for m in _mutations()])
def test_schema_violations(make_signer: MakeSigner, vaccination: dict[str, Any], what: str, mutate: Any) -> None:
    signer = make_signer()
    dcc = copy.deepcopy(vaccination)
    mutate(dcc)
    result = verify_hc1(signed(signer, dcc), trust=TrustStore([signer.dsc]), clock=NOW)
    assert result.failure == "schema", what
    assert result.detail


def test_two_entry_groups_is_a_schema_failure(
    make_signer: MakeSigner, vaccination: dict[str, Any], test_result: dict[str, Any]
) -> None:
    signer = make_signer()
    both = {**vaccination, "t": test_result["t"]}
    result = verify_hc1(signed(signer, both), trust=TrustStore([signer.dsc]), clock=NOW)
    assert result.failure == "schema" and result.cert_type is None


@pytest.mark.parametrize("drop", [(-260,), (4,), (6,)])
def test_missing_claims_are_format_failures(
    make_signer: MakeSigner, vaccination: dict[str, Any], drop: tuple[int, ...]
) -> None:
    signer = make_signer()
    result = verify_hc1(signed(signer, vaccination, drop=drop), trust=TrustStore([signer.dsc]), clock=NOW)
    assert result.failure == "format"


def test_issue_refuses_what_the_verifier_would_reject(keyring: Keyring, vaccination: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed, match="single test"):
        issue_hc1(vaccination, keyring=keyring, iat=NOW, exp=NOW + YEAR, cert_type="t")
    with pytest.raises(ValidationFailed, match="expiry"):
        issue_hc1(vaccination, keyring=keyring, iat=NOW, exp=NOW, cert_type="v")
    broken = {**vaccination, "dob": "17/05/1990"}
    with pytest.raises(ValidationFailed, match="dob"):
        issue_hc1(broken, keyring=keyring, iat=NOW, exp=NOW + YEAR, cert_type="v")


def test_issue_time_must_lie_within_the_signers_validity(keyring: Keyring, vaccination: dict[str, Any]) -> None:
    before = keyring.signer_for("v").dsc.not_before - timedelta(days=1)
    with pytest.raises(ValidationFailed, match="outside the signing certificate's validity"):
        issue_hc1(vaccination, keyring=keyring, iat=before, exp=NOW, cert_type="v")


def test_naive_issue_times_are_utc(keyring: Keyring, vaccination: dict[str, Any]) -> None:
    naive = NOW.replace(tzinfo=None)
    text = issue_hc1(vaccination, keyring=keyring, iat=naive, exp=naive + timedelta(days=1), cert_type="v")
    result = scan(text, NOW, keyring=keyring)
    assert result.iat == NOW and result.exp == NOW + timedelta(days=1)


def test_issue_without_keys_is_signing_unavailable(vaccination: dict[str, Any]) -> None:
    with pytest.raises(SigningUnavailable):
        issue_hc1(vaccination, keyring=Keyring(), iat=NOW, exp=NOW + YEAR, cert_type="v")


def test_vietnamese_certificate_fits_the_size_budget(keyring: Keyring, vaccination: dict[str, Any]) -> None:
    family, given = "Công Tằng Tôn Nữ", "Hoàng Phương Thảo Nguyên Ngọc Bích"
    payload = {**vaccination, "nam": dcc_name(family, given)}
    assert payload["nam"]["fnt"] == "CONG<TANG<TON<NU"
    assert payload["nam"]["gnt"] == "HOANG<PHUONG<THAO<NGUYEN<NGOC<BICH"
    payload["v"] = [
        {
            **vaccination["v"][0],
            "is": "Bộ Y tế (Ministry of Health of Viet Nam)",
            "ci": "URN:UVCI:01:VN:MOH:DANCU/0123456789ABCDEF0123#K",
        }
    ]
    text = issue_hc1(payload, keyring=keyring, iat=NOW, exp=NOW + YEAR, cert_type="v")
    assert len(text) - len("HC1:") <= 700, len(text)
    assert make_qr(text).version <= 20
    assert scan(text, NOW, keyring=keyring).payload["nam"]["fn"] == family


def test_icao_transliteration() -> None:
    assert icao_transliterate("Đặng Thị Ngọc-Hân") == "DANG<THI<NGOC<HAN"
    assert icao_transliterate("  O'Brien ") == "OBRIEN"


def test_real_vietnamese_certificate_decodes_but_its_signer_is_unknown(make_signer: MakeSigner) -> None:
    result = scan_image((SHARED / "testdata" / "dgc" / "VN_VAC.png").read_bytes(), NOW)
    assert (result.kind, result.ok, result.failure) == ("hc1", False, "unknown_kid")
    assert result.issuer == "VN" and result.cert_type == "v"
    assert result.payload["nam"]["gnt"] == "BAO<DUY"
    assert result.kid is not None and result.kid.hex() in result.detail
    # With a certificate that claims its kid but holds another key, the signature check is what fails.
    impostor = dataclasses.replace(make_signer(alg="PS256").dsc, kid=result.kid)
    text = _vn_text()
    assert scan(text, NOW, keyring=TrustStore([impostor])).failure == "signature"


def _vn_text() -> str:
    from dancu.credentials.qrimage import decode_qr_image

    return decode_qr_image((SHARED / "testdata" / "dgc" / "VN_VAC.png").read_bytes())
