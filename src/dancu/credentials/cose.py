"""COSE_Sign1 (RFC 9052) for CWTs: parse, sign, verify; ES256 (-7) and PS256 (-37) only.

The Sig_structure is `["Signature1", protected, h'', payload]`, CBOR-encoded, computed over the protected
header bytes exactly as received. ES256 signatures travel as raw `r || s` (64 bytes), not DER.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from dancu.credentials.results import CredentialFailure

ALG_ES256 = -7
ALG_PS256 = -37
ALG_NAMES: dict[int, str] = {ALG_ES256: "ES256", ALG_PS256: "PS256"}
HEADER_ALG = 1
HEADER_KID = 4
TAG_COSE_SIGN1 = 18
TAG_CWT = 61
CBOR_MAX_DEPTH = 16

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_PSS_VERIFY = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
_PSS_SIGN = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _keep(value: Any, _immutable: bool) -> Any:
    return value


def _refuse(value: Any, _immutable: bool) -> Any:
    raise cbor2.CBORDecodeError("this CBOR tag is not allowed here")


# Date tags keep their raw value (a certificate's JSON must round-trip unchanged); tags that build shared
# or cyclic structures, compile regular expressions or parse MIME are refused outright.
_SEMANTIC_DECODERS: dict[int, Any] = {
    0: _keep,
    1: _keep,
    25: _refuse,
    28: _refuse,
    29: _refuse,
    35: _refuse,
    36: _refuse,
    256: _refuse,
}


_MAP_TYPES = (dict, cbor2.frozendict)


def is_map(value: object) -> TypeGuard[Mapping[Any, Any]]:
    """A decoded CBOR map (a dict, or cbor2's frozendict inside a tag); cheaper than an ABC check."""
    return type(value) in _MAP_TYPES or isinstance(value, Mapping)


def cbor_loads(data: bytes, what: str) -> Any:
    """Decode untrusted CBOR with a depth limit and no duplicate keys; failure code `cbor`."""
    try:
        return cbor2.loads(
            data, max_depth=CBOR_MAX_DEPTH, allow_duplicate_keys=False, semantic_decoders=_SEMANTIC_DECODERS
        )
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:
        raise CredentialFailure("cbor", f"{what} is not valid CBOR ({exc})") from None


@dataclass(frozen=True, slots=True)
class Sign1:
    """A parsed COSE_Sign1 message."""

    protected_bytes: bytes
    protected: Mapping[Any, Any]
    unprotected: Mapping[Any, Any]
    payload: bytes
    signature: bytes
    alg: int
    kid: bytes | None

    def signed_data(self) -> bytes:
        return sig_structure(self.protected_bytes, self.payload)


def sig_structure(protected_bytes: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected_bytes, b"", payload])


def parse_sign1(data: bytes) -> Sign1:
    """Parse a COSE_Sign1: tag 18, untagged, or CWT tag 61 around tag 18. Failure codes `cbor`/`cose`."""
    obj = cbor_loads(data, "the COSE message")
    if isinstance(obj, cbor2.CBORTag) and obj.tag == TAG_CWT:
        obj = obj.value
    if isinstance(obj, cbor2.CBORTag):
        if obj.tag != TAG_COSE_SIGN1:
            raise CredentialFailure("cose", f"CBOR tag {obj.tag} is not a COSE_Sign1 (tag 18)")
        obj = obj.value
    # cbor2 decodes the content of a tag as immutable containers (tuple, frozendict).
    if not isinstance(obj, list | tuple) or len(obj) != 4:
        raise CredentialFailure("cose", "a COSE_Sign1 is an array of 4 elements")
    protected_bytes, unprotected, payload, signature = obj
    if not isinstance(protected_bytes, bytes) or not is_map(unprotected):
        raise CredentialFailure("cose", "COSE headers must be a byte string and a map")
    if not isinstance(payload, bytes):
        raise CredentialFailure("cose", "the COSE payload is missing or not a byte string")
    if not isinstance(signature, bytes):
        raise CredentialFailure("cose", "the COSE signature is not a byte string")
    protected: Any = cbor_loads(protected_bytes, "the protected header") if protected_bytes else {}
    if not is_map(protected):
        raise CredentialFailure("cose", "the protected header is not a map")
    alg = protected.get(HEADER_ALG, unprotected.get(HEADER_ALG))
    if not isinstance(alg, int) or isinstance(alg, bool) or alg not in ALG_NAMES:
        raise CredentialFailure("cose", f"unsupported signature algorithm {alg!r} (ES256 or PS256 expected)")
    kid = protected[HEADER_KID] if HEADER_KID in protected else unprotected.get(HEADER_KID)
    if kid is not None and not isinstance(kid, bytes):
        raise CredentialFailure("cose", "the key identifier (kid) is not a byte string")
    return Sign1(protected_bytes, protected, unprotected, payload, signature, alg, kid)


def verify_signature(public_key: PublicKey, alg: int, data: bytes, signature: bytes) -> None:
    """Check one signature; failure code `signature` (wrong length, wrong key type, or no match)."""
    try:
        if alg == ALG_ES256:
            if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp256r1":
                raise CredentialFailure("signature", "ES256 needs a P-256 key; this certificate has another")
            if len(signature) != 64:
                raise CredentialFailure("signature", f"an ES256 signature is 64 bytes, not {len(signature)}")
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            public_key.verify(encode_dss_signature(r, s), data, _ECDSA_SHA256)
        elif alg == ALG_PS256:
            if not isinstance(public_key, rsa.RSAPublicKey):
                raise CredentialFailure("signature", "PS256 needs an RSA key; this certificate has another")
            if len(signature) != (public_key.key_size + 7) // 8:
                raise CredentialFailure("signature", "the PS256 signature length does not match the key")
            public_key.verify(signature, data, _PSS_VERIFY, hashes.SHA256())
        else:
            raise CredentialFailure("cose", f"unsupported signature algorithm {alg}")
    except InvalidSignature:
        raise CredentialFailure("signature", "the signature does not match the content") from None


def sign(private_key: PrivateKey, data: bytes) -> bytes:
    """Sign COSE-style: ES256 as raw r||s, PS256 with a digest-length salt."""
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(private_key.sign(data, _ECDSA_SHA256))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return private_key.sign(data, _PSS_SIGN, hashes.SHA256())


def alg_for(private_key: PrivateKey) -> int:
    return ALG_ES256 if isinstance(private_key, ec.EllipticCurvePrivateKey) else ALG_PS256


def build_sign1(payload: bytes, *, private_key: PrivateKey, kid: bytes) -> bytes:
    """A tagged COSE_Sign1 with alg and kid in the protected header and an empty unprotected header."""
    protected = cbor2.dumps({HEADER_ALG: alg_for(private_key), HEADER_KID: kid})
    signature = sign(private_key, sig_structure(protected, payload))
    return cbor2.dumps(cbor2.CBORTag(TAG_COSE_SIGN1, [protected, {}, payload, signature]))
