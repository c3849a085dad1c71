"""Trusted signers: the in-memory `TrustStore` and the signed trust-list document.

The trust list is a JSON document `{"format", "content", "signature"}`. `signature.value` is a COSE-style
signature (ES256 raw r||s, or PS256) by the country signing CA (CSCA) over the canonical JSON of `content`:
keys sorted, no insignificant whitespace, ASCII only (every value in it is ASCII, so this is also the
RFC 8785 form). A verifier that holds the CSCA certificate can check it offline (`verify_trust_list`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from dancu.credentials.cose import ALG_NAMES, PrivateKey, PublicKey, alg_for, sign, verify_signature
from dancu.credentials.dsc import DSC, CertificateError, kid_of
from dancu.credentials.results import CredentialFailure

TRUST_LIST_FORMAT = "dancu-trust-list/1"


class TrustStore:
    """DSCs indexed by kid; several certificates may share a kid and are all tried."""

    __slots__ = ("_all", "_by_kid")

    def __init__(self, dscs: Iterable[DSC] = ()) -> None:
        unique: dict[bytes, DSC] = {}
        for dsc in dscs:
            unique.setdefault(dsc.der, dsc)
        self._all = tuple(unique.values())
        by_kid: dict[bytes, list[DSC]] = {}
        for dsc in self._all:
            by_kid.setdefault(dsc.kid, []).append(dsc)
        self._by_kid = {kid: tuple(found) for kid, found in by_kid.items()}

    def lookup(self, kid: bytes) -> Sequence[DSC]:
        return self._by_kid.get(kid, ())

    def with_extra(self, dscs: Iterable[DSC]) -> TrustStore:
        return TrustStore((*self._all, *dscs))

    @property
    def dscs(self) -> tuple[DSC, ...]:
        return self._all

    def __iter__(self) -> Iterator[DSC]:
        return iter(self._all)

    def __len__(self) -> int:
        return len(self._all)


class TrustListError(ValueError):
    """The trust-list document is malformed or its signature does not verify."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def dsc_entry(dsc: DSC) -> dict[str, Any]:
    return {
        "kid": _b64(dsc.kid),
        "country": dsc.country,
        "key_usage": list(dsc.key_usage),
        "not_before": dsc.not_before.isoformat(),
        "not_after": dsc.not_after.isoformat(),
        "source": "own" if dsc.source == "own" else "imported",
        "certificate": _b64(dsc.der),
    }


def build_trust_list(
    dscs: Iterable[DSC], *, csca: x509.Certificate, csca_key: PrivateKey, issuer: str, generation: int
) -> bytes:
    """The signed trust-list document, serialised."""
    csca_der = csca.public_bytes(Encoding.DER)
    content = {
        "issuer": issuer,
        "generation": generation,
        "csca": {"kid": _b64(kid_of(csca_der)), "certificate": _b64(csca_der)},
        "certificates": [dsc_entry(d) for d in sorted(dscs, key=lambda d: (d.not_before, d.kid))],
    }
    alg = alg_for(csca_key)
    signature = {
        "alg": ALG_NAMES[alg],
        "kid": _b64(kid_of(csca_der)),
        "value": _b64(sign(csca_key, canonical_json(content))),
    }
    document = {"format": TRUST_LIST_FORMAT, "content": content, "signature": signature}
    return json.dumps(document, indent=1, ensure_ascii=True).encode("ascii") + b"\n"


def verify_trust_list(document: bytes, csca: x509.Certificate) -> list[DSC]:
    """Check the CSCA's signature and return the listed DSCs; raise TrustListError otherwise."""
    try:
        doc = json.loads(document)
        content = doc["content"]
        signature = doc["signature"]
        alg = {name: number for number, name in ALG_NAMES.items()}[signature["alg"]]
        value = base64.b64decode(signature["value"], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise TrustListError(f"not a dancu trust list ({type(exc).__name__}: {exc})") from None
    if doc.get("format") != TRUST_LIST_FORMAT:
        raise TrustListError(f"unknown trust-list format {doc.get('format')!r}")
    public_key = csca.public_key()
    if not isinstance(public_key, PublicKey):
        raise TrustListError("the CSCA key type is not supported")
    try:
        verify_signature(public_key, alg, canonical_json(content), value)
    except CredentialFailure as failure:
        raise TrustListError(f"the trust-list signature does not verify: {failure.detail}") from None
    dscs: list[DSC] = []
    for entry in content.get("certificates", []):
        try:
            dsc = DSC.from_der(base64.b64decode(entry["certificate"], validate=True), "imported")
        except (CertificateError, ValueError, KeyError, TypeError) as exc:
            raise TrustListError(f"a listed certificate is unusable ({exc})") from None
        if _b64(dsc.kid) != entry.get("kid"):
            raise TrustListError(f"the kid of a listed certificate does not match ({entry.get('kid')})")
        dscs.append(dsc)
    return dscs
