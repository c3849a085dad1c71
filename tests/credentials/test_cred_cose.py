"""COSE_Sign1 and the container: tags, kid placement, algorithms, signatures, zlib limits, CBOR garbage."""

from __future__ import annotations

import dataclasses
import zlib
from datetime import timedelta
from typing import Any

import cbor2
import pytest
from cred_helpers import NOW, MakeSigner

from dancu.credentials import base45, cose
from dancu.credentials.container import MAX_DECOMPRESSED, inflate, unwrap, wrap
from dancu.credentials.hc1 import verify_hc1
from dancu.credentials.keys import Signer
from dancu.credentials.results import CredentialFailure
from dancu.credentials.trust import TrustStore


def claims(dcc: dict[str, Any]) -> bytes:
    iat = int((NOW - timedelta(days=1)).timestamp())
    return cbor2.dumps({1: "VN", 6: iat, 4: iat + 86400 * 30, -260: {1: dcc}})


def message(
    signer: Signer,
    payload: bytes,
    *,
    protected: dict[int, Any] | None = None,
    unprotected: dict[int, Any] | None = None,
    tag: str = "18",
    signature: bytes | None = None,
) -> bytes:
    header = {1: cose.alg_for(signer.private_key), 4: signer.dsc.kid} if protected is None else protected
    header_bytes = cbor2.dumps(header) if header else b""
    if signature is None:
        signature = cose.sign(signer.private_key, cose.sig_structure(header_bytes, payload))
    body = [header_bytes, unprotected or {}, payload, signature]
    if tag == "18":
        return cbor2.dumps(cbor2.CBORTag(18, body))
    if tag == "61":
        return cbor2.dumps(cbor2.CBORTag(61, cbor2.CBORTag(18, body)))
    return cbor2.dumps(body)


def check(signer: Signer, cose_bytes: bytes, trust: TrustStore | None = None) -> tuple[bool, str | None]:
    result = verify_hc1(wrap("HC1:", cose_bytes), trust=trust or TrustStore([signer.dsc]), clock=NOW)
    return result.ok, result.failure


@pytest.fixture(scope="module")
def signer(make_signer: MakeSigner) -> Signer:
    return make_signer()


@pytest.mark.parametrize("tag", ["18", "untagged", "61"])
def test_accepts_tag_18_untagged_and_cwt_tag_61(signer: Signer, vaccination: dict[str, Any], tag: str) -> None:
    assert check(signer, message(signer, claims(vaccination), tag=tag)) == (True, None)


def test_other_tag_is_a_cose_failure(signer: Signer, vaccination: dict[str, Any]) -> None:
    data = cbor2.dumps(cbor2.CBORTag(98, [b"", {}, claims(vaccination), b"x"]))
    assert check(signer, data) == (False, "cose")


def test_kid_in_unprotected_header_is_used_when_protected_has_none(signer: Signer, vaccination: dict[str, Any]) -> None:
    data = message(signer, claims(vaccination), protected={1: -7}, unprotected={4: signer.dsc.kid})
    assert check(signer, data) == (True, None)


def test_protected_kid_wins_over_unprotected(signer: Signer, vaccination: dict[str, Any]) -> None:
    good = message(signer, claims(vaccination), unprotected={4: b"wrongkid"})
    assert check(signer, good) == (True, None)
    protected = {1: -7, 4: b"wrongkid"}
    bad = message(signer, claims(vaccination), protected=protected, unprotected={4: signer.dsc.kid})
    assert check(signer, bad) == (False, "unknown_kid")


def test_missing_kid_is_unknown_kid(signer: Signer, vaccination: dict[str, Any]) -> None:
    assert check(signer, message(signer, claims(vaccination), protected={1: -7})) == (False, "unknown_kid")


@pytest.mark.parametrize("alg", [-35, -8, "ES256", None])
def test_unsupported_algorithm_is_a_cose_failure(signer: Signer, vaccination: dict[str, Any], alg: Any) -> None:
    header = {4: signer.dsc.kid} if alg is None else {1: alg, 4: signer.dsc.kid}
    assert check(signer, message(signer, claims(vaccination), protected=header)) == (False, "cose")


def test_algorithm_that_does_not_fit_the_key_is_a_signature_failure(
    signer: Signer, vaccination: dict[str, Any]
) -> None:
    data = message(signer, claims(vaccination), protected={1: -37, 4: signer.dsc.kid})
    assert check(signer, data) == (False, "signature")


@pytest.mark.parametrize(
    "body",
    [
        [b"", {}, b"payload"],  # 3 elements
        [b"", [], b"payload", b"sig"],  # unprotected header not a map
        [{}, {}, b"payload", b"sig"],  # protected header not a byte string
        [b"", {}, None, b"sig"],  # detached payload
        [b"", {}, b"payload", "sig"],  # signature not bytes
        [cbor2.dumps([1, 2]), {}, b"payload", b"sig"],  # protected header not a map
        "not an array",
    ],
)
def test_wrong_structure_is_a_cose_failure(signer: Signer, body: Any) -> None:
    assert check(signer, cbor2.dumps(cbor2.CBORTag(18, body))) == (False, "cose")


