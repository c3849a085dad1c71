"""Document signer certificates (DSC): identity (kid), key usage, validity, signature check.

Key usage follows the EU DCC rule: the extended key usage (EKU) OIDs .1 test, .2 vaccination, .3 recovery
(under 1.3.6.1.4.1.1847.2021.1 or 1.3.6.1.4.1.0.1847.2021.1) restrict what a DSC may sign; a DSC with no
EKU (or an empty one) may sign every type; a DSC whose EKU lists other purposes only may sign none.
dancu's own pass signer carries `PASS_OID`, and only a DSC with that OID may sign a travel pass.

The EKU is read with a small DER walker rather than `cryptography`'s extension parser, which rejects
certificates that real issuers publish (an encoded DEFAULT in BasicConstraints, an empty EKU).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from dancu.credentials.cose import PublicKey, verify_signature
from dancu.credentials.results import CertType

DCC_USAGE_OIDS: dict[str, CertType] = {
    "1.3.6.1.4.1.1847.2021.1.1": "t",
    "1.3.6.1.4.1.1847.2021.1.2": "v",
    "1.3.6.1.4.1.1847.2021.1.3": "r",
    "1.3.6.1.4.1.0.1847.2021.1.1": "t",
    "1.3.6.1.4.1.0.1847.2021.1.2": "v",
    "1.3.6.1.4.1.0.1847.2021.1.3": "r",
}
HC1_EKU = ("1.3.6.1.4.1.1847.2021.1.1", "1.3.6.1.4.1.1847.2021.1.2", "1.3.6.1.4.1.1847.2021.1.3")
# A UUID-derived OID (ITU-T X.667 arc 2.25): dancu travel and green-lane pass signing.
PASS_OID = "2.25.232754141505413812507922587689617637134"  # noqa: S105 (an OID, not a password)
PASS_USAGE = "pass"  # noqa: S105
_EKU_OID_DER = bytes.fromhex("551d25")  # 2.5.29.37

Source = Literal["own", "imported", "supplied"]


class CertificateError(ValueError):
    """The bytes are not a usable X.509 certificate."""


@dataclass(frozen=True, slots=True)
class DSC:
    certificate: x509.Certificate
    der: bytes
    kid: bytes
    public_key: PublicKey
    country: str | None
    eku: frozenset[str] | None  # None: no (or an empty) EKU extension, i.e. unrestricted
    not_before: datetime
    not_after: datetime
    source: Source = "supplied"

    @classmethod
    def from_der(cls, der: bytes, source: Source = "supplied") -> DSC:
        try:
            cert = x509.load_der_x509_certificate(der)
            key = cert.public_key()
            not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
        except ValueError as exc:
            raise CertificateError(f"not a DER X.509 certificate ({exc})") from None
        if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            raise CertificateError("only EC (P-256) and RSA document signers are supported")
        try:
            eku = extended_key_usage(der)
        except (ValueError, IndexError):
            raise CertificateError("the certificate's extensions cannot be read") from None
        return cls(cert, der, kid_of(der), key, _country(cert), eku, not_before, not_after, source)

    @classmethod
    def load(cls, data: bytes, source: Source = "supplied") -> DSC:
        """A certificate in DER, PEM, or bare base64 of DER (as in EU test data)."""
        if data[:1] == b"\x30":  # DER: never strip it, its last bytes may well be "whitespace"
            return cls.from_der(data, source)
        stripped = data.strip()
        if stripped.startswith(b"-----BEGIN"):
            try:
                return cls.from_der(x509.load_pem_x509_certificate(stripped).public_bytes(Encoding.DER), source)
            except ValueError as exc:
                raise CertificateError(f"not a PEM X.509 certificate ({exc})") from None
        try:
            der = base64.b64decode(stripped, validate=True)
        except ValueError:
            raise CertificateError("neither DER, PEM nor base64 of a certificate") from None
        return cls.from_der(der, source)

    @property
    def key_usage(self) -> tuple[str, ...]:
        """Readable usages: a subset of ("t", "v", "r", "pass"); all DCC types when unrestricted."""
        if self.eku is None:
            return ("t", "v", "r")
        found = {DCC_USAGE_OIDS[oid] for oid in self.eku if oid in DCC_USAGE_OIDS}
        ordered: list[str] = [u for u in ("t", "v", "r") if u in found]
        return (*ordered, PASS_USAGE) if PASS_OID in self.eku else tuple(ordered)

    def may_sign(self, cert_type: CertType) -> bool:
        if self.eku is None:
            return True
        return PASS_OID not in self.eku and any(DCC_USAGE_OIDS.get(oid) == cert_type for oid in self.eku)

    @property
    def may_sign_passes(self) -> bool:
        return self.eku is not None and PASS_OID in self.eku

    def verify(self, alg: int, data: bytes, signature: bytes) -> None:
        """Check a signature made with this certificate's key; a match seen recently is not computed again."""
        key = (self.der, alg, data, signature)
        if key in _VERIFIED:
            return
        verify_signature(self.public_key, alg, data, signature)
        _remember(key)


