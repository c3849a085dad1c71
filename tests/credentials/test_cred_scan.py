"""scan(): recognition of every kind, whitespace tolerance, and a typed failure for every bad input."""

from __future__ import annotations

import importlib
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cred_helpers import NOW, MakeSigner

from dancu.credentials import base45, cose, issue_hc1, scan
from dancu.credentials.container import unwrap, wrap
from dancu.credentials.keyfiles import init_keys
from dancu.credentials.keys import Keyring, Signer
from dancu.credentials.results import FAILURES, KINDS, ScanResult

CCCD = "001090123456|012345678|Nguyễn Văn A|17051990|Nam|Phường X, Quận Y, Hà Nội|15042021"


@pytest.fixture
def good_hc1(keyring: Keyring, vaccination: dict[str, Any]) -> str:
    return issue_hc1(vaccination, keyring=keyring, iat=NOW, exp=NOW + timedelta(days=30), cert_type="v")


def _hc1_from_cose(cose_bytes: bytes) -> str:
    return wrap("HC1:", cose_bytes)


def _signed(signer: Signer, cwt: dict[int, Any], *, alg: int = -7, signature: bytes | None = None) -> str:
    payload = cbor2.dumps(cwt)
    header = cbor2.dumps({1: alg, 4: signer.dsc.kid})
    sig = signature if signature is not None else cose.sign(signer.private_key, cose.sig_structure(header, payload))
    return _hc1_from_cose(cbor2.dumps(cbor2.CBORTag(18, [header, {}, payload, sig])))


def _cwt(dcc: dict[str, Any], *, iat: int | None = None, exp: int | None = None) -> dict[int, Any]:
    issued = int(NOW.timestamp()) if iat is None else iat
    return {1: "VN", 6: issued, 4: issued + 86400 if exp is None else exp, -260: {1: dcc}}


def bad_inputs(
    keyring: Keyring, make_signer: MakeSigner, vaccination: dict[str, Any]
) -> tuple[dict[str, tuple[str, str, str]], Keyring]:
    """name -> (text, expected kind, expected failure), and the trust to scan them with."""
    signer = keyring.signer_for("v")
    good = issue_hc1(vaccination, keyring=keyring, iat=NOW, exp=NOW + timedelta(days=30), cert_type="v")
    stranger = make_signer()  # not trusted
    test_only = make_signer(eku=["1.3.6.1.4.1.1847.2021.1.1"])
    old_signer = make_signer(not_before=NOW - timedelta(days=400), not_after=NOW - timedelta(days=10))
    bomb = zlib.compress(b"\0" * (2 * 1024 * 1024), 9)  # ~2 KB: fits in a QR code
    body = good.removeprefix("HC1:")
    now = int(NOW.timestamp())
    cases = {
        "empty": ("", "unrecognised", "format"),
        "blank": (" \r\n", "unrecognised", "format"),
        "10 MB string": ("HC1:" + "A" * (10 * 1024 * 1024), "hc1", "format"),
        "10 MB unprefixed": ("x" * (10 * 1024 * 1024), "unrecognised", "format"),
        "prefix HL0:": ("HL0:" + body, "unrecognised", "prefix"),
        "prefix HC2:": ("HC2:" + body, "unrecognised", "prefix"),
        "no prefix": (body, "unrecognised", "prefix"),
        "Base45 alphabet": ("HC1:" + body[:30] + "a" + body[31:], "hc1", "base45"),
        "Base45 length": ("HC1:" + body[: len(body) - len(body) % 3] + "A", "hc1", "base45"),
        "Base45 value": ("HC1:" + body[: len(body) - len(body) % 3] + ":::", "hc1", "base45"),
        "zlib bomb": ("HC1:" + base45.encode(bomb), "hc1", "zlib"),
        "not compressed": ("HC1:" + base45.encode(b"\xd2\x84\x40\xa0\x40\x40"), "hc1", "zlib"),
        "truncated CBOR": (_hc1_from_cose(b"\xd2\x84\x43\xa1"), "hc1", "cbor"),
        "garbage CBOR": (_hc1_from_cose(b"\xff\xfe\xfd"), "hc1", "cbor"),
        "COSE structure": (_hc1_from_cose(cbor2.dumps(cbor2.CBORTag(18, [b"", {}]))), "hc1", "cose"),
        "COSE algorithm": (_signed(signer, _cwt(vaccination), alg=-8), "hc1", "cose"),
        "signature length": (_signed(signer, _cwt(vaccination), signature=b"\0" * 70), "hc1", "signature"),
        "unknown kid": (_signed(stranger, _cwt(vaccination)), "hc1", "unknown_kid"),
        "tampered payload": ("HC1:" + _tamper(body), "hc1", "signature"),
        "expired": (_signed(signer, _cwt(vaccination, iat=now - 7200, exp=now - 3600)), "hc1", "expired"),
        "not yet valid": (_signed(signer, _cwt(vaccination, iat=now + 3600)), "hc1", "not_yet_valid"),
        "signer outside validity": (_signed(old_signer, _cwt(vaccination)), "hc1", "expired"),
        "key usage": (_signed(test_only, _cwt(vaccination)), "hc1", "key_usage"),
        "schema": (_signed(signer, _cwt({**vaccination, "dob": "yesterday"})), "hc1", "schema"),
        "CCCD 6 fields": (CCCD.rsplit("|", 1)[0], "cccd", "format"),
        "CCCD 8 fields": (CCCD + "|extra", "cccd", "format"),
        "CCCD repeated": (CCCD + CCCD, "cccd", "format"),
        "ticket": ("VNK1:ABC", "ticket", "format"),
    }
    return cases, keyring.with_extra([test_only.dsc, old_signer.dsc])