def test_non_bytes_kid_is_a_cose_failure(signer: Signer, vaccination: dict[str, Any]) -> None:
    assert check(signer, message(signer, claims(vaccination), protected={1: -7, 4: "text-kid"})) == (
        False,
        "cose",
    )


@pytest.mark.parametrize("length", [0, 63, 65, 72])
def test_es256_signature_of_wrong_length(signer: Signer, vaccination: dict[str, Any], length: int) -> None:
    assert check(signer, message(signer, claims(vaccination), signature=b"\x01" * length)) == (
        False,
        "signature",
    )


def test_der_encoded_es256_signature_is_refused(signer: Signer, vaccination: dict[str, Any]) -> None:
    payload = claims(vaccination)
    header = cbor2.dumps({1: -7, 4: signer.dsc.kid})
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    assert isinstance(signer.private_key, ec.EllipticCurvePrivateKey)
    der = signer.private_key.sign(cose.sig_structure(header, payload), ec.ECDSA(hashes.SHA256()))
    assert check(signer, message(signer, payload, signature=der)) == (False, "signature")


def test_tampered_payload_fails_the_signature(signer: Signer, vaccination: dict[str, Any]) -> None:
    data = message(signer, claims(vaccination))
    tampered = data.replace(b"Nguy", b"Nguo")
    assert tampered != data
    assert check(signer, tampered) == (False, "signature")


def test_ps256_round_trip(make_signer: MakeSigner, vaccination: dict[str, Any]) -> None:
    rsa_signer = make_signer(alg="PS256")
    data = message(rsa_signer, claims(vaccination))
    assert cose.parse_sign1(data).alg == cose.ALG_PS256
    assert check(rsa_signer, data) == (True, None)


def test_kid_collision_tries_every_signer(signer: Signer, make_signer: MakeSigner, vaccination: dict[str, Any]) -> None:
    other = make_signer()
    impostor = dataclasses.replace(other.dsc, kid=signer.dsc.kid)  # same kid, different key
    data = message(signer, claims(vaccination))
    for order in ([impostor, signer.dsc], [signer.dsc, impostor]):
        assert check(signer, data, TrustStore(order)) == (True, None)
    forged = message(other, claims(vaccination), protected={1: -7, 4: signer.dsc.kid})
    assert check(signer, forged, TrustStore([impostor, signer.dsc])) == (True, None)
    assert check(signer, forged, TrustStore([signer.dsc])) == (False, "signature")


def test_zlib_bomb_stops_at_the_limit() -> None:
    bomb = zlib.compress(b"\0" * (50 * 1024 * 1024), 9)
    assert len(bomb) < 60_000
    with pytest.raises(CredentialFailure) as caught:
        unwrap(base45.encode(bomb))
    assert caught.value.code == "zlib"
    assert "64 KiB" in caught.value.detail
    assert inflate(zlib.compress(b"x" * MAX_DECOMPRESSED)) == b"x" * MAX_DECOMPRESSED


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (zlib.compress(b"some cose bytes")[:-3], "zlib"),  # truncated stream
        (b"\xd2\x84not compressed", "zlib"),
        (b"", "zlib"),
    ],
)
def test_broken_compression(data: bytes, code: str) -> None:
    with pytest.raises(CredentialFailure) as caught:
        unwrap(base45.encode(data))
    assert caught.value.code == code


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xff\xff",
        b"\xd2\x84\x43",  # truncated
        b"\x9f" * 100,  # deep indefinite arrays, unterminated
        b"\x81" * 40 + b"\x00",  # nested deeper than the limit
        bytes.fromhex("d81c81d81d00"),  # shared reference (would build a cycle)
    ],
)
def test_garbage_cbor_is_a_cbor_failure(signer: Signer, data: bytes) -> None:
    assert check(signer, data) == (False, "cbor")


def test_claims_that_are_not_a_map(signer: Signer) -> None:
    assert check(signer, message(signer, cbor2.dumps([1, 2, 3]))) == (False, "format")
    assert check(signer, message(signer, b"\xff")) == (False, "cbor")


def test_non_integer_alg_is_a_cose_failure_not_a_crash() -> None:
    """Found by the property test: a mutated protected header whose alg is a map (unhashable)."""
    import cbor2
    import pytest as _pytest

    from dancu.credentials.cose import parse_sign1
    from dancu.credentials.results import CredentialFailure

    for alg in ({}, [], "ES256", 1.5, True):
        data = cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps({1: alg, 4: b"12345678"}), {}, b"payload", b"sig"]))
        with _pytest.raises(CredentialFailure) as err:
            parse_sign1(data)
        assert err.value.code == "cose"
