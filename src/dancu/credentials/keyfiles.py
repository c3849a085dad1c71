"""Key management on disk: create the CSCA and DSCs, rotate, import foreign DSCs, write the trust list.

Private keys are written once, with mode 0600, into a 0700 directory, and never logged. A rotation issues a
new DSC per role, makes it current, and deletes the retired private key; the retired certificate stays so
codes it signed verify until it expires. Every change bumps `generation` in state.json (which makes running
processes reload) and re-signs trust-list.json.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier

from dancu.credentials.cose import PrivateKey
from dancu.credentials.dsc import DSC, HC1_EKU, PASS_OID
from dancu.credentials.keys import (
    ROLE_HC1,
    ROLE_PASS,
    ROLES,
    STATE_FILE,
    TRUST_LIST_FILE,
    load_keyring,
    read_state,
)
from dancu.credentials.trust import build_trust_list

Alg = Literal["ES256", "PS256"]
DSC_DAYS = 365
CSCA_DAYS = 3650


class KeyFileError(RuntimeError):
    """A key-management command cannot proceed; the message says why."""


def _new_key(alg: Alg) -> PrivateKey:
    if alg == "PS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    return ec.generate_private_key(ec.SECP256R1())


def _write_private(path: Path, key: PrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_state(keys_dir: Path, state: dict[str, Any]) -> None:
    _write_public(keys_dir / STATE_FILE, json.dumps(state, indent=1, sort_keys=True).encode("utf-8"))


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(country: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dancu"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


_NO_USAGE = {
    "content_commitment": False,
    "key_encipherment": False,
    "data_encipherment": False,
    "key_agreement": False,
    "encipher_only": False,
    "decipher_only": False,
}


def _csca_certificate(key: PrivateKey, country: str, now: datetime, days: int) -> x509.Certificate:
    name = _name(country, f"dancu CSCA {country}")
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=False, key_cert_sign=True, crl_sign=True, **_NO_USAGE),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return builder.sign(key, hashes.SHA256())


def _dsc_certificate(
    key: PrivateKey,
    role: str,
    *,
    csca: x509.Certificate,
    csca_key: PrivateKey,
    country: str,
    now: datetime,
    days: int,
) -> x509.Certificate:
    usages = [PASS_OID] if role == ROLE_PASS else list(HC1_EKU)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(country, f"dancu DSC {role} {now:%Y%m%d%H%M%S}"))
        .issuer_name(csca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **_NO_USAGE),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ObjectIdentifier(oid) for oid in usages]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(csca.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    return builder.sign(csca_key, hashes.SHA256())


def _load_csca(keys_dir: Path) -> tuple[x509.Certificate, PrivateKey]:
    cert_path, key_path = keys_dir / "csca.crt.pem", keys_dir / "csca.key.pem"
    if not cert_path.exists():
        raise KeyFileError(f"no keys in {keys_dir}: run `dancu keys init` first")
    if not key_path.exists():
        raise KeyFileError("the CSCA private key is not in the keys directory (kept offline?)")
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise KeyFileError("the CSCA key must be EC or RSA")
    return x509.load_pem_x509_certificate(cert_path.read_bytes()), key


def _issue_dsc(keys_dir: Path, role: str, alg: Alg, days: int, now: datetime, country: str) -> DSC:
    csca, csca_key = _load_csca(keys_dir)
    key = _new_key(alg)
    cert = _dsc_certificate(key, role, csca=csca, csca_key=csca_key, country=country, now=now, days=days)
    dsc = DSC.from_der(cert.public_bytes(serialization.Encoding.DER), "own")
    _write_private(keys_dir / "dsc" / f"{dsc.kid.hex()}.key.pem", key)
    _write_public(keys_dir / "dsc" / f"{dsc.kid.hex()}.crt.pem", _cert_pem(cert))
    return dsc


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).replace(microsecond=0)


def init_keys(
    keys_dir: Path,
    *,
    country: str = "VN",
    alg: Alg = "ES256",
    dsc_days: int = DSC_DAYS,
    csca_days: int = CSCA_DAYS,
    now: datetime | None = None,
) -> bool:
    """Create the CSCA and one DSC per role; False (and nothing touched) when keys already exist."""
    if (keys_dir / STATE_FILE).exists():
        return False
    partial = [name for name in ("csca.crt.pem", "csca.key.pem") if (keys_dir / name).exists()]
    if partial:
        raise KeyFileError(f"{keys_dir} holds an incomplete key set ({', '.join(partial)}): move it away first")
    at = _now(now)
    for directory in (keys_dir, keys_dir / "dsc", keys_dir / "foreign"):
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
    csca_key = _new_key(alg)
    _write_private(keys_dir / "csca.key.pem", csca_key)
    _write_public(keys_dir / "csca.crt.pem", _cert_pem(_csca_certificate(csca_key, country, at, csca_days)))
    current = {role: _issue_dsc(keys_dir, role, alg, dsc_days, at, country).kid.hex() for role in ROLES}
    _write_state(keys_dir, {"country": country, "generation": 1, "current": current})
    write_trust_list(keys_dir)
    return True


def rotate_keys(
    keys_dir: Path,
    *,
    roles: Iterable[str] = ROLES,
    alg: Alg = "ES256",
    dsc_days: int = DSC_DAYS,
    now: datetime | None = None,
) -> list[DSC]:
    """Issue and switch to new DSCs for `roles`; retired keys are deleted, their certificates kept."""
    state = read_state(keys_dir)
    if not state:
        raise KeyFileError(f"no keys in {keys_dir}: run `dancu keys init` first")
    at = _now(now)
    current: dict[str, str] = dict(state.get("current") or {})
    retired: list[str] = []
    issued: list[DSC] = []
    for role in roles:
        if role not in (ROLE_HC1, ROLE_PASS):
            raise KeyFileError(f"unknown role {role!r} (hc1 or pass)")
        dsc = _issue_dsc(keys_dir, role, alg, dsc_days, at, str(state.get("country", "VN")))
        if role in current:
            retired.append(current[role])
        current[role] = dsc.kid.hex()
        issued.append(dsc)
    _write_state(keys_dir, {**state, "current": current, "generation": int(state.get("generation", 0)) + 1})
    for kid_hex in retired:
        (keys_dir / "dsc" / f"{kid_hex}.key.pem").unlink(missing_ok=True)
    write_trust_list(keys_dir)
    return issued


def import_dsc(keys_dir: Path, data: bytes) -> tuple[DSC, bool]:
    """Trust a foreign DSC (DER or PEM). Returns it and whether it was new."""
    state = read_state(keys_dir)
    if not state:
        raise KeyFileError(f"no keys in {keys_dir}: run `dancu keys init` first")
    dsc = DSC.load(data, "imported")
    if dsc.may_sign_passes:
        raise KeyFileError("a foreign certificate may not carry dancu's pass-signing usage")
    fingerprint = hashlib.sha256(dsc.der).hexdigest()[:8]
    path = keys_dir / "foreign" / f"{dsc.kid.hex()}-{fingerprint}.crt.pem"
    own = keys_dir / "dsc" / f"{dsc.kid.hex()}.crt.pem"
    if path.exists() or (own.exists() and DSC.load(own.read_bytes()).der == dsc.der):
        return dsc, False
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_public(path, _cert_pem(dsc.certificate))
    _write_state(keys_dir, {**state, "generation": int(state.get("generation", 0)) + 1})
    write_trust_list(keys_dir)
    return dsc, True


def write_trust_list(keys_dir: Path) -> bytes:
    """Re-sign trust-list.json from every DSC on disk (ours and imported) and return it."""
    csca, csca_key = _load_csca(keys_dir)
    keyring = load_keyring(keys_dir)
    state = read_state(keys_dir)
    document = build_trust_list(
        keyring.trust.dscs,
        csca=csca,
        csca_key=csca_key,
        issuer=str(state.get("country", "VN")),
        generation=int(state.get("generation", 0)),
    )
    _write_public(keys_dir / TRUST_LIST_FILE, document)
    return document