def _tamper(body: str) -> str:
    """Change one letter of the name inside the signed payload, keeping the rest intact."""
    cose_bytes = unwrap(body)
    assert b"Nguy" in cose_bytes
    return base45.encode(zlib.compress(cose_bytes.replace(b"Nguy", b"Ngux")))


def test_every_bad_input_gets_its_specific_failure(
    keyring: Keyring, make_signer: MakeSigner, vaccination: dict[str, Any]
) -> None:
    cases, trust = bad_inputs(keyring, make_signer, vaccination)
    for name, (text, kind, failure) in cases.items():
        result = scan(text, NOW, keyring=trust)
        assert isinstance(result, ScanResult)
        assert (result.kind, result.ok, result.failure) == (kind, False, failure), (name, result.detail)
        assert result.detail


def test_valid_codes_tolerate_scanner_whitespace(keyring: Keyring, good_hc1: str) -> None:
    for text in (good_hc1, f"  {good_hc1}\r\n", f"\t{good_hc1}\n", good_hc1 + " ", good_hc1 + "  \n"):
        assert scan(text, NOW, keyring=keyring).ok, repr(text[-4:])
    assert scan(good_hc1.encode(), NOW, keyring=keyring).ok


def test_chip_id_card(keyring: Keyring) -> None:
    result = scan(CCCD + "\r\n", keyring=keyring)
    assert (result.kind, result.ok, result.failure) == ("cccd", True, None)
    assert result.payload == {
        "national_id": "001090123456",
        "old_id": "012345678",
        "full_name": "Nguyễn Văn A",
        "dob": "1990-05-17",
        "sex": "M",
        "permanent_address": "Phường X, Quận Y, Hà Nội",
        "issue_date": "2021-04-15",
    }
    assert "no signature" in result.detail


def test_chip_id_card_sent_as_latin1_is_repaired(keyring: Keyring) -> None:
    garbled = CCCD.encode("utf-8").decode("latin-1")
    assert garbled != CCCD
    result = scan(garbled, keyring=keyring)
    assert result.ok and result.payload["full_name"] == "Nguyễn Văn A"


def test_chip_id_card_failure_explains(keyring: Keyring) -> None:
    result = scan(CCCD.rsplit("|", 1)[0], keyring=keyring)
    assert result.failure == "format" and "7 fields" in result.detail and "6" in result.detail
    bad_id = scan(CCCD.replace("001090123456", "001190123456"), keyring=keyring)
    assert bad_id.kind == "cccd" and bad_id.failure == "format"


def test_unrecognised_shows_the_first_20_characters(keyring: Keyring) -> None:
    result = scan("https://example.org/some/long/path", keyring=keyring)
    assert (result.kind, result.failure) == ("unrecognised", "prefix")
    assert "'https://example.org/'" in result.detail and "some" not in result.detail


def test_ticket_is_reserved(keyring: Keyring) -> None:
    result = scan("VNK1:whatever", keyring=keyring)
    assert (result.kind, result.ok, result.failure, result.detail) == (
        "ticket",
        False,
        "format",
        "dancu tickets are not supported yet",
    )


def test_safety_net_maps_unexpected_errors(monkeypatch: pytest.MonkeyPatch, keyring: Keyring, good_hc1: str) -> None:
    def explode(*args: Any, **kwargs: Any) -> ScanResult:
        raise RuntimeError("bug")

    monkeypatch.setattr(importlib.import_module("dancu.credentials.scan"), "verify_hc1", explode)
    result = scan(good_hc1, NOW, keyring=keyring)
    assert (result.kind, result.ok, result.failure) == ("hc1", False, "format")
    assert "RuntimeError" in result.detail


def test_default_keyring_comes_from_settings(data_dir: Path, vaccination: dict[str, Any]) -> None:
    from dancu.credentials import get_keyring

    init_keys(data_dir / "keys", now=NOW - timedelta(days=1))
    text = issue_hc1(vaccination, keyring=get_keyring(), iat=NOW, exp=NOW + timedelta(days=1), cert_type="v")
    assert scan(text, NOW).ok


def test_json_shape(keyring: Keyring, good_hc1: str) -> None:
    data = scan(good_hc1, NOW, keyring=keyring).to_json_dict()
    assert {"kind", "ok", "failure", "detail", "payload"} <= set(data)
    assert data["kind"] in KINDS and data["failure"] is None
    assert set(FAILURES) == {
        "prefix",
        "base45",
        "zlib",
        "cbor",
        "cose",
        "signature",
        "unknown_kid",
        "expired",
        "not_yet_valid",
        "key_usage",
        "schema",
        "format",
    }
