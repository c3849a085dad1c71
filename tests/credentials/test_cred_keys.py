"""Key files, rotation, imports, the keyring cache and the signed trust list."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import shutil
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cred_helpers import NOW, MakeSigner
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from dancu.config import Settings
from dancu.credentials import issue_hc1, scan
from dancu.credentials.dsc import DSC, HC1_EKU, PASS_OID, CertificateError, kid_of
from dancu.credentials.keyfiles import KeyFileError, import_dsc, init_keys, rotate_keys, write_trust_list
from dancu.credentials.keys import clear_keyring_cache, get_keyring, load_keyring
from dancu.credentials.trust import TrustListError, verify_trust_list


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    path = tmp_path / "keys"
    assert init_keys(path, now=NOW - timedelta(days=1))
    return path


def _csca(keys_dir: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate((keys_dir / "csca.crt.pem").read_bytes())


def test_init_writes_private_keys_0600_in_a_0700_directory(keys_dir: Path) -> None:
    keys = list(keys_dir.rglob("*.key.pem"))
    assert len(keys) == 3  # CSCA + one DSC per role
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in keys)
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((keys_dir / "dsc").stat().st_mode) == 0o700
    state = json.loads((keys_dir / "state.json").read_text())
    assert state["country"] == "VN" and set(state["current"]) == {"hc1", "pass"}


def test_init_is_idempotent(keys_dir: Path) -> None:
    before = {p: p.read_bytes() for p in keys_dir.rglob("*") if p.is_file()}
    assert init_keys(keys_dir) is False
    assert {p: p.read_bytes() for p in keys_dir.rglob("*") if p.is_file()} == before


def test_init_refuses_an_incomplete_key_set(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "csca.key.pem").write_text("left over")
    with pytest.raises(KeyFileError, match="incomplete"):
        init_keys(tmp_path / "keys")


def test_dscs_are_signed_by_the_csca_with_eu_kids_and_usages(keys_dir: Path) -> None:
    keyring = load_keyring(keys_dir)
    assert keyring.problems == ()
    hc1, travel = keyring.signer_for("v").dsc, keyring.signer_for("travel_pass").dsc
    for dsc in (hc1, travel):
        dsc.certificate.verify_directly_issued_by(_csca(keys_dir))
        assert dsc.kid == kid_of(dsc.der) == hashlib.sha256(dsc.der).digest()[:8]
        assert dsc.country == "VN"
    assert hc1.eku == frozenset(HC1_EKU) and hc1.key_usage == ("t", "v", "r")
    assert travel.eku == frozenset({PASS_OID}) and travel.key_usage == ("pass",)


def test_rotation_keeps_old_codes_verifiable(keys_dir: Path, vaccination: dict[str, Any]) -> None:
    old = load_keyring(keys_dir)
    old_kid = old.signer_for("v").dsc.kid
    text = issue_hc1(vaccination, keyring=old, iat=NOW, exp=NOW + timedelta(days=30), cert_type="v")
    issued = rotate_keys(keys_dir, roles=["hc1"], now=NOW)
    new = load_keyring(keys_dir)
    assert new.signer_for("v").dsc.kid == issued[0].kid != old_kid
    assert new.signer_for("travel_pass").dsc.kid == old.signer_for("travel_pass").dsc.kid
    assert not (keys_dir / "dsc" / f"{old_kid.hex()}.key.pem").exists()  # retired key destroyed
    assert (keys_dir / "dsc" / f"{old_kid.hex()}.crt.pem").exists()
    assert scan(text, NOW, keyring=new).ok
    fresh = issue_hc1(vaccination, keyring=new, iat=NOW, exp=NOW + timedelta(days=30), cert_type="v")
    assert scan(fresh, NOW, keyring=new).kid == issued[0].kid


def test_rotation_needs_keys_and_known_roles(tmp_path: Path, keys_dir: Path) -> None:
    with pytest.raises(KeyFileError, match="keys init"):
        rotate_keys(tmp_path / "nothing")
    with pytest.raises(KeyFileError, match="unknown role"):
        rotate_keys(keys_dir, roles=["ticket"])


def test_trust_list_is_signed_by_the_csca(keys_dir: Path, make_signer: MakeSigner) -> None:
    rotate_keys(keys_dir, now=NOW)
    document = (keys_dir / "trust-list.json").read_bytes()
    listed = verify_trust_list(document, _csca(keys_dir))
    assert {d.kid for d in listed} == {d.kid for d in load_keyring(keys_dir).trust.dscs}
    assert len(listed) == 4  # two generations of two roles
    entry = json.loads(document)["content"]["certificates"][0]
    assert set(entry) == {"kid", "country", "key_usage", "not_before", "not_after", "source", "certificate"}

    tampered = json.loads(document)
    tampered["content"]["certificates"].pop()
    with pytest.raises(TrustListError, match="does not verify"):
        verify_trust_list(json.dumps(tampered).encode(), _csca(keys_dir))
    with pytest.raises(TrustListError, match="does not verify"):
        verify_trust_list(document, make_signer().dsc.certificate)
    with pytest.raises(TrustListError, match="not a dancu trust list"):
        verify_trust_list(b"{}", _csca(keys_dir))


def test_import_foreign_dsc(keys_dir: Path, make_signer: MakeSigner, tmp_path: Path) -> None:
    foreign = make_signer(country="DE", eku=["1.3.6.1.4.1.1847.2021.1.1"])
    pem = foreign.dsc.certificate.public_bytes(serialization.Encoding.PEM)
    dsc, added = import_dsc(keys_dir, pem)
    assert added and dsc.kid == foreign.dsc.kid and dsc.source == "imported"
    _, again = import_dsc(keys_dir, foreign.dsc.der)  # DER this time; same certificate
    assert again is False
    keyring = load_keyring(keys_dir)
    assert [d.source for d in keyring.lookup(foreign.dsc.kid)] == ["imported"]
    listed = verify_trust_list(keyring.trust_list or b"", _csca(keys_dir))
    assert any(d.kid == foreign.dsc.kid and d.country == "DE" for d in listed)
    with pytest.raises(KeyFileError, match="pass-signing"):
        import_dsc(keys_dir, make_signer(eku=[PASS_OID]).dsc.der)


def test_get_keyring_caches_and_reloads_on_rotation(keys_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dancu.credentials import keys

    settings = Settings(data_dir=keys_dir.parent)
    clear_keyring_cache()
    first = get_keyring(settings)
    assert get_keyring(settings) is first
    rotate_keys(keys_dir, now=NOW)  # as another process would: this one's cache is not cleared
    assert get_keyring(settings) is first  # the files are looked at again only after RECHECK_SECONDS
    monkeypatch.setattr(keys, "RECHECK_SECONDS", 0.0)
    second = get_keyring(settings)
    assert second is not first
    assert second.signer_for("v").dsc.kid != first.signer_for("v").dsc.kid
    clear_keyring_cache()


def test_empty_directory_gives_a_verify_only_keyring(tmp_path: Path) -> None:
    keyring = get_keyring(Settings(data_dir=tmp_path))
    assert len(keyring.trust) == 0 and keyring.trust_list is None and keyring.signers == {}
    clear_keyring_cache()


def test_signing_key_path(keys_dir: Path, tmp_path: Path, vaccination: dict[str, Any]) -> None:
    kid_hex = load_keyring(keys_dir).signer_for("v").dsc.kid.hex()
    external = tmp_path / "mounted-secret.pem"
    shutil.move(keys_dir / "dsc" / f"{kid_hex}.key.pem", external)
    assert "hc1" not in load_keyring(keys_dir).signers
    keyring = load_keyring(keys_dir, signing_key_path=external)
    assert keyring.signer_for("v").dsc.kid.hex() == kid_hex
    text = issue_hc1(vaccination, keyring=keyring, iat=NOW, exp=NOW + timedelta(days=1), cert_type="v")
    assert scan(text, NOW, keyring=keyring).ok
    unrelated = tmp_path / "other"
    unrelated.mkdir()
    init_keys(unrelated)
    other_key = next((unrelated / "dsc").glob("*.key.pem"))
    assert any("matches no DSC" in p for p in load_keyring(keys_dir, signing_key_path=other_key).problems)


def test_keys_are_never_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    keys_dir = tmp_path / "k"
    init_keys(keys_dir)
    rotate_keys(keys_dir)
    key_file = next((keys_dir / "dsc").glob("*.key.pem"))
    key_file.chmod(0o644)
    load_keyring(keys_dir)
    assert "accessible to other users" in caplog.text
    assert "PRIVATE KEY" not in caplog.text
    assert key_file.read_text().splitlines()[1] not in caplog.text


def test_trust_list_needs_the_csca_key(keys_dir: Path) -> None:
    (keys_dir / "csca.key.pem").unlink()
    with pytest.raises(KeyFileError, match="offline"):
        write_trust_list(keys_dir)


def test_der_certificate_ending_in_a_whitespace_byte_loads(make_signer: MakeSigner) -> None:
    """DER is binary: a signature may end in 0x0a or 0x20, which must not be stripped."""
    for _ in range(3000):
        dsc = make_signer().dsc
        if dsc.der[-1:].isspace():
            break
    else:
        pytest.fail("no certificate ending in a whitespace byte was generated")
    assert DSC.load(dsc.der).der == dsc.der


def test_certificate_formats(make_signer: MakeSigner) -> None:
    dsc = make_signer(eku=[PASS_OID, "1.3.6.1.4.1.1847.2021.1.2"]).dsc
    pem = dsc.certificate.public_bytes(serialization.Encoding.PEM)
    for data in (dsc.der, pem, b"\n" + pem + b"\n", base64.b64encode(dsc.der)):
        assert DSC.load(data).kid == dsc.kid
    assert dsc.eku == frozenset({PASS_OID, "1.3.6.1.4.1.1847.2021.1.2"})
    assert dsc.key_usage == ("v", "pass")
    for junk in (
        b"",
        b"hello",
        b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----",
        b"\x30\x03abc",
    ):
        with pytest.raises(CertificateError):
            DSC.load(junk)
