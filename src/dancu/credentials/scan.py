"""One entry point for whatever a checkpoint scanner reads: `scan(text) -> ScanResult`, never raising."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from dancu.credentials.cwt import TrustLookup
from dancu.credentials.hc1 import HC1_PREFIX, verify_hc1
from dancu.credentials.keys import get_keyring
from dancu.credentials.qrimage import decode_qr_image
from dancu.credentials.results import CredentialFailure, Kind, ScanResult
from dancu.credentials.travel_pass import GREEN_LANE_PREFIX, TRAVEL_PREFIX, verify_pass
from dancu.registry.cccd import CccdCard, CccdFormatError, parse_cccd_qr

log = logging.getLogger(__name__)

TICKET_PREFIX = "VNK1:"
# A QR code holds at most 7,089 characters (numeric mode); anything longer did not come from one.
MAX_SCAN_CHARS = 7_089
_PREFIXES: tuple[tuple[str, Kind], ...] = (
    (HC1_PREFIX, "hc1"),
    (TRAVEL_PREFIX, "travel_pass"),
    (GREEN_LANE_PREFIX, "green_lane"),
    (TICKET_PREFIX, "ticket"),
)


def kind_of(text: str) -> Kind:
    for prefix, kind in _PREFIXES:
        if text.startswith(prefix):
            return kind
    return "cccd" if "|" in text[:MAX_SCAN_CHARS] else "unrecognised"


def scan(text: str | bytes, clock: datetime | None = None, *, keyring: TrustLookup | None = None) -> ScanResult:
    """Recognise and verify a scanned code: HC1 certificate, travel or green-lane pass, chip ID card QR.

    `clock` is the validation time (default now; naive means UTC); `keyring` the trust to verify against
    (default: the process keyring). Every bad input gives a typed failure rather than an exception.
    """
    kind: Kind = "unrecognised"
    try:
        if isinstance(text, bytes | bytearray):
            text = _decode_bytes(bytes(text))
        # Leading whitespace and a scanner's line ending go; trailing spaces are Base45 digits and are
        # only dropped by the decoder when the exact text does not decode.
        text = text.lstrip().rstrip("\r\n\t\f\v\x00")
        kind = kind_of(text)
        return _scan(kind, text, clock, keyring)
    except Exception as exc:  # the last safety net: a scan must never take the caller down
        log.exception("unexpected error while scanning a %s code", kind)
        return ScanResult.failed(kind, "format", f"the code could not be read ({type(exc).__name__})")


def _scan(kind: Kind, text: str, clock: datetime | None, keyring: TrustLookup | None) -> ScanResult:
    if not text.strip():
        return ScanResult.failed("unrecognised", "format", "nothing was scanned (empty input)")
    if len(text) > MAX_SCAN_CHARS:
        return ScanResult.failed(kind, "format", f"too long for a QR code ({len(text):,} characters)")
    if kind == "unrecognised":
        return ScanResult.failed(kind, "prefix", f"unrecognised code starting {text[:20]!r}")
    if kind == "ticket":
        return ScanResult.failed(kind, "format", "dancu tickets are not supported yet")
    if kind == "cccd":
        return _scan_cccd(text)
    trust = keyring if keyring is not None else get_keyring()
    if kind == "hc1":
        return verify_hc1(text, trust=trust, clock=clock)
    return verify_pass(text, kind, trust=trust, clock=clock)


def _scan_cccd(text: str) -> ScanResult:
    try:
        card = parse_cccd_qr(_undo_latin1(text) or text)
    except CccdFormatError as exc:
        return ScanResult.failed("cccd", "format", exc.message)
    return ScanResult(
        kind="cccd",
        ok=True,
        failure=None,
        payload=_card_payload(card),
        detail="chip ID card QR read (it carries no signature: compare it with the card)",
    )


def _card_payload(card: CccdCard) -> dict[str, Any]:
    return {
        "national_id": card.national_id,
        "old_id": card.old_id,
        "full_name": card.full_name,
        "dob": card.dob.isoformat(),
        "sex": card.sex,
        "permanent_address": card.permanent_address,
        "issue_date": card.issue_date.isoformat(),
    }


def _undo_latin1(text: str) -> str | None:
    """UTF-8 bytes that a scanner passed on as Latin-1 characters ('Văn' arriving as 'VÄ\x83n'), repaired;
    None if the text is not that. Vietnamese text cannot be encoded as Latin-1, so it is never altered."""
    try:
        repaired = text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None
    return repaired if repaired != text else None


def _decode_bytes(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def scan_image(data: bytes, clock: datetime | None = None, *, keyring: TrustLookup | None = None) -> ScanResult:
    """Decode the QR code in a photo or screenshot, then `scan` its text. Never raises."""
    try:
        text = decode_qr_image(data)
    except CredentialFailure as failure:
        return ScanResult.failed("unrecognised", failure.code, failure.detail)
    except Exception as exc:  # the safety net, as in scan()
        log.exception("unexpected error while decoding a QR image")
        return ScanResult.failed("unrecognised", "format", f"the image could not be read ({type(exc).__name__})")
    return scan(text, clock, keyring=keyring)
