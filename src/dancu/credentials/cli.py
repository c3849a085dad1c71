"""`dancu keys ...` and `dancu qr ...` (mounted by the root CLI). Settings are read at call time.

Contract relied on by scripts: `dancu qr verify [--json] [--clock ISO8601] [--trust CERT_FILE]... TARGET`
prints one JSON object with --json and exits 0 when the code is valid, 1 when it is not (2: usage error).
"""

from __future__ import annotations

import json
import secrets
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from dancu.config import get_settings
from dancu.core.errors import DomainError
from dancu.credentials.cwt import parse_clock
from dancu.credentials.dsc import DSC, CertificateError
from dancu.credentials.hc1 import dcc_name, issue_hc1
from dancu.credentials.keyfiles import Alg, KeyFileError, import_dsc, init_keys, rotate_keys, write_trust_list
from dancu.credentials.keys import ROLES, Keyring, clear_keyring_cache, get_keyring
from dancu.credentials.qrimage import decode_qr_image, render_png, render_svg
from dancu.credentials.results import CredentialFailure, ScanResult
from dancu.credentials.scan import scan, scan_image

keys_app = typer.Typer(help="Signing keys (CSCA, DSCs) and the trust list.", no_args_is_help=True)
qr_app = typer.Typer(help="Verify, decode, render and issue QR codes.", no_args_is_help=True)

AlgOption = Annotated[str, typer.Option("--alg", help="ES256 (P-256, default) or PS256 (RSA-PSS 3072)")]
DaysOption = Annotated[int, typer.Option("--days", min=1, max=3650, help="DSC validity in days")]


def _alg(value: str) -> Alg:
    if value == "ES256":
        return "ES256"
    if value == "PS256":
        return "PS256"
    raise typer.BadParameter("use ES256 or PS256", param_hint="--alg")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _describe(keyring: Keyring) -> list[dict[str, Any]]:
    current = {signer.dsc.kid: role for role, signer in keyring.signers.items()}
    return [
        {
            "kid": dsc.kid.hex(),
            "source": dsc.source,
            "current": current.get(dsc.kid),
            "country": dsc.country,
            "key_usage": list(dsc.key_usage),
            "not_before": dsc.not_before.isoformat(),
            "not_after": dsc.not_after.isoformat(),
        }
        for dsc in sorted(keyring.trust.dscs, key=lambda d: (d.source, d.not_before))
    ]


def _print_keys(keyring: Keyring) -> None:
    for row in _describe(keyring):
        marker = f"current {row['current']}" if row["current"] else row["source"]
        usage = ",".join(row["key_usage"]) or "-"
        typer.echo(
            f"{row['kid']}  {row['country'] or '--'}  {usage:<9} {row['not_before'][:10]} .. "
            f"{row['not_after'][:10]}  {marker}"
        )


@keys_app.command("init")
def keys_init(
    country: Annotated[str, typer.Option(help="ISO country code of the issuer")] = "VN",
    alg: AlgOption = "ES256",
    days: DaysOption = 365,
) -> None:
    """Create the CSCA and the document signers. Does nothing when keys already exist."""
    keys_dir = get_settings().keys_dir
    try:
        created = init_keys(keys_dir, country=country.upper(), alg=_alg(alg), dsc_days=days)
    except KeyFileError as exc:
        raise _fail(str(exc)) from None
    if not created:
        typer.echo(f"Keys already exist in {keys_dir}; nothing done.")
        return
    clear_keyring_cache()
    typer.echo(f"Created the CSCA and document signers in {keys_dir}:")
    _print_keys(get_keyring())


