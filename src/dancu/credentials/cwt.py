"""CWT claims and the checks every signed credential shares: signer lookup, signature, time windows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import cbor2

from dancu.core.errors import ValidationFailed
from dancu.credentials.cose import Sign1, cbor_loads, is_map
from dancu.credentials.dsc import DSC
from dancu.credentials.results import CredentialFailure

CLAIM_ISS = 1
CLAIM_EXP = 4
CLAIM_IAT = 6
# Tolerated clock skew between the issuing server and a checkpoint phone, for "issued in the future" only.
ISSUED_AT_LEEWAY = timedelta(minutes=5)


class TrustLookup(Protocol):
    def lookup(self, kid: bytes) -> Sequence[DSC]: ...


@dataclass(frozen=True, slots=True)
class Claims:
    raw: Mapping[Any, Any]
    iss: str | None
    iat: datetime | None
    exp: datetime | None


def read_claims(sign1: Sign1) -> Claims:
    """Decode the CWT claims map of a COSE payload; failure codes `cbor` and `format`."""
    raw = cbor_loads(sign1.payload, "the CWT payload")
    if isinstance(raw, cbor2.CBORTag):
        raw = raw.value
    if not is_map(raw):
        raise CredentialFailure("format", "the CWT payload is not a claims map")
    iss = raw.get(CLAIM_ISS)
    return Claims(
        raw, iss if isinstance(iss, str) else None, _time(raw, CLAIM_IAT, "iat"), _time(raw, CLAIM_EXP, "exp")
    )


def _time(claims: Mapping[Any, Any], key: int, name: str) -> datetime | None:
    value = claims.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CredentialFailure("format", f"the {name} claim is not a number")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise CredentialFailure("format", f"the {name} claim is out of range") from None


def find_signer(sign1: Sign1, trust: TrustLookup) -> DSC:
    """The trusted DSC whose key verifies the signature, trying every DSC that shares the kid."""
    if sign1.kid is None:
        raise CredentialFailure("unknown_kid", "the message names no key identifier (kid)")
    candidates = trust.lookup(sign1.kid)
    if not candidates:
        raise CredentialFailure("unknown_kid", f"no trusted signer has kid {sign1.kid.hex()}")
    data = sign1.signed_data()
    failure = CredentialFailure("signature", "no signer with this kid verifies the signature")
    for dsc in candidates:
        try:
            dsc.verify(sign1.alg, data, sign1.signature)
        except CredentialFailure as mismatch:
            failure = mismatch
            continue
        return dsc
    raise failure


def check_times(claims: Claims, dsc: DSC, clock: datetime) -> None:
    """Issued-at and expiry against the clock, and issuance within the signer's validity.
    Failure codes `format`, `not_yet_valid`, `expired`."""
    if claims.iat is None or claims.exp is None:
        raise CredentialFailure("format", "the issued-at (iat) and expiry (exp) claims are required")
    if claims.iat - ISSUED_AT_LEEWAY > clock:
        raise CredentialFailure("not_yet_valid", f"issued at {claims.iat.isoformat()}, after {_at(clock)}")
    if claims.exp < clock:
        raise CredentialFailure("expired", f"expired at {claims.exp.isoformat()}, before {_at(clock)}")
    if claims.iat < dsc.not_before:
        raise CredentialFailure(
            "not_yet_valid", f"signed before its signing certificate became valid ({dsc.not_before.date()})"
        )
    if claims.iat > dsc.not_after:
        raise CredentialFailure("expired", f"signed after its signing certificate expired ({dsc.not_after.date()})")
    if clock > dsc.not_after:
        raise CredentialFailure("expired", f"its signing certificate expired on {dsc.not_after.date()}")


def _at(clock: datetime) -> str:
    return f"the validation time {clock.isoformat()}"


def parse_clock(text: str) -> datetime:
    """An ISO 8601 validation time; without a zone it is UTC. Raises ValueError."""
    clock = datetime.fromisoformat(text.strip())
    return clock if clock.tzinfo is not None else clock.replace(tzinfo=UTC)


def signing_window(signer_dsc: DSC, iat: datetime, exp: datetime) -> datetime:
    """The expiry to sign with: capped at the signer's certificate expiry, since a credential cannot
    outlive the certificate of its signer. Refuses an issue time outside that certificate's validity."""
    if not signer_dsc.not_before <= iat <= signer_dsc.not_after:
        raise ValidationFailed(
            f"the issue time {iat.isoformat()} is outside the signing certificate's validity "
            f"({signer_dsc.not_before.isoformat()} to {signer_dsc.not_after.isoformat()})",
            field="iat",
        )
    return min(exp, signer_dsc.not_after)


def utc_clock(clock: datetime | None) -> datetime:
    """The validation time: now by default; a naive datetime is taken as UTC."""
    if clock is None:
        return datetime.now(UTC)
    return clock if clock.tzinfo is not None else clock.replace(tzinfo=UTC)
