"""EU Digital COVID Certificates (HC1): issue and verify.

DCC JSON -> CBOR -> CWT {1: iss, 4: exp, 6: iat, -260: {1: DCC}} -> COSE_Sign1 -> zlib -> Base45 -> "HC1:"
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import cbor2

from dancu.core.errors import ValidationFailed
from dancu.core.text import fold, normalize_name
from dancu.credentials.container import strip_prefix, unwrap, wrap
from dancu.credentials.cose import Sign1, is_map, parse_sign1
from dancu.credentials.cwt import (
    CLAIM_EXP,
    CLAIM_IAT,
    CLAIM_ISS,
    Claims,
    TrustLookup,
    check_times,
    find_signer,
    read_claims,
    signing_window,
    utc_clock,
)
from dancu.credentials.keys import Keyring
from dancu.credentials.results import CERT_TYPE_NAMES, CertType, CredentialFailure, ScanResult
from dancu.credentials.schemas import cert_type_of, has_common_shape, to_jsonable, validate_dcc

HC1_PREFIX = "HC1:"
CLAIM_HCERT = -260
HCERT_DCC = 1


def icao_transliterate(name: str) -> str:
    """ICAO Doc 9303 form of a name, as in `fnt`/`gnt`: 'Tôn Nữ Hoàng-Anh' -> 'TON<NU<HOANG<ANH'."""
    letters = re.sub(r"[^A-Z0-9<]", "", re.sub(r"[\s-]+", "<", fold(name).upper()))
    return re.sub(r"<+", "<", letters).strip("<")[:80]


def dcc_name(family_name: str, given_name: str) -> dict[str, str]:
    """The DCC `nam` object: names as written (NFC) and their ICAO transliterations."""
    nam = {
        "fn": normalize_name(family_name),
        "fnt": icao_transliterate(family_name),
        "gn": normalize_name(given_name),
        "gnt": icao_transliterate(given_name),
    }
    return {key: value for key, value in nam.items() if value}


def decode_hc1(text: str) -> Sign1:
    """Prefix, Base45, zlib and COSE envelope; failure codes prefix/base45/zlib/cbor/cose."""
    return parse_sign1(unwrap(strip_prefix(text, HC1_PREFIX)))


def hc1_payload(claims: Claims) -> Any:
    """The DCC inside the CWT's health-certificate claim, as JSON data; failure code `format`."""
    return _dcc(claims)[0]


def _dcc(claims: Claims) -> tuple[Any, bool]:
    """The DCC as JSON data, and whether it has the schema's common shape (then it needs no conversion)."""
    hcert = claims.raw.get(CLAIM_HCERT)
    if not is_map(hcert) or HCERT_DCC not in hcert:
        raise CredentialFailure("format", "no health-certificate claim (-260 / 1) in the CWT")
    raw = hcert[HCERT_DCC]
    if has_common_shape(raw):
        return raw, True
    try:
        return to_jsonable(raw), False
    except ValueError as exc:
        raise CredentialFailure("format", f"the certificate payload is unusable ({exc})") from None


def verify_hc1(text: str, *, trust: TrustLookup, clock: datetime | None = None) -> ScanResult:
    """Every check, in order: envelope, signer and signature, validity times, key usage, schema."""
    at = utc_clock(clock)
    found: dict[str, Any] = {}
    try:
        sign1 = decode_hc1(text)
        found["kid"] = sign1.kid
        claims = read_claims(sign1)
        found.update(issuer=claims.iss, iat=claims.iat, exp=claims.exp)
        dcc, shape_checked = _dcc(claims)
        cert_type = cert_type_of(dcc) if isinstance(dcc, dict) else None
        found.update(payload=dcc if isinstance(dcc, dict) else {}, cert_type=cert_type)
        dsc = find_signer(sign1, trust)
        check_times(claims, dsc, at)
        if cert_type is None:
            raise CredentialFailure("schema", "a certificate holds exactly one of v, t or r")
        if not dsc.may_sign(cert_type):
            usage = ", ".join(dsc.key_usage) or "none"
            raise CredentialFailure(
                "key_usage",
                f"the signer may not sign {CERT_TYPE_NAMES[cert_type]} certificates (usage: {usage})",
            )
        reason = validate_dcc(dcc, issued_at=claims.iat, shape_checked=shape_checked)
        if reason is not None:
            raise CredentialFailure("schema", reason)
    except CredentialFailure as failure:
        return ScanResult.failed("hc1", failure.code, failure.detail, **found)
    return ScanResult(
        kind="hc1",
        ok=True,
        failure=None,
        detail=f"valid {CERT_TYPE_NAMES[cert_type]} certificate from {claims.iss or 'unknown issuer'}",
        **found,
    )


def issue_hc1(payload: dict[str, Any], *, keyring: Keyring, iat: datetime, exp: datetime, cert_type: CertType) -> str:
    """Sign a DCC payload as an HC1 string; refuses a payload the verifier would reject.
    `exp` is capped at the expiry of the signer's certificate; naive times are UTC."""
    iat, exp = utc_clock(iat), utc_clock(exp)
    if cert_type_of(payload) != cert_type:
        raise ValidationFailed(
            f"the payload is not a single {CERT_TYPE_NAMES.get(cert_type, cert_type)} entry",
            field="cert_type",
        )
    reason = validate_dcc(payload, issued_at=iat)
    if reason is not None:
        raise ValidationFailed(f"the certificate payload is invalid: {reason}", field="payload")
    if exp <= iat:
        raise ValidationFailed("the expiry must be after the issue time", field="exp")
    signer = keyring.signer_for(cert_type)
    exp = signing_window(signer.dsc, iat, exp)
    claims = {
        CLAIM_ISS: keyring.country,
        CLAIM_IAT: int(iat.timestamp()),
        CLAIM_EXP: int(exp.timestamp()),
        CLAIM_HCERT: {HCERT_DCC: payload},
    }
    return wrap(HC1_PREFIX, signer.sign1(cbor2.dumps(claims)))
