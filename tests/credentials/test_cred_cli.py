"""`dancu keys` and `dancu qr`: the command-line contract, with settings from DANCU_DATA_DIR."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import cbor2
from cred_helpers import NOW, MakeSigner
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from dancu.credentials.cli import keys_app, qr_app
from dancu.credentials.container import wrap
from dancu.credentials.trust import verify_trust_list

runner = CliRunner()


def keys(*args: str) -> Any:
    return runner.invoke(keys_app, list(args))


def qr(*args: str, stdin: str | None = None) -> Any:
    return runner.invoke(qr_app, list(args), input=stdin)


def test_keys_init_is_idempotent(data_dir: Path) -> None:
    first = keys("init")
    assert first.exit_code == 0 and "Created" in first.stdout
    assert (data_dir / "keys" / "csca.key.pem").exists()
    second = keys("init")
    assert second.exit_code == 0 and "nothing done" in second.stdout


def test_keys_list_rotate_and_export(data_dir: Path, tmp_path: Path) -> None:
    keys("init")
    before = json.loads(keys("list", "--json").stdout)
    assert sorted(row["current"] for row in before) == ["hc1", "pass"]
    rotated = keys("rotate", "--role", "hc1")
    assert rotated.exit_code == 0 and "New document signers" in rotated.stdout
    after = json.loads(keys("list", "--json").stdout)
    assert len(after) == 3 and sum(1 for row in after if row["current"]) == 2
    human = keys("list")
    assert "current hc1" in human.stdout and "current pass" in human.stdout

    exported = keys("export-trust-list")
    csca = x509.load_pem_x509_certificate((data_dir / "keys" / "csca.crt.pem").read_bytes())
    assert len(verify_trust_list(exported.stdout.encode(), csca)) == 3
    out = tmp_path / "trust.json"
    assert keys("export-trust-list", "--out", str(out)).exit_code == 0
    assert len(verify_trust_list(out.read_bytes(), csca)) == 3
    assert keys("rotate", "--role", "ticket").exit_code == 2


def test_keys_commands_without_keys(data_dir: Path) -> None:
    assert "keys init" in keys("list").stdout
    result = keys("rotate")
    assert result.exit_code == 1 and "keys init" in result.output


def test_import_dsc(data_dir: Path, tmp_path: Path, make_signer: MakeSigner) -> None:
    keys("init")
    foreign = make_signer(country="FR")
    pem = tmp_path / "fr.pem"
    pem.write_bytes(foreign.dsc.certificate.public_bytes(serialization.Encoding.PEM))
    result = keys("import-dsc", str(pem))
    assert result.exit_code == 0 and "Imported" in result.stdout and foreign.dsc.kid.hex() in result.stdout
    assert "Already trusted" in keys("import-dsc", str(pem)).stdout
    listed = json.loads(keys("list", "--json").stdout)
    assert any(row["kid"] == foreign.dsc.kid.hex() and row["source"] == "imported" for row in listed)
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"not a certificate")
    assert keys("import-dsc", str(junk)).exit_code == 1


def test_round_trip_issue_render_decode_verify(data_dir: Path, tmp_path: Path) -> None:
    keys("init")
    png = tmp_path / "cert.png"
    issued = qr("issue-test-hc1", "--family-name", "Phạm", "--given-name", "Thị Ngọc Ánh", "--out", str(png))
    assert issued.exit_code == 0, issued.output
    text = issued.stdout.splitlines()[0]
    assert text.startswith("HC1:")

    decoded = qr("decode", str(png))
    assert decoded.exit_code == 0 and decoded.stdout.strip() == text

    for target in (str(png), text):
        result = qr("verify", "--json", target)
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)  # exactly one JSON object
        assert data["kind"] == "hc1" and data["ok"] is True and data["failure"] is None
        assert data["payload"]["nam"] == {
            "fn": "Phạm",
            "fnt": "PHAM",
            "gn": "Thị Ngọc Ánh",
            "gnt": "THI<NGOC<ANH",
        }

    human = qr("verify", text)
    assert human.exit_code == 0 and human.stdout.startswith("OK  hc1:")

    svg = tmp_path / "cert.svg"
    assert qr("render", text, "--out", str(svg)).exit_code == 0
    assert svg.read_bytes().lstrip().startswith(b"<svg")
    assert qr("render", text, "--out", str(tmp_path / "cert.gif")).exit_code == 2
    assert qr("verify", "--json", "-", stdin=text + "\n").exit_code == 0


def test_verify_failures_and_clock(data_dir: Path) -> None:
    keys("init")
    text = qr("issue-test-hc1", "--days", "10").stdout.splitlines()[0]
    expired = qr("verify", "--json", "--clock", (NOW + timedelta(days=3650)).isoformat(), text)
    assert expired.exit_code == 1
    assert json.loads(expired.stdout)["failure"] == "expired"
    naive = qr("verify", "--json", "--clock", "2099-01-01T00:00:00", text)
    assert json.loads(naive.stdout)["failure"] == "expired"
    assert qr("verify", "--json", "--clock", "yesterday", text).exit_code == 2

    garbage = qr("verify", "--json", "HC2:ABC")
    assert garbage.exit_code == 1
    assert json.loads(garbage.stdout) | {"detail": ""} == {
        "kind": "unrecognised",
        "ok": False,
        "failure": "prefix",
        "detail": "",
        "payload": {},
        "kid": None,
        "issuer": None,
        "iat": None,
        "exp": None,
        "cert_type": None,
    }
    cccd = qr("verify", "--json", "001090123456||Nguyễn Văn A|17051990|Nam|Hà Nội|15042021")
    assert cccd.exit_code == 0 and json.loads(cccd.stdout)["kind"] == "cccd"


def test_verify_with_trusted_certificates(
    data_dir: Path, tmp_path: Path, make_signer: MakeSigner, vaccination: dict[str, Any]
) -> None:
    signer = make_signer()
    iat = int(NOW.timestamp())
    text = wrap("HC1:", signer.sign1(cbor2.dumps({1: "VN", 6: iat, 4: iat + 86400, -260: {1: vaccination}})))
    clock = ("--clock", NOW.isoformat())
    assert json.loads(qr("verify", "--json", *clock, text).stdout)["failure"] == "unknown_kid"
    der, pem = tmp_path / "dsc.der", tmp_path / "dsc.pem"
    der.write_bytes(signer.dsc.der)
    pem.write_bytes(signer.dsc.certificate.public_bytes(serialization.Encoding.PEM))
    other = tmp_path / "other.pem"
    other.write_bytes(make_signer().dsc.certificate.public_bytes(serialization.Encoding.PEM))
    for path in (der, pem):
        result = qr("verify", "--json", *clock, "--trust", str(other), "--trust", str(path), text)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["ok"] is True
    assert qr("verify", "--json", "--trust", str(tmp_path / "missing.pem"), text).exit_code == 2


def test_non_image_file_is_a_typed_failure(data_dir: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "photo.png"
    bogus.write_text("definitely not a PNG")
    result = qr("verify", "--json", str(bogus))
    assert result.exit_code == 1
    assert json.loads(result.stdout)["failure"] == "format"
    assert qr("decode", str(bogus)).exit_code == 1


def test_issue_without_keys_explains(data_dir: Path) -> None:
    result = qr("issue-test-hc1")
    assert result.exit_code == 1 and "dancu keys init" in result.output
