"""Matching signatures are remembered (dsc._VERIFIED): a re-scan skips the ES256 check, and nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cred_helpers import MakeSigner
from test_cred_cose import check, claims, message

from dancu.credentials import dsc as dsc_module
from dancu.credentials.keys import Signer
from dancu.credentials.trust import TrustStore


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """The signatures actually computed (the real check runs; each call is recorded), on an empty memory."""
    calls: list[bytes] = []
    real = dsc_module.verify_signature

    def counting(public_key: Any, alg: int, data: bytes, signature: bytes) -> None:
        calls.append(signature)
        real(public_key, alg, data, signature)

    monkeypatch.setattr(dsc_module, "verify_signature", counting)
    monkeypatch.setattr(dsc_module, "_VERIFIED", {})
    yield calls


@pytest.fixture(scope="module")
def signer(make_signer: MakeSigner) -> Signer:
    return make_signer()


def test_a_second_scan_of_the_same_code_skips_the_signature_check(
    signer: Signer, vaccination: dict[str, Any], computed: list[bytes]
) -> None:
    cose_bytes = message(signer, claims(vaccination))
    assert check(signer, cose_bytes) == (True, None)
    assert check(signer, cose_bytes) == (True, None)
    assert len(computed) == 1


def test_a_failed_signature_is_checked_again_every_time(
    signer: Signer, vaccination: dict[str, Any], computed: list[bytes]
) -> None:
    cose_bytes = message(signer, claims(vaccination), signature=bytes(64))
    assert check(signer, cose_bytes) == (False, "signature")
    assert check(signer, cose_bytes) == (False, "signature")
    assert len(computed) == 2
    assert dsc_module._VERIFIED == {}


def test_trust_is_still_decided_on_every_scan(
    signer: Signer, make_signer: MakeSigner, vaccination: dict[str, Any], computed: list[bytes]
) -> None:
    cose_bytes = message(signer, claims(vaccination))
    assert check(signer, cose_bytes) == (True, None)
    # The same code against a trust list without its signer (a withdrawn certificate): refused.
    assert check(signer, cose_bytes, TrustStore([make_signer().dsc])) == (False, "unknown_kid")


def test_another_key_with_the_same_kid_does_not_reuse_the_match(
    signer: Signer, make_signer: MakeSigner, vaccination: dict[str, Any], computed: list[bytes]
) -> None:
    cose_bytes = message(signer, claims(vaccination))
    assert check(signer, cose_bytes) == (True, None)
    impostor = make_signer().dsc
    impostor = type(impostor)(impostor.certificate, impostor.der, signer.dsc.kid, impostor.public_key,
                              impostor.country, impostor.eku, impostor.not_before, impostor.not_after)
    assert check(signer, cose_bytes, TrustStore([impostor])) == (False, "signature")


def test_the_memory_is_bounded_and_forgets_the_oldest(
    signer: Signer, vaccination: dict[str, Any], computed: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dsc_module, "VERIFIED_MAX", 3)
    codes = [message(signer, claims({**vaccination, "ver": f"1.{i}.0"})) for i in range(5)]
    for code in codes:
        assert check(signer, code) == (True, None)
    assert len(dsc_module._VERIFIED) == 3
    assert check(signer, codes[-1]) == (True, None)  # recent: remembered
    assert len(computed) == 5
    assert check(signer, codes[0]) == (True, None)  # forgotten: computed again, and still valid
    assert len(computed) == 6
