"""Fixtures for the credentials tests: throw-away keys and signers, no database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cred_helpers import NOW, MakeSigner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier

from dancu.config import get_settings
from dancu.credentials.dsc import DSC
from dancu.credentials.keyfiles import init_keys
from dancu.credentials.keys import Keyring, Signer, clear_keyring_cache, load_keyring


@pytest.fixture(scope="session")
def session_keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keys_dir = tmp_path_factory.mktemp("credentials") / "keys"
    assert init_keys(keys_dir, now=NOW - timedelta(days=1))
    return keys_dir


@pytest.fixture(scope="session")
def keyring(session_keys_dir: Path) -> Keyring:
    return load_keyring(session_keys_dir)


@pytest.fixture
def data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A fresh DANCU_DATA_DIR for code that reads settings at call time (CLI, API dependency)."""
    monkeypatch.setenv("DANCU_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DANCU_SIGNING_KEY_PATH", raising=False)
    get_settings.cache_clear()
    clear_keyring_cache()
    yield tmp_path
    get_settings.cache_clear()
    clear_keyring_cache()


@pytest.fixture(scope="session")
def make_signer() -> MakeSigner:
    """A self-signed DSC with chosen key usage, validity and algorithm, with its private key."""

    def make(
        *,
        eku: list[str] | None = None,
        not_before: datetime = NOW - timedelta(days=30),
        not_after: datetime = NOW + timedelta(days=365),
        alg: str = "ES256",
        country: str = "VN",
    ) -> Signer:
        key: Any = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if alg == "PS256"
            else ec.generate_private_key(ec.SECP256R1())
        )
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, country),
                x509.NameAttribute(NameOID.COMMON_NAME, "test DSC"),
            ]
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
        )
        if eku is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage([ObjectIdentifier(o) for o in eku]), critical=False)
        cert = builder.sign(key, hashes.SHA256())
        return Signer(DSC.from_der(cert.public_bytes(serialization.Encoding.DER), "own"), key)

    return make


@pytest.fixture
def vaccination() -> dict[str, Any]:
    return {
        "ver": "1.3.0",
        "nam": {"fn": "Nguyễn", "fnt": "NGUYEN", "gn": "Văn An", "gnt": "VAN<AN"},
        "dob": "1990-05-17",
        "v": [
            {
                "tg": "840539006",
                "vp": "J07BX03",
                "mp": "EU/1/20/1528",
                "ma": "ORG-100030215",
                "dn": 2,
                "sd": 2,
                "dt": "2021-10-01",
                "co": "VN",
                "is": "Ministry of Health",
                "ci": "URN:UVCI:01:VN:DANCU/TEST0001",
            }
        ],
    }


@pytest.fixture
def test_result() -> dict[str, Any]:
    return {
        "ver": "1.3.0",
        "nam": {"fn": "Trần", "fnt": "TRAN", "gn": "Thị Bình", "gnt": "THI<BINH"},
        "dob": "1985",
        "t": [
            {
                "tg": "840539006",
                "tt": "LP6464-4",
                "sc": "2026-02-28T08:00:00Z",
                "tr": "260415000",
                "tc": "Bệnh viện Bạch Mai",
                "co": "VN",
                "is": "Ministry of Health",
                "ci": "URN:UVCI:01:VN:DANCU/TEST0002",
            }
        ],
    }
