"""Typed outcomes of decoding and verifying a scanned code.

Every stage of the pipeline raises `CredentialFailure` with one of the `FAILURES` codes; the scan entry
point turns it into a `ScanResult`. A result never says just "invalid": it names the check that failed.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

Failure = Literal[
    "prefix",
    "base45",
    "zlib",
    "cbor",
    "cose",
    "signature",
    "unknown_kid",
    "expired",
    "not_yet_valid",
    "key_usage",
    "schema",
    "format",
]
Kind = Literal["hc1", "travel_pass", "green_lane", "cccd", "ticket", "unrecognised"]
CertType = Literal["v", "t", "r"]

FAILURES: tuple[Failure, ...] = get_args(Failure)
KINDS: tuple[Kind, ...] = get_args(Kind)
CERT_TYPE_NAMES: dict[CertType, str] = {"v": "vaccination", "t": "test", "r": "recovery"}


class CredentialFailure(Exception):
    """A check failed: `code` says which one, `detail` says why, for a person to read."""

    def __init__(self, code: Failure, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code: Failure = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What a scan found. `payload` is shown even when a later check failed; trust it only when `ok`."""

    kind: Kind
    ok: bool
    failure: Failure | None
    detail: str
    payload: dict[str, Any] = field(default_factory=dict)
    kid: bytes | None = None
    issuer: str | None = None
    iat: datetime | None = None
    exp: datetime | None = None
    cert_type: CertType | None = None

    @classmethod
    def failed(cls, kind: Kind, code: Failure, detail: str, **extra: Any) -> ScanResult:
        return cls(kind=kind, ok=False, failure=code, detail=detail, **extra)

    def to_json_dict(self) -> dict[str, Any]:
        """The shape printed by `dancu qr verify --json` and returned by the verify endpoint."""
        return {
            "kind": self.kind,
            "ok": self.ok,
            "failure": self.failure,
            "detail": self.detail,
            "payload": self.payload,
            "kid": base64.b64encode(self.kid).decode("ascii") if self.kid is not None else None,
            "issuer": self.issuer,
            "iat": self.iat.isoformat() if self.iat else None,
            "exp": self.exp.isoformat() if self.exp else None,
            "cert_type": self.cert_type,
        }