# Signatures that matched, most recent last: whether a key's signature over some bytes matches is a fact that
# never changes, so remembering it is safe whatever happens to the trust list (which certificate is trusted is
# decided on every scan, before `verify`). A checkpoint verifies each pass twice (the officer's scan, then the
# confirmed passage) and devices re-send after a network failure; a hit saves the ES256 check, ~0.1 ms of CPU,
# the largest single cost of reading a pass. Only matches are kept; the bound keeps memory under ~2 MB.
VERIFIED_MAX = 4096
_VERIFIED: dict[tuple[bytes, int, bytes, bytes], None] = {}


def _remember(key: tuple[bytes, int, bytes, bytes]) -> None:
    if len(_VERIFIED) >= VERIFIED_MAX:
        # The oldest; another thread may have removed it meanwhile, which is as good.
        with suppress(KeyError, RuntimeError, StopIteration):
            del _VERIFIED[next(iter(_VERIFIED))]
    _VERIFIED[key] = None


def kid_of(der: bytes) -> bytes:
    """The EU DCC key identifier: the first 8 bytes of SHA-256 over the certificate's DER."""
    return hashlib.sha256(der).digest()[:8]


def _country(cert: x509.Certificate) -> str | None:
    try:
        values = cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)
    except ValueError:
        return None
    value = values[0].value if values else None
    return value if isinstance(value, str) else None


def _tlv(buf: bytes, pos: int) -> tuple[int, int, int]:
    """Tag, content start and content end of the DER element at `pos`."""
    tag = buf[pos]
    length = buf[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4:
            raise ValueError("unsupported DER length")
        length = int.from_bytes(buf[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(buf):
        raise ValueError("truncated DER")
    return tag, pos, end


def _children(buf: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    pos = start
    while pos < end:
        tag, content, stop = _tlv(buf, pos)
        yield tag, content, stop
        pos = stop


def _oid(raw: bytes) -> str:
    arcs: list[int] = []
    value = 0
    for byte in raw:
        value = value << 7 | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0] if arcs else 0
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


def extended_key_usage(der: bytes) -> frozenset[str] | None:
    """The EKU OIDs of a DER certificate; None when it has no EKU extension or an empty one."""
    _, cert_start, _ = _tlv(der, 0)
    _, tbs_start, tbs_end = _tlv(der, cert_start)
    for tag, start, _end in _children(der, tbs_start, tbs_end):
        if tag != 0xA3:  # [3] EXPLICIT extensions
            continue
        _, exts_start, exts_end = _tlv(der, start)
        for _, ext_start, ext_end in _children(der, exts_start, exts_end):
            parts = list(_children(der, ext_start, ext_end))
            if der[parts[0][1] : parts[0][2]] != _EKU_OID_DER:
                continue
            _, value_start, _ = parts[-1]
            _, seq_start, seq_end = _tlv(der, value_start)
            oids = frozenset(_oid(der[s:e]) for t, s, e in _children(der, seq_start, seq_end) if t == 0x06)
            return oids or None
    return None
