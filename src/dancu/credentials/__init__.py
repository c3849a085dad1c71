"""Credentials: signed passes and health certificates that anyone with the public keys verifies offline.

Other domains call:

- `scan(text, clock=None, *, keyring=None) -> ScanResult` and `scan_image(data, ...)`: recognise and verify
  any scanned code (HC1, travel pass, green-lane pass, chip ID card QR); never raises.
- `issue_travel_pass(TravelPassClaims, *, keyring, now=None, hours=None) -> str` (`VNT1:...`),
  `issue_green_lane_pass(GreenLaneClaims, ...) -> str` (`VNG1:...`), `mask_name(full_name) -> str`.
- `issue_hc1(payload, *, keyring, iat, exp, cert_type) -> str` (`HC1:...`), `dcc_name(family, given)`.
- `get_keyring(settings=None) -> Keyring` (`signer_for(kind)`, `lookup(kid)`), `render_svg/render_png(text)`.

The HTTP router is `dancu.credentials.api.router`; the CLI apps are `dancu.credentials.cli.keys_app/qr_app`.
"""

from dancu.credentials.hc1 import dcc_name, icao_transliterate, issue_hc1, verify_hc1
from dancu.credentials.keys import Keyring, Signer, SigningUnavailable, get_keyring
from dancu.credentials.qrimage import decode_qr_image, render_png, render_svg
from dancu.credentials.results import FAILURES, KINDS, CredentialFailure, ScanResult
from dancu.credentials.scan import scan, scan_image
from dancu.credentials.travel_pass import (
    GreenLaneClaims,
    TravelPassClaims,
    issue_green_lane_pass,
    issue_travel_pass,
    mask_name,
    verify_pass,
)
from dancu.credentials.trust import TrustStore

__all__ = [
    "FAILURES",
    "KINDS",
    "CredentialFailure",
    "GreenLaneClaims",
    "Keyring",
    "ScanResult",
    "Signer",
    "SigningUnavailable",
    "TravelPassClaims",
    "TrustStore",
    "dcc_name",
    "decode_qr_image",
    "get_keyring",
    "icao_transliterate",
    "issue_green_lane_pass",
    "issue_hc1",
    "issue_travel_pass",
    "mask_name",
    "render_png",
    "render_svg",
    "scan",
    "scan_image",
    "verify_hc1",
    "verify_pass",
]