@keys_app.command("rotate")
def keys_rotate(
    role: Annotated[list[str] | None, typer.Option("--role", help="hc1 or pass (default both)")] = None,
    alg: AlgOption = "ES256",
    days: DaysOption = 365,
) -> None:
    """Issue new document signers; old certificates stay trusted until they expire."""
    roles = role or list(ROLES)
    if any(r not in ROLES for r in roles):
        raise typer.BadParameter("use hc1 or pass", param_hint="--role")
    try:
        issued = rotate_keys(get_settings().keys_dir, roles=roles, alg=_alg(alg), dsc_days=days)
    except KeyFileError as exc:
        raise _fail(str(exc)) from None
    clear_keyring_cache()
    typer.echo("New document signers: " + ", ".join(dsc.kid.hex() for dsc in issued))


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The trusted document signers, ours and imported."""
    keyring = get_keyring()
    if as_json:
        typer.echo(json.dumps(_describe(keyring), indent=1))
        return
    if not keyring.trust.dscs:
        typer.echo(f"No keys in {get_settings().keys_dir}; run `dancu keys init`.")
    _print_keys(keyring)
    for problem in keyring.problems:
        typer.echo(f"warning: {problem}", err=True)


@keys_app.command("export-trust-list")
def keys_export(
    out: Annotated[Path | None, typer.Option("--out", help="write here instead of stdout")] = None,
) -> None:
    """Sign and print the trust list (all DSCs, for offline verifiers holding the CSCA certificate)."""
    try:
        document = write_trust_list(get_settings().keys_dir)
    except KeyFileError as exc:
        raise _fail(str(exc)) from None
    if out is None:
        sys.stdout.write(document.decode("ascii"))
    else:
        out.write_bytes(document)
        typer.echo(f"Trust list written to {out}")


@keys_app.command("import-dsc")
def keys_import(
    cert: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="DER or PEM")],
) -> None:
    """Trust a foreign document signer certificate."""
    try:
        dsc, added = import_dsc(get_settings().keys_dir, cert.read_bytes())
    except (KeyFileError, CertificateError) as exc:
        raise _fail(str(exc)) from None
    clear_keyring_cache()
    what = "Imported" if added else "Already trusted:"
    typer.echo(f"{what} {dsc.kid.hex()} ({dsc.country or '--'}, usage {','.join(dsc.key_usage) or '-'})")


def _is_file(target: str) -> bool:
    try:
        return len(target) < 4096 and Path(target).is_file()
    except (OSError, ValueError):
        return False


def _print_result(result: ScanResult, as_json: bool) -> None:
    data = result.to_json_dict()
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    typer.echo(f"{'OK' if result.ok else 'FAILED (' + str(result.failure) + ')'}  {result.kind}: {result.detail}")
    for key in ("kid", "issuer", "cert_type", "iat", "exp"):
        if data[key] is not None:
            typer.echo(f"  {key}: {data[key]}")
    if result.payload:
        typer.echo(json.dumps(result.payload, ensure_ascii=False, indent=2))


@qr_app.command("verify")
def qr_verify(
    target: Annotated[str, typer.Argument(help="the scanned text, an image file, or - for stdin")],
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    clock: Annotated[str | None, typer.Option("--clock", help="validation time, ISO 8601 (default now)")] = None,
    trust: Annotated[list[Path] | None, typer.Option("--trust", help="also trust this DSC (DER/PEM)")] = None,
) -> None:
    """Recognise and verify a code: HC1 certificate, travel/green-lane pass, chip ID card QR."""
    try:
        at = parse_clock(clock) if clock else None
    except ValueError:
        raise typer.BadParameter(f"not an ISO 8601 time: {clock}", param_hint="--clock") from None
    extra: list[DSC] = []
    for path in trust or []:
        try:
            extra.append(DSC.load(path.read_bytes()))
        except (OSError, CertificateError) as exc:
            raise typer.BadParameter(f"{path}: {exc}", param_hint="--trust") from None
    keyring = get_keyring().with_extra(extra)
    if target == "-":
        result = scan(sys.stdin.read(), at, keyring=keyring)
    elif _is_file(target):
        result = scan_image(Path(target).read_bytes(), at, keyring=keyring)
    else:
        result = scan(target, at, keyring=keyring)
    _print_result(result, as_json)
    raise typer.Exit(0 if result.ok else 1)


@qr_app.command("decode")
def qr_decode(
    image: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="PNG/JPEG/WebP")],
) -> None:
    """Print the text of the QR code in an image."""
    try:
        typer.echo(decode_qr_image(image.read_bytes()))
    except CredentialFailure as failure:
        raise _fail(failure.detail) from None


@qr_app.command("render")
def qr_render(
    text: Annotated[str, typer.Argument(help="the text to encode, or - for stdin")],
    out: Annotated[Path, typer.Option("--out", help="FILE.svg or FILE.png")],
    scale: Annotated[int, typer.Option("--scale", min=1, max=40, help="pixels per module")] = 4,
) -> None:
    """Write a QR code (error correction Q, 4-module quiet zone) as SVG or PNG."""
    value = sys.stdin.read().strip() if text == "-" else text
    renderers = {".svg": render_svg, ".png": render_png}
    render = renderers.get(out.suffix.lower())
    if render is None:
        raise typer.BadParameter("the output must end in .svg or .png", param_hint="--out")
    out.write_bytes(render(value, scale))
    typer.echo(f"QR code written to {out}")


@qr_app.command("issue-test-hc1")
def qr_issue_test_hc1(
    family_name: Annotated[str, typer.Option("--family-name")] = "Nguyễn",
    given_name: Annotated[str, typer.Option("--given-name")] = "Văn An",
    dob: Annotated[str, typer.Option("--dob", help="YYYY-MM-DD")] = "1990-05-17",
    days: Annotated[int, typer.Option("--days", min=1, max=3650)] = 365,
    out: Annotated[Path | None, typer.Option("--out", help="also write the QR code (.svg/.png)")] = None,
) -> None:
    """Issue a sample vaccination certificate with our keys (for round-trip demos), print it."""
    now = datetime.now(UTC).replace(microsecond=0)
    payload = sample_vaccination(dcc_name(family_name, given_name), dob, now.date() - timedelta(days=30))
    try:
        text = issue_hc1(payload, keyring=get_keyring(), iat=now, exp=now + timedelta(days=days), cert_type="v")
    except DomainError as exc:  # no signing key, or a payload the schema rejects
        raise _fail(exc.message) from None
    typer.echo(text)
    if out is not None:
        qr_render(text, out)


def sample_vaccination(nam: dict[str, str], dob: str, on: date) -> dict[str, Any]:
    return {
        "ver": "1.3.0",
        "nam": nam,
        "dob": dob,
        "v": [
            {
                "tg": "840539006",
                "vp": "J07BX03",
                "mp": "EU/1/20/1528",
                "ma": "ORG-100030215",
                "dn": 2,
                "sd": 2,
                "dt": on.isoformat(),
                "co": "VN",
                "is": "Ministry of Health (dancu test)",
                "ci": f"URN:UVCI:01:VN:DANCU/TEST{secrets.token_hex(8).upper()}",
            }
        ],
    }
